// EmbeddedStore: the MetaStore of a single process, with etcd's semantics (revisions, txns, leases, watches) and
// durability: every write is journaled (journal.h) and fdatasync'ed before it is acknowledged or becomes visible to
// reads and watches, so after kill -9 every acknowledged write is present. A snapshot is written every
// `snapshot_bytes` of journal, after which older journal files are deleted.
//
// Executors: operations run on the caller's executor and take a mutex for short, non-blocking critical sections.
// Writes and fsyncs run on one dedicated thread (the sync pool; group commit: every fsync covers all writes queued
// while the previous one ran), never on a network thread. Lease expiry runs on the executor given to open(), every
// lease_check_interval. Leases survive a restart with their full TTL (as in etcd after a leader change).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>

#include "meta/meta_store.h"

namespace floe::meta {

struct EmbeddedConfig {
  std::string dir;                                     // created if missing; locked against a second process
  size_t max_history_events = 100'000;                 // events kept for older reads and watches (older: compacted)
  uint64_t snapshot_bytes = 64ull << 20;               // journal bytes between snapshots
  size_t max_pending_bytes = 16u << 20;                // journal bytes waiting for fsync before writers wait
  std::chrono::milliseconds lease_check_interval{100};
  size_t watch_batch_events = 1000;                    // at most about this many events per Watch::next()
  TxnLimits limits;
};

class EmbeddedStore final : public MetaStore {
 public:
  // Recovers the directory's snapshot and journal (blocking: call at start-up, not on a network thread). Errors:
  // locked, corrupt, or the system error of a failed file operation.
  static Result<std::unique_ptr<EmbeddedStore>> open(asio::any_io_executor executor, EmbeddedConfig config);
  ~EmbeddedStore() override;

  asio::awaitable<Result<RangeResponse>> range(RangeRequest request) override;
  asio::awaitable<Result<PutResponse>> put(PutRequest request) override;
  asio::awaitable<Result<DeleteResponse>> del(DeleteRequest request) override;
  asio::awaitable<Result<TxnResponse>> txn(TxnRequest request) override;
  asio::awaitable<Result<LeaseGrantResponse>> lease_grant(int64_t ttl_seconds, int64_t id = 0) override;
  asio::awaitable<Result<int64_t>> lease_keepalive(int64_t id) override;
  asio::awaitable<std::error_code> lease_revoke(int64_t id) override;
  asio::awaitable<std::error_code> compact(int64_t revision) override;
  std::unique_ptr<Watch> watch(WatchRequest request) override;
  // Waits for the sync thread to finish what was queued (one fsync at most), then fails what still waits.
  void shutdown() override;
  MetaStatsSnapshot stats() const override;

  struct Core;

 private:
  explicit EmbeddedStore(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::meta
