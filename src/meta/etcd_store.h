// EtcdStore: the MetaStore on an etcd cluster, over etcd's v3 JSON gateway (HTTP/1.1 keep-alive through
// floe::http::Client; keys and values base64, int64 as JSON strings, defaults omitted). Paths under `/v3/`
// (etcd 3.4 and later; Debian 12 ships 3.4.23).
//
// Endpoints and failover: requests go to the endpoint that answered last. A read, a lease keep-alive or a watch that
// fails on the transport moves on to the next endpoint (each endpoint at most once per call). A write (put, delete,
// txn, compact, lease grant/revoke) moves on only when the connection was refused (nothing was sent); otherwise its
// outcome is unknown and the caller gets Errc::ambiguous (or Errc::timeout), never a silent retry that could apply
// a compare-and-set twice.
//
// Watches: one HTTP stream per watch (POST /v3/watch, newline-delimited JSON), run on a strand of the store's
// executor. A broken stream reconnects with exponential backoff (watch_backoff_min..max), rotating endpoints, and
// resumes at the revision after the last event it queued, so no event is lost or repeated. Events wait in a bounded
// queue (watch_queue_events); when it is full the stream is closed and reopened once the owner has drained half of
// it (the server holds the history meanwhile; a compaction in that window is reported as Errc::compacted).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "meta/meta_store.h"

namespace floe::meta {

struct EtcdConfig {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379" or "127.0.0.1:2379"
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds watch_backoff_min{50};
  std::chrono::milliseconds watch_backoff_max{2000};
  size_t watch_queue_events = 10'000;
  size_t max_connections_per_endpoint = 64;
  TxnLimits limits;
};

class EtcdStore final : public MetaStore {
 public:
  // Errors: invalid_argument (no endpoint, or one that does not parse). Connects lazily.
  static Result<std::unique_ptr<EtcdStore>> create(asio::any_io_executor executor, EtcdConfig config);
  ~EtcdStore() override;

  asio::awaitable<Result<RangeResponse>> range(RangeRequest request) override;
  asio::awaitable<Result<PutResponse>> put(PutRequest request) override;
  asio::awaitable<Result<DeleteResponse>> del(DeleteRequest request) override;
  asio::awaitable<Result<TxnResponse>> txn(TxnRequest request) override;
  asio::awaitable<Result<LeaseGrantResponse>> lease_grant(int64_t ttl_seconds, int64_t id = 0) override;
  asio::awaitable<Result<int64_t>> lease_keepalive(int64_t id) override;
  asio::awaitable<std::error_code> lease_revoke(int64_t id) override;
  asio::awaitable<std::error_code> compact(int64_t revision) override;
  std::unique_ptr<Watch> watch(WatchRequest request) override;
  void shutdown() override;
  MetaStatsSnapshot stats() const override;

  struct Core;

 private:
  explicit EtcdStore(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::meta
