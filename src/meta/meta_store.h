// MetaStore: a key-value store with etcd v3 semantics (revisions, compare-and-set txns, leases, prefix watches
// resumable from a revision). Backends: EmbeddedStore (embedded_store.h) and EtcdStore (etcd_store.h); one
// conformance suite (tests/conformance_test.cc) runs against both. See README.md for the semantics in detail.
//
// Async model: every operation is a coroutine that runs on the caller's executor; any number may run at once, from
// any thread. Expected failures are values (Result / std::error_code with meta::Errc); nothing throws.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>

#include "base/log2_histogram.h"
#include "meta/errors.h"
#include "meta/types.h"

namespace floe::meta {

// A prefix or range watch. Events arrive in revision order, each exactly once, also across reconnects (the etcd
// backend resumes from the revision after the last event it delivered). Destroy every Watch before its store.
class Watch {
 public:
  virtual ~Watch() = default;
  // The next events. Errors: compacted (the start or resume revision was compacted away; compact_revision() says
  // the oldest revision still available, so the owner can reload and watch again from there), cancelled (after
  // cancel()), closed (the store was shut down). After an error the watch is finished.
  virtual asio::awaitable<Result<WatchBatch>> next() = 0;
  // Ends the watch; a next() waiting now or later completes with Errc::cancelled. Thread-safe.
  virtual void cancel() = 0;
  virtual int64_t compact_revision() const = 0;
};

// Read-only request figures of a store, for metrics: requests and latency per operation, counted when the call
// completes (successfully or not). The embedded backend runs put and delete as one-op txns and counts them as txn.
enum class MetaOp { range, txn, put, del, count_ };
inline constexpr std::size_t kMetaOpCount = static_cast<std::size_t>(MetaOp::count_);
std::string_view meta_op_name(MetaOp op);

struct MetaStatsSnapshot {
  std::array<Log2HistogramSnapshot, kMetaOpCount> latency_us{};  // count() is the number of requests
  const Log2HistogramSnapshot& operator[](MetaOp op) const { return latency_us[static_cast<std::size_t>(op)]; }
};

class MetaStats {
 public:
  // Records the latency of one call from construction to destruction (the end of the coroutine that holds it).
  class Timer {
   public:
    Timer(MetaStats& stats, MetaOp op) : stats_(stats), op_(op), start_(std::chrono::steady_clock::now()) {}
    ~Timer() { stats_.latency_[static_cast<std::size_t>(op_)].record(std::chrono::steady_clock::now() - start_); }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

   private:
    MetaStats& stats_;
    MetaOp op_;
    std::chrono::steady_clock::time_point start_;
  };
  MetaStatsSnapshot snapshot() const {
    MetaStatsSnapshot s;
    for (std::size_t i = 0; i < kMetaOpCount; ++i) s.latency_us[i] = latency_[i].snapshot();
    return s;
  }

 private:
  std::array<Log2Histogram, kMetaOpCount> latency_{};
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;

  virtual asio::awaitable<Result<RangeResponse>> range(RangeRequest request) = 0;
  virtual asio::awaitable<Result<PutResponse>> put(PutRequest request) = 0;
  virtual asio::awaitable<Result<DeleteResponse>> del(DeleteRequest request) = 0;
  // Errors before anything runs: too_many_ops, request_too_large, duplicate_key, invalid_argument.
  virtual asio::awaitable<Result<TxnResponse>> txn(TxnRequest request) = 0;

  // A lease with `ttl_seconds` (> 0); id 0 lets the store choose.
  virtual asio::awaitable<Result<LeaseGrantResponse>> lease_grant(int64_t ttl_seconds, int64_t id = 0) = 0;
  // Renews the lease; returns its TTL in seconds. lease_not_found once it expired or was revoked.
  virtual asio::awaitable<Result<int64_t>> lease_keepalive(int64_t id) = 0;
  // Revokes the lease and deletes its keys (one revision).
  virtual asio::awaitable<std::error_code> lease_revoke(int64_t id) = 0;

  // Drops the history before `revision`: reads and watches at older revisions then fail with compacted.
  virtual asio::awaitable<std::error_code> compact(int64_t revision) = 0;

  virtual std::unique_ptr<Watch> watch(WatchRequest request) = 0;

  // Stops background work (watch streams, lease expiry) and fails what waits with Errc::closed. Idempotent.
  virtual void shutdown() = 0;

  // Request figures for metrics; a store that keeps none returns zeros.
  virtual MetaStatsSnapshot stats() const { return {}; }

  // Conveniences over range().
  asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key, bool serializable = false);
};

// Checks a txn against the limits and etcd's rules before it is sent or applied: each of compares, success and
// failure at most max_ops; the request's approximate encoded size at most max_bytes; no key written twice in one
// branch (a put and an overlapping delete count too); no empty key.
std::error_code validate_txn(const TxnRequest& request, const TxnLimits& limits);

}  // namespace floe::meta
