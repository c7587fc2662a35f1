// Everything `floe serve` exposes beyond the Kafka listener's own figures (issue 8): scrape-time collectors over
// the storage layers' read-only stats, the object-store bytes-stored gauge, process figures, and the /v1/cluster
// source. main.cc creates one BrokerObservability after the admin server and keeps it until the io run ends.
//
// Both modes share the wiring: the same collectors over each mode's stores (process, object store, metadata store,
// stored bytes, partitions led, broker info, consumer-group lag). Embedded mode adds the file WAL's figures and
// SingleBrokerStatus; cluster mode adds ClusterObservability (cluster_observability.h: the object WAL, membership,
// partition ownership, controller and failover figures, its /v1/cluster source and the /readyz gate).
// Metric names and meanings: docs/metrics.md.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/cluster_status.h"
#include "app/group_lag.h"
#include "base/log2_histogram.h"
#include "metrics/metrics.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}
namespace floe::cluster {
class TopicCatalog;
}
namespace floe::stream {
class StreamStore;
}
namespace floe::kafka {
struct BrokerIdentity;
}
namespace floe::group {
class GroupCoordinator;
}

namespace floe::app {

struct EmbeddedStorage;
struct ClusterNode;
class ClusterObservability;

// One series of a histogram family from a power-of-two snapshot: le = 2^i * unit (unit 1e-6 for microsecond
// latencies, 1 for counts and bytes); the last bucket is +Inf.
void expose_log2_histogram(metrics::Exposition& e, metrics::Exposition::Labels labels,
                           const Log2HistogramSnapshot& snapshot, double unit);

// floe_objstore_*: requests, bytes, errors, retries and latency by operation (ObjectStore::stats()).
metrics::Registry::CollectorId add_object_store_collector(metrics::Registry& registry,
                                                          const objstore::ObjectStore& store);
// floe_wal_*: the file WAL's appends, group commits, fsync latency and pending bytes (FileWal::process_stats()).
metrics::Registry::CollectorId add_file_wal_collector(metrics::Registry& registry);
// floe_meta_*: metadata store requests and latency by operation (MetaStore::stats()).
metrics::Registry::CollectorId add_meta_store_collector(metrics::Registry& registry, const meta::MetaStore& meta);
// floe_log_*: the log cache's bytes and bound, uncommitted bytes, reads by source (cache hit ratio =
// reads{source="cache"} / all reads) and bytes read back from objects; floe_block_cache_*: the block cache's bytes,
// bound, lookups by result (hit ratio = lookups{result="hit"} / all lookups) and evictions; floe_read_ahead_*:
// read-ahead GETs, bytes and bytes in flight (StreamStore::cache_stats()).
metrics::Registry::CollectorId add_log_cache_collector(metrics::Registry& registry, const stream::StreamStore& streams);
// floe_compaction_*: the compaction backlog (small committed objects), objects merged and written, bytes read and
// rewritten, swaps by outcome, replaced objects deleted, stale block-map re-reads (StreamStore::compaction_stats()).
metrics::Registry::CollectorId add_compaction_collector(metrics::Registry& registry, const stream::StreamStore& streams);
// floe_process_*: start time, CPU seconds, resident memory.
metrics::Registry::CollectorId add_process_collector(metrics::Registry& registry);

// The bytes and objects in the object store that metadata references (committed segment objects), for
// floe_objstore_stored_bytes and the cost report's GB-month. Summed from the metadata keys <prefix><object key>,
// whose values carry each object's size (stream/object_ranges.h), so no billed LIST request is made. A scrape
// starts a refresh in the background (one at a time, each a paged range read of the prefix) when the figure is
// older than `max_age`, or when `generation` (the caller's count of writes that may change the stored set: completed
// metadata writes) moved and the figure is older than `min_interval`; the scrape shows the previous figure.
class StoredObjectsGauge {
 public:
  StoredObjectsGauge(asio::any_io_executor executor, meta::MetaStore& meta, std::string prefix,
                     std::chrono::milliseconds max_age, std::chrono::milliseconds min_interval);
  // Any thread.
  void refresh_if_stale(uint64_t generation);
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t objects() const { return objects_.load(std::memory_order_relaxed); }
  bool known() const { return refreshed_ns_.load(std::memory_order_relaxed) != 0; }
  // One refresh, awaited (tests); `generation` is what refresh_if_stale compares with next.
  asio::awaitable<void> refresh(uint64_t generation = 0);

