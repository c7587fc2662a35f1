// Wake-up for coroutines that wait for a condition owned by one strand (a condition variable without a mutex).
#pragma once

#include <chrono>
#include <system_error>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::net::detail {

// Use from one strand only. A waiter re-checks its condition after every wake-up (wake-ups may be spurious), and
// notify() with no waiter is a no-op. No wake-up is lost: checking the condition and starting the wait happen in one
// strand step, and notify() runs in another.
class Notifier {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Notifier(const asio::any_io_executor& executor) : timer_(executor, Clock::time_point::max()) {}

  // Completes at the next notify() (or cancel()).
  asio::awaitable<void> wait() { return wait_until(Clock::time_point::max()); }

  // Completes at the next notify() or at `deadline`, whichever is first.
  asio::awaitable<void> wait_until(Clock::time_point deadline) {
    timer_.expires_at(deadline);  // also wakes a previous waiter, if any: it re-checks and waits again
    std::error_code ec;  // operation_aborted is the normal wake-up, not an error
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace floe::net::detail
