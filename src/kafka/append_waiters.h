// Fetch long-polling: a fetch that has less than min_bytes waits until new data becomes durable or its max wait
// ends. Waiters are bounded; when the bound is reached a fetch simply answers with what it has (no wait).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>

namespace floe::kafka {

class AppendWaiters {
 public:
  explicit AppendWaiters(size_t max_waiters = 10000) : max_waiters_(max_waiters) {}

  // The count of notify() calls so far: read it before looking for data, pass it to wait_until, and an append in
  // between is not missed.
  uint64_t epoch() const;

  // Completes at `deadline` or soon after a notify() later than `seen_epoch` (at once if one happened already),
  // whichever comes first; at once too when too many fetches wait. Runs on the calling coroutine's executor.
  asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline, uint64_t seen_epoch);

  // Wakes every waiting fetch (any thread).
  void notify();

  size_t waiting() const;

 private:
  size_t max_waiters_;
  mutable std::mutex mu_;
  uint64_t epoch_ = 0;
  std::list<std::weak_ptr<asio::steady_timer>> timers_;
};

}  // namespace floe::kafka