 private:
  asio::any_io_executor executor_;
  meta::MetaStore& meta_;
  std::string prefix_;
  std::chrono::milliseconds max_age_;
  std::chrono::milliseconds min_interval_;
  std::atomic<bool> refreshing_{false};
  std::atomic<int64_t> refreshed_ns_{0};  // steady clock of the last successful refresh; 0: never
  std::atomic<uint64_t> refreshed_generation_{0};
  std::atomic<uint64_t> bytes_{0}, objects_{0};
};

// /v1/cluster of the single broker: itself as the only broker (state from readiness) and the leader of every
// partition of every topic, with this start's leader epoch and each partition's log start and high watermark.
class SingleBrokerStatus final : public admin::ClusterStatusSource {
 public:
  SingleBrokerStatus(const kafka::BrokerIdentity& identity, const admin::Readiness& readiness,
                     const cluster::TopicCatalog& catalog, const stream::StreamStore& streams, int32_t leader_epoch);
  admin::ClusterStatus cluster_status() const override;

 private:
  const kafka::BrokerIdentity& identity_;
  const admin::Readiness& readiness_;
  const cluster::TopicCatalog& catalog_;
  const stream::StreamStore& streams_;
  int32_t leader_epoch_;
};

// The stores both modes observe.
struct ObservedStores {
  meta::MetaStore& meta;
  objstore::ObjectStore& objects;
  cluster::TopicCatalog& catalog;
  stream::StreamStore& streams;
  group::GroupCoordinator& groups;
};

// The broker's wiring: every shared collector above over the mode's stores, floe_partitions_led, floe_broker_info,
// consumer-group lag (group_lag.h), /v1/cluster, and in cluster mode the cluster figures and the /readyz gate.
// Construct after `http` (and before the io threads run); destroy before the registry, the storage and `http` (it
// unregisters its collectors, the cluster source and the readiness gate).
class BrokerObservability {
 public:
  // Embedded mode.
  BrokerObservability(asio::io_context& io, metrics::Registry& registry, EmbeddedStorage& storage,
                      const kafka::BrokerIdentity& identity, const admin::Readiness& readiness,
                      admin::AdminServer& http);
  // Cluster mode: also sets `readiness`'s gate (registered and every partition assigned to this epoch open).
  BrokerObservability(asio::io_context& io, metrics::Registry& registry, ClusterNode& node,
                      const kafka::BrokerIdentity& identity, admin::ReadinessState& readiness,
                      admin::AdminServer& http);
  ~BrokerObservability();
  BrokerObservability(const BrokerObservability&) = delete;
  BrokerObservability& operator=(const BrokerObservability&) = delete;

 private:
  // The shared part; `cluster_node` is null in embedded mode.
  BrokerObservability(asio::io_context& io, metrics::Registry& registry, ObservedStores stores,
                      const kafka::BrokerIdentity& identity, admin::AdminServer& http, ClusterNode* cluster_node);

  metrics::Registry& registry_;
  admin::AdminServer& http_;
  admin::ReadinessState* gated_ = nullptr;  // cluster mode: the readiness whose gate this set
  StoredObjectsGauge stored_;
  GroupLagGauge group_lag_;
  std::unique_ptr<SingleBrokerStatus> single_status_;  // embedded mode
  std::unique_ptr<ClusterObservability> cluster_;      // cluster mode
  ClusterNode* cluster_node_;                          // cluster mode
  std::vector<metrics::Registry::CollectorId> collectors_;
};

}  // namespace floe::app
