// Shared pieces of the objstore tests: an io_context on two threads and a bounded blocking wait on a coroutine.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

namespace floe::objstore::testing {

using namespace std::chrono_literals;

class Loop {
 public:
  Loop() : work_(io_.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Loop() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  // Runs the coroutine to its end; a coroutine still running after `limit` is a hang: fail and abort.
  template <typename T>
  T run(asio::awaitable<T> task, std::chrono::seconds limit = 60s) {
    auto future = asio::co_spawn(io_, std::move(task), asio::use_future);
    if (future.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "coroutine did not finish within " << limit.count() << " s";
      std::abort();
    }
    return future.get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

inline std::chrono::steady_clock::time_point in(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}

}  // namespace floe::objstore::testing
