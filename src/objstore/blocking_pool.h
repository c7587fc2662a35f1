// A bounded thread pool for blocking calls (fsync, file I/O) with an async adapter, so network threads never block.
// Threads: fixed at construction. Queue: at most `max_queued` jobs waiting; beyond that run() completes at once with
// Errc::busy. A job whose deadline passed or whose caller cancelled before a thread picked it up does not run
// (Errc::timed_out / Errc::cancelled); a job that started runs to its end (a syscall cannot be interrupted).
// stop() (also the destructor) finishes queued jobs as Errc::cancelled and joins the threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "objstore/errors.h"

namespace floe::objstore {

class BlockingPool {
 public:
  using Clock = std::chrono::steady_clock;

  BlockingPool(std::size_t threads, std::size_t max_queued);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void stop();

  // Runs fn() (returning Result<T>) on a pool thread; resumes the caller on its own executor.
  template <typename T, typename Fn>
  asio::awaitable<Result<T>> run(Fn fn, Clock::time_point deadline) {
    auto initiation = [this, deadline](auto handler, Fn f) { this->start<T>(std::move(handler), std::move(f), deadline); };
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<T>)>(std::move(initiation),
                                                                                 asio::use_awaitable, std::move(fn));
  }

 private:
  struct Job {
    std::atomic<bool> cancelled{false};
    Clock::time_point deadline;
    std::function<void(std::error_code)> run;  // skip reason, or {} to do the work
  };

  template <typename T, typename Handler, typename Fn>
  void start(Handler handler, Fn fn, Clock::time_point deadline) {
    auto job = std::make_shared<Job>();
    job->deadline = deadline;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      // Only marks the job: a queued job is then skipped; the handler always completes through the pool.
      slot.assign([weak = std::weak_ptr<Job>(job)](asio::cancellation_type_t) {
        if (auto j = weak.lock()) j->cancelled = true;
      });
    }
    auto work = asio::make_work_guard(asio::get_associated_executor(handler));
    // std::function needs a copyable callable: keep the move-only handler behind a shared_ptr.
    auto state = std::make_shared<std::pair<Handler, Fn>>(std::move(handler), std::move(fn));
    job->run = [state, work](std::error_code skip) mutable {
      Result<T> result = skip ? Result<T>(skip) : state->second();
      auto ex = work.get_executor();
      // The work guard travels with the completion: resetting it here, after the post, could touch an io_context
      // that the completion let finish and be destroyed in the meantime.
      asio::post(ex, [state, result = std::move(result), work = std::move(work)]() mutable {
        auto s = asio::get_associated_cancellation_slot(state->first);
        if (s.is_connected()) s.clear();
        std::move(state->first)(std::move(result));
        work.reset();
      });
    };
    if (!enqueue(job)) job->run(make_error_code(Errc::busy));
  }

  bool enqueue(std::shared_ptr<Job> job);
  void worker();

  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace floe::objstore
