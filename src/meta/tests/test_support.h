// Test support for MetaStore suites: an io_context run by two threads, and a blocking runner for coroutines with a
// timeout (a hung coroutine fails the test instead of hanging ctest).
#pragma once

#include <chrono>
#include <future>
#include <optional>
#include <type_traits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

namespace floe::meta::testing {

class IoThreads {
 public:
  explicit IoThreads(int n = 2) : work_(asio::make_work_guard(io_)) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() { stop(); }
  void stop() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  asio::io_context& io() { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  // Runs the coroutine on the io threads and waits for its result; throws std::runtime_error after `timeout`.
  template <typename T>
  T run(asio::awaitable<T> aw, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if constexpr (std::is_void_v<T>) {
      auto future = asio::co_spawn(io_, std::move(aw), asio::use_future);
      if (future.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("coroutine timed out");
      future.get();
    } else {
      // co_spawn wants a default-constructible result; Result<T> is not.
      auto future = asio::co_spawn(io_, wrap(std::move(aw)), asio::use_future);
      if (future.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("coroutine timed out");
      return std::move(*future.get());
    }
  }

 private:
  template <typename T>
  static asio::awaitable<std::optional<T>> wrap(asio::awaitable<T> aw) {
    co_return co_await std::move(aw);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace floe::meta::testing
