#include "kafka/append_waiters.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "metrics/metrics.h"

namespace floe::kafka {

AppendWaiters::AppendWaiters(metrics::Registry* registry, size_t max_waiters) : max_waiters_(max_waiters) {
  if (registry) {
    wake_latency_ = &registry
                         ->histogram("floe_kafka_fetch_wake_duration_seconds",
                                     "Time from an append becoming durable to a Fetch parked in its long poll "
                                     "running again (the broker's share of the durable-to-consumer latency before "
                                     "the response is built)",
                                     {}, metrics::latency_buckets())
                         .get();
  }
}

uint64_t AppendWaiters::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

asio::awaitable<bool> AppendWaiters::wait_until(std::chrono::steady_clock::time_point deadline, uint64_t seen_epoch) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, deadline);
  std::list<std::weak_ptr<Waiter>>::iterator self;
  {
    std::lock_guard lock(mu_);
    if (epoch_ != seen_epoch) co_return true;
    if (waiters_.size() >= max_waiters_) co_return false;
    self = waiters_.insert(waiters_.end(), waiter);
  }
  std::error_code ec;
  co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::chrono::steady_clock::time_point woken;
  {
    std::lock_guard lock(mu_);
    waiters_.erase(self);
    woken = waiter->woken;
  }
  if (woken == std::chrono::steady_clock::time_point{}) co_return false;  // the deadline
  if (wake_latency_) wake_latency_->observe(std::chrono::steady_clock::now() - woken);
  co_return true;
}

void AppendWaiters::notify() {
  std::lock_guard lock(mu_);
  ++epoch_;
  if (waiters_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  for (auto& weak : waiters_) {
    std::shared_ptr<Waiter> waiter = weak.lock();
    if (!waiter || waiter->woken != std::chrono::steady_clock::time_point{}) continue;  // gone, or already posted
    waiter->woken = now;
    // A timer is not thread-safe: cancel it on its own executor.
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
  }
}

size_t AppendWaiters::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace floe::kafka
