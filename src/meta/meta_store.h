// MetaStore: a key-value store with etcd v3 semantics (revisions, compare-and-set txns, leases, prefix watches
// resumable from a revision). Backends: EmbeddedStore (embedded_store.h) and EtcdStore (etcd_store.h); one
// conformance suite (tests/conformance_test.cc) runs against both. See README.md for the semantics in detail.
//
// Async model: every operation is a coroutine that runs on the caller's executor; any number may run at once, from
// any thread. Expected failures are values (Result / std::error_code with meta::Errc); nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

#include <asio/awaitable.hpp>

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

  // Conveniences over range().
  asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key, bool serializable = false);
};

// Checks a txn against the limits and etcd's rules before it is sent or applied: each of compares, success and
// failure at most max_ops; the request's approximate encoded size at most max_bytes; no key written twice in one
// branch (a put and an overlapping delete count too); no empty key.
std::error_code validate_txn(const TxnRequest& request, const TxnLimits& limits);

}  // namespace floe::meta
