#include "kafka/append_waiters.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::kafka {

uint64_t AppendWaiters::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

asio::awaitable<void> AppendWaiters::wait_until(std::chrono::steady_clock::time_point deadline, uint64_t seen_epoch) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
  std::list<std::weak_ptr<asio::steady_timer>>::iterator self;
  {
    std::lock_guard lock(mu_);
    if (epoch_ != seen_epoch || timers_.size() >= max_waiters_) co_return;
    self = timers_.insert(timers_.end(), timer);
  }
  std::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(mu_);
  timers_.erase(self);
}

void AppendWaiters::notify() {
  std::lock_guard lock(mu_);
  ++epoch_;
  for (auto& weak : timers_) {
    if (auto timer = weak.lock()) {
      // A timer is not thread-safe: cancel it on its own executor.
      asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
  }
}

size_t AppendWaiters::waiting() const {
  std::lock_guard lock(mu_);
  return timers_.size();
}

}  // namespace floe::kafka
