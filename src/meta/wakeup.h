// Wakeup: a coroutine parks in wait() until notify(), which may come from any thread. One notification is kept when
// nobody waits, so a notify() between "checked the condition" and "started waiting" is never lost; waiters re-check
// their condition after every wake-up (wake-ups may be spurious or coalesced). One waiter at a time.
#pragma once

#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::meta::detail {

class Wakeup {
 public:
  explicit Wakeup(const asio::any_io_executor& executor) : channel_(executor, 1) {}

  void notify() { channel_.try_send(std::error_code{}, 0); }

  asio::awaitable<void> wait() {
    std::error_code ec;
    (void)co_await channel_.async_receive(asio::redirect_error(asio::use_awaitable, ec));
  }

 private:
  asio::experimental::concurrent_channel<void(std::error_code, int)> channel_;  // (asio 1.22: a lone error_code signature is ambiguous)
};

}  // namespace floe::meta::detail
