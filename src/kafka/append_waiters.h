// Fetch long-polling: a fetch that has less than min_bytes waits until new data becomes durable or its max wait
// ends. Waiters are bounded; when the bound is reached a fetch simply answers with what it has (no wait).
//
// notify() is called the moment an append becomes durable (StreamStore's durable listener, on the WAL's thread),
// so a parked fetch is one hand-off (a post to its connection's strand) away from the data, whichever connection
// produced it. The time from that notify() to the fetch running again is the wake latency, exported as
//   floe_kafka_fetch_wake_duration_seconds   (histogram; one observation per parked fetch woken by an append)
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>

namespace floe::metrics {
class Histogram;
class Registry;
}  // namespace floe::metrics

namespace floe::kafka {

class AppendWaiters {
 public:
  // `registry` (may be null: no metrics) gets floe_kafka_fetch_wake_duration_seconds.
  explicit AppendWaiters(metrics::Registry* registry = nullptr, size_t max_waiters = 10000);

  // The count of notify() calls so far: read it before looking for data, pass it to wait_until, and an append in
  // between is not missed.
  uint64_t epoch() const;

  // Completes at `deadline` or soon after a notify() later than `seen_epoch` (at once if one happened already),
  // whichever comes first; at once too when too many fetches wait. Runs on the calling coroutine's executor.
  // True when a notify() ended the wait (then the wake latency was recorded if it had parked).
  asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline, uint64_t seen_epoch);

  // Wakes every waiting fetch (any thread). Cheap when nobody waits; a waiter already woken is not posted to again.
  void notify();

  size_t waiting() const;

 private:
  struct Waiter {
    Waiter(const asio::any_io_executor& ex, std::chrono::steady_clock::time_point deadline) : timer(ex, deadline) {}
    asio::steady_timer timer;                      // touched on its own executor only
    std::chrono::steady_clock::time_point woken{};  // guarded by mu_: the first notify() since it parked
  };

  size_t max_waiters_;
  metrics::Histogram* wake_latency_ = nullptr;
  mutable std::mutex mu_;
  uint64_t epoch_ = 0;
  std::list<std::weak_ptr<Waiter>> waiters_;
};

}  // namespace floe::kafka
