// LeaseKeeper: keeps one granted lease alive and tells its owner promptly when the lease is in danger or lost.
//
// It sends a keep-alive every `interval` (TTL/3 by default) and tracks the lease's local deadline: the send time of
// the last successful keep-alive plus the TTL the store confirmed (the send time, not the answer's arrival, so the
// local deadline is never later than the server's expiry). States:
//   healthy   -> in_danger  a keep-alive failed, or none succeeded for `danger_fraction` of the TTL
//   in_danger -> healthy    a keep-alive succeeded again
//   any       -> lost       the store said lease_not_found (expired or revoked elsewhere), or the local deadline
//                           passed. Final: the owner must assume the lease's keys are gone and stop acting on them.
//   any       -> stopped    stop() (final; not reported as lost).
// The danger and deadline checks run on their own timer, so a keep-alive that hangs in the store never delays them.
// After a failed keep-alive the keeper retries with backoff (retry_min doubling up to `interval`), never more than
// one keep-alive in flight, until a keep-alive succeeds or the lease is lost: the number of attempts is bounded by
// the TTL. One attempt is bounded by the store's own request timeout (EtcdConfig::request_timeout: keep it below
// the TTL/3); the deadline does not wait for it.
//
// Owner contract: before acting on what the lease protects (e.g. a broker before each ack, after each fsync; see
// DESIGN.md §6) check `alive()` (or compare `deadline()` with the time of the action). State changes arrive through
// the callback (called on the keeper's strand: keep it short and non-blocking; it may call any member, including
// stop()) and through `changed()`. Nothing here blocks a thread. Await stop() (or destroy the keeper and wait for
// the in-flight keep-alive, bounded by the store's request timeout) before destroying the store.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "meta/meta_store.h"

namespace floe::meta {

enum class LeaseState { healthy, in_danger, lost, stopped };
const char* to_string(LeaseState state);

struct LeaseKeeperConfig {
  std::chrono::milliseconds interval{0};     // between successful keep-alives; 0: TTL/3
  double danger_fraction = 0.5;              // in_danger after this fraction of the TTL without a successful keep-alive
  std::chrono::milliseconds retry_min{50};   // first retry after a failed keep-alive; doubles up to `interval`
};

class LeaseKeeper {
 public:
  using Clock = std::chrono::steady_clock;
  // Called on every state change with the new state and its cause (Errc::lease_not_found, Errc::timeout when the
  // local deadline passed, the store's error for in_danger after a failure; empty for healthy and stopped).
  using Callback = std::function<void(LeaseState, std::error_code)>;

  // Starts keeping lease `lease_id` (granted with `ttl_seconds` as the store answered, at or after `granted_at`:
  // take the time before lease_grant) alive on `executor` (a strand of it). The first keep-alive goes out at once.
  // Errors: invalid_argument (id 0, TTL <= 0, danger_fraction outside (0, 1], negative interval or retry_min).
  static Result<std::unique_ptr<LeaseKeeper>> start(asio::any_io_executor executor, MetaStore& store, int64_t lease_id,
                                                    int64_t ttl_seconds, Clock::time_point granted_at,
                                                    LeaseKeeperConfig config = {}, Callback callback = {});
  // Stops without waiting (stop_async()); the in-flight keep-alive, if any, finishes in the background.
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  int64_t lease_id() const;
  // Thread-safe snapshots.
  LeaseState state() const;
  std::error_code error() const;     // cause of the last change to in_danger or lost
  Clock::time_point deadline() const;  // the lease is certainly alive on the server before this instant
  // True while the lease may be acted upon: not lost, not stopped, and `now` before the deadline.
  bool alive(Clock::time_point now = Clock::now()) const;

  // Completes when the state differs from `seen` (at once if it already does), with the new state. Any number of
  // waiters, on any executor.
  asio::awaitable<LeaseState> changed(LeaseState seen);

  // Requests the stop: no keep-alive is sent after this; the state becomes stopped (unless already lost). Thread-safe,
  // non-blocking, idempotent.
  void stop_async();
  // Stops, waits for the in-flight keep-alive (bounded by the store's request timeout), then, if `revoke`, revokes
  // the lease (its keys are deleted). Returns the revoke's error (lease_not_found when it had already expired).
  asio::awaitable<std::error_code> stop(bool revoke = false);

  struct Core;

 private:
  explicit LeaseKeeper(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::meta
