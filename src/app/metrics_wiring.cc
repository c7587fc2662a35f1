#include "app/metrics_wiring.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "app/cluster_node.h"
#include "app/cluster_observability.h"
#include "app/embedded_storage.h"
#include "kafka/cluster_leadership.h"
#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "group/coordinator.h"
#include "kafka/broker_identity.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "stream/file_wal.h"
#include "stream/object_ranges.h"
#include "stream/stream_store.h"

namespace floe::app {
namespace {

using metrics::Type;

constexpr std::string_view kLog = "metrics";

// le bounds 2^0 .. 2^(kLog2Buckets - 2) units; the last bucket is +Inf.
std::array<double, kLog2Buckets - 1> log2_bounds(double unit) {
  std::array<double, kLog2Buckets - 1> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::ldexp(unit, static_cast<int>(i));
  return b;
}

double as_double(uint64_t v) { return static_cast<double>(v); }

// The kernel's start time of this process: /proc/self/stat field 22 (clock ticks after boot) plus btime from
// /proc/stat. Falls back to the first call's time (during start-up) where /proc says nothing usable.
double read_process_start_seconds() {
  double boot = 0, ticks = 0;
  if (std::FILE* f = std::fopen("/proc/stat", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      unsigned long long v = 0;
      if (std::sscanf(line, "btime %llu", &v) == 1) boot = static_cast<double>(v);
    }
    std::fclose(f);
  }
  if (std::FILE* f = std::fopen("/proc/self/stat", "r")) {
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // Fields after the command name (which may hold spaces) start after the last ')': state is field 3.
    if (const char* p = std::strrchr(buf, ')')) {
      unsigned long long start = 0;
      int field = 2;
      for (const char* q = p + 1; *q && field < 22; ++q) {
        if (*q == ' ' && ++field == 22) start = std::strtoull(q + 1, nullptr, 10);
      }
      ticks = static_cast<double>(start);
    }
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const long hz = ::sysconf(_SC_CLK_TCK);
  // btime has whole seconds and the wall clock may have been stepped since boot: never report a future start.
  if (boot > 0 && ticks > 0 && hz > 0) return std::min(now, boot + ticks / static_cast<double>(hz));
  return now;
}

double process_start_seconds() {
  static const double start = read_process_start_seconds();
  return start;
}

}  // namespace

void expose_log2_histogram(metrics::Exposition& e, metrics::Exposition::Labels labels,
                           const Log2HistogramSnapshot& s, double unit) {
  const auto bounds = log2_bounds(unit);
  e.histogram(labels, bounds, s.buckets, as_double(s.sum) * unit);
}

metrics::Registry::CollectorId add_object_store_collector(metrics::Registry& registry,
                                                          const objstore::ObjectStore& store) {
  return registry.add_collector([&store](metrics::Exposition& e) {
    const objstore::StatsSnapshot s = store.stats();
    struct Field {
      const char* name;
      const char* help;
      uint64_t objstore::OpSnapshot::*value;
    };
    static constexpr Field kFields[] = {
        {"floe_objstore_requests_total", "Object store requests by operation (each billed HTTP request once)",
         &objstore::OpSnapshot::requests},
        {"floe_objstore_errors_total", "Object store calls that failed, by operation",
         &objstore::OpSnapshot::errors},
        {"floe_objstore_retries_total", "Object store request retries, by operation", &objstore::OpSnapshot::retries},
        {"floe_objstore_sent_bytes_total", "Bytes sent to the object store (request bodies), by operation",
         &objstore::OpSnapshot::bytes_sent},
        {"floe_objstore_received_bytes_total", "Bytes received from the object store (response bodies), by operation",
         &objstore::OpSnapshot::bytes_received},
    };
    for (const Field& f : kFields) {
      e.family(f.name, f.help, Type::counter);
      for (std::size_t i = 0; i < objstore::kOpCount; ++i) {
        const auto op = static_cast<objstore::Op>(i);
        e.sample({{"op", objstore::op_name(op)}}, as_double(s[op].*f.value));
      }
    }
    e.family("floe_objstore_request_duration_seconds", "Object store request latency, by operation",
             Type::histogram);
    for (std::size_t i = 0; i < objstore::kOpCount; ++i) {
      const auto op = static_cast<objstore::Op>(i);
      Log2HistogramSnapshot h;
      h.buckets = s[op].latency;
      h.sum = s[op].latency_sum_us;
      expose_log2_histogram(e, {{"op", objstore::op_name(op)}}, h, 1e-6);
    }
  });
}

metrics::Registry::CollectorId add_file_wal_collector(metrics::Registry& registry) {
  return registry.add_collector([](metrics::Exposition& e) {
    const stream::FileWalStatsSnapshot s = stream::FileWal::process_stats();
    e.family("floe_wal_appends_total", "File WAL appends accepted", Type::counter);
    e.sample({}, as_double(s.appends));
    e.family("floe_wal_append_bytes_total", "Payload bytes of the file WAL appends accepted", Type::counter);
    e.sample({}, as_double(s.append_bytes));
    e.family("floe_wal_appends_refused_total", "File WAL appends refused (back-pressure, too large, closed, failed)",
             Type::counter);
    e.sample({}, as_double(s.refused));
    e.family("floe_wal_syncs_total", "File WAL fdatasync group commits", Type::counter);
    e.sample({}, as_double(s.syncs));
    e.family("floe_wal_pending_bytes", "File WAL bytes appended and not yet durable (buffered, written or syncing)",
             Type::gauge);
    e.sample({}, as_double(s.pending_bytes));
    e.family("floe_wal_append_duration_seconds", "File WAL append latency, from append to durable", Type::histogram);
    expose_log2_histogram(e, {}, s.append_latency_us, 1e-6);
    e.family("floe_wal_sync_duration_seconds", "File WAL fdatasync latency, per group commit", Type::histogram);
    expose_log2_histogram(e, {}, s.sync_latency_us, 1e-6);
    e.family("floe_wal_group_commit_appends", "Appends made durable by one group commit", Type::histogram);
    expose_log2_histogram(e, {}, s.sync_entries, 1);
    e.family("floe_wal_group_commit_bytes", "Bytes made durable by one group commit", Type::histogram);
    expose_log2_histogram(e, {}, s.sync_bytes, 1);
  });
}

metrics::Registry::CollectorId add_meta_store_collector(metrics::Registry& registry, const meta::MetaStore& store) {
  return registry.add_collector([&store](metrics::Exposition& e) {
    const meta::MetaStatsSnapshot s = store.stats();
    e.family("floe_meta_requests_total", "Metadata store requests completed, by operation", Type::counter);
    for (std::size_t i = 0; i < meta::kMetaOpCount; ++i) {
      const auto op = static_cast<meta::MetaOp>(i);
      e.sample({{"op", meta::meta_op_name(op)}}, as_double(s[op].count()));
    }
    e.family("floe_meta_request_duration_seconds", "Metadata store request latency (txn: compare-and-set), by operation",
             Type::histogram);
    for (std::size_t i = 0; i < meta::kMetaOpCount; ++i) {
      const auto op = static_cast<meta::MetaOp>(i);
      expose_log2_histogram(e, {{"op", meta::meta_op_name(op)}}, s[op], 1e-6);
    }
  });
}

metrics::Registry::CollectorId add_process_collector(metrics::Registry& registry) {
  const double start_s = process_start_seconds();
  return registry.add_collector([start_s](metrics::Exposition& e) {
    e.family("floe_process_start_time_seconds", "Start time of the process, in seconds since the Unix epoch",
             Type::gauge);
    e.sample({}, std::floor(start_s * 100) / 100);  // clock ticks: 10 ms
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) == 0) {
      const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
      e.family("floe_process_cpu_seconds_total", "User and system CPU time of the process", Type::counter);
      e.sample({}, cpu);
    }
    // /proc/self/statm: size resident ... in pages.
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      unsigned long size = 0, resident = 0;
      if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) {
        e.family("floe_process_resident_memory_bytes", "Resident memory of the process", Type::gauge);
        e.sample({}, static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
      }
      std::fclose(f);
    }
  });
}

// ---- StoredObjectsGauge ----------------------------------------------------------------------------------------

StoredObjectsGauge::StoredObjectsGauge(asio::any_io_executor executor, meta::MetaStore& meta, std::string prefix,
                                       std::chrono::milliseconds max_age, std::chrono::milliseconds min_interval)
    : executor_(std::move(executor)),
      meta_(meta),
      prefix_(std::move(prefix)),
      max_age_(max_age),
      min_interval_(min_interval) {}

void StoredObjectsGauge::refresh_if_stale(uint64_t generation) {
  const int64_t last = refreshed_ns_.load(std::memory_order_relaxed);
  const int64_t age = std::chrono::steady_clock::now().time_since_epoch().count() - last;
  const bool changed = generation != refreshed_generation_.load(std::memory_order_relaxed);
  const bool due = last == 0 || age >= std::chrono::nanoseconds(max_age_).count() ||
                   (changed && age >= std::chrono::nanoseconds(min_interval_).count());
  if (!due || refreshing_.exchange(true)) return;
  auto work = refresh(generation);
  asio::co_spawn(executor_, std::move(work), asio::detached);
}

asio::awaitable<void> StoredObjectsGauge::refresh(uint64_t generation) {
  refreshing_.store(true);
  constexpr int64_t kPage = 1000;  // keys per range read: bounds the memory of one refresh
  uint64_t bytes = 0, objects = 0;
  meta::RangeRequest request;
  request.key = prefix_;
  request.range_end = meta::prefix_end(prefix_);
  request.limit = kPage;
  request.serializable = true;  // a gauge: a lagging member is fine
  for (;;) {
    auto page = co_await meta_.range(request);
    if (!page) {
      log::debug(kLog, "stored objects: cannot read ", prefix_, ": ", page.error().message());
      refreshing_.store(false);
      co_return;
    }
    for (const meta::KeyValue& kv : page->kvs) {
      const std::string_view object_key = std::string_view(kv.key).substr(prefix_.size());
      auto ranges = stream::decode_object_ranges(object_key, kv.value);
      if (!ranges) continue;  // not ours to judge here; the stream store reports bad records
      bytes += ranges->object_size;
      ++objects;
    }
    if (!page->more || page->kvs.empty()) break;
    request.key = page->kvs.back().key + '\0';  // the next key after the last one read
    // Pin the pages to the first page's revision so that one refresh sees one consistent state.
    if (request.revision == 0) request.revision = page->revision;
  }
  bytes_.store(bytes, std::memory_order_relaxed);
  objects_.store(objects, std::memory_order_relaxed);
  refreshed_generation_.store(generation, std::memory_order_relaxed);
  refreshed_ns_.store(std::max<int64_t>(1, std::chrono::steady_clock::now().time_since_epoch().count()),
                      std::memory_order_relaxed);
  refreshing_.store(false);
}

// ---- SingleBrokerStatus ----------------------------------------------------------------------------------------

SingleBrokerStatus::SingleBrokerStatus(const kafka::BrokerIdentity& identity, const admin::Readiness& readiness,
                                       const cluster::TopicCatalog& catalog, const stream::StreamStore& streams,
                                       int32_t leader_epoch)
    : identity_(identity), readiness_(readiness), catalog_(catalog), streams_(streams), leader_epoch_(leader_epoch) {}

admin::ClusterStatus SingleBrokerStatus::cluster_status() const {
  admin::ClusterStatus s;
  s.cluster_id = identity_.cluster_id;
  s.mode = "single-broker";
  s.self = identity_.node_id;
  std::string why_not;
  const bool ready = readiness_.ready(why_not);
  s.brokers.push_back({identity_.node_id, identity_.advertised_host, identity_.advertised_port, identity_.rack,
                       ready ? std::string("ready") : why_not});
  std::vector<cluster::TopicInfo> topics = catalog_.list();
  std::sort(topics.begin(), topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const cluster::TopicInfo& t : topics) {
    for (int32_t p = 0; p < t.partitions; ++p) {
      const stream::StreamEnds ends = streams_.ends(cluster::stream_id_of(t.id, p));
      s.partitions.push_back({t.name, p, identity_.node_id, leader_epoch_, ends.start, ends.durable});
    }
  }
  return s;
}

// ---- BrokerObservability ---------------------------------------------------------------------------------------

namespace {

// The metadata prefix of the committed-object records: the stream store's default root (embedded_storage.cc opens
// the streams with the same "/floe/" root) + "objects/" (stream_store.h).
std::string objects_meta_prefix() { return stream::StreamStoreConfig{}.meta_root + "objects/"; }

constexpr std::chrono::milliseconds kGroupLagMinInterval{1000};
constexpr std::size_t kGroupLagMaxSeries = 2000;
constexpr std::chrono::seconds kStoredObjectsMaxAge{60};        // catches other brokers' changes (cluster mode)
constexpr std::chrono::milliseconds kStoredObjectsMinInterval{1000};  // after this broker's own metadata writes

// Completed metadata writes: an object's record is committed (or removed) by one, counted once it is visible, so a
// refresh that starts after the count moved sees the change.
uint64_t stored_set_generation(const meta::MetaStore& meta) {
  const meta::MetaStatsSnapshot s = meta.stats();
  return s[meta::MetaOp::txn].count() + s[meta::MetaOp::put].count() + s[meta::MetaOp::del].count();
}

}  // namespace

metrics::Registry::CollectorId add_log_cache_collector(metrics::Registry& registry,
                                                      const stream::StreamStore& streams) {
  return registry.add_collector([&streams](metrics::Exposition& e) {
    using metrics::Type;
    const stream::StreamStore::CacheStats c = streams.cache_stats();
    e.family("floe_log_cache_bytes", "Committed batches kept in memory for tail reads", Type::gauge);
    e.sample({}, static_cast<double>(c.cached_committed_bytes));
    e.family("floe_log_cache_limit_bytes", "The log cache's bound (log.cache.bytes)", Type::gauge);
    e.sample({}, static_cast<double>(c.limit_bytes));
    e.family("floe_log_uncommitted_bytes", "Durable data not yet committed to objects (held in memory)", Type::gauge);
    e.sample({}, static_cast<double>(c.uncommitted_bytes));
    e.family("floe_log_reads_total", "Partition log reads, by where they were served from", Type::counter);
    e.sample({{"source", "cache"}}, static_cast<double>(c.cache_reads));
    e.sample({{"source", "objects"}}, static_cast<double>(c.object_reads));
    e.family("floe_log_object_read_bytes_total", "Bytes of committed blocks read back from the object store",
             Type::counter);
    e.sample({}, static_cast<double>(c.object_read_bytes));
    const stream::BlockReader::Stats& b = c.blocks;
    e.family("floe_block_cache_bytes", "Committed blocks read back from objects, kept in memory", Type::gauge);
    e.sample({}, static_cast<double>(b.cache.bytes));
    e.family("floe_block_cache_limit_bytes", "The block cache's bound (block.cache.bytes)", Type::gauge);
    e.sample({}, static_cast<double>(b.cache.capacity));
    e.family("floe_block_cache_lookups_total", "Block cache lookups of reads that missed the log cache, by result",
             Type::counter);
    e.sample({{"result", "hit"}}, static_cast<double>(b.cache.hits));
    e.sample({{"result", "miss"}}, static_cast<double>(b.cache.misses));
    e.family("floe_block_cache_evictions_total", "Blocks dropped to keep the block cache within its bound",
             Type::counter);
    e.sample({}, static_cast<double>(b.cache.evictions));
    e.family("floe_read_ahead_gets_total", "Background read-ahead GETs, by outcome", Type::counter);
    e.sample({{"outcome", "ok"}}, static_cast<double>(b.ahead_gets));
    e.sample({{"outcome", "failed"}}, static_cast<double>(b.ahead_failures));
    e.family("floe_read_ahead_bytes_total", "Bytes fetched ahead of sequential readers", Type::counter);
    e.sample({}, static_cast<double>(b.ahead_bytes));
    e.family("floe_read_ahead_inflight_bytes", "Read-ahead bytes being fetched now (bounded)", Type::gauge);
    e.sample({}, static_cast<double>(b.ahead_inflight_bytes));
  });
}

metrics::Registry::CollectorId add_compaction_collector(metrics::Registry& registry,
                                                       const stream::StreamStore& streams) {
  return registry.add_collector([&streams](metrics::Exposition& e) {
    using metrics::Type;
    const stream::StreamStore::CompactionStats c = streams.compaction_stats();
    e.family("floe_compaction_backlog_objects",
             "Committed objects below half of compaction.target.bytes, waiting to be compacted (as of the last pass)",
             Type::gauge);
    e.sample({}, static_cast<double>(c.backlog_objects));
    e.family("floe_compaction_backlog_bytes", "Bytes of those objects", Type::gauge);
    e.sample({}, static_cast<double>(c.backlog_bytes));
    e.family("floe_compaction_committed_objects", "Committed objects in metadata (as of the last pass)", Type::gauge);
    e.sample({}, static_cast<double>(c.committed_objects));
    e.family("floe_compaction_objects_merged_total", "Objects replaced by compaction", Type::counter);
    e.sample({}, static_cast<double>(c.objects_merged));
    e.family("floe_compaction_objects_written_total", "Objects written by compaction", Type::counter);
    e.sample({}, static_cast<double>(c.objects_written));
    e.family("floe_compaction_read_bytes_total", "Bytes of objects read by compaction", Type::counter);
    e.sample({}, static_cast<double>(c.bytes_read));
    e.family("floe_compaction_rewritten_bytes_total", "Bytes of objects written by compaction", Type::counter);
    e.sample({}, static_cast<double>(c.bytes_rewritten));
    e.family("floe_compaction_rounds_total", "Compaction rounds, by outcome", Type::counter);
    e.sample({{"result", "swapped"}}, static_cast<double>(c.swaps));
    e.sample({{"result", "conflict"}}, static_cast<double>(c.conflicts));
    e.sample({{"result", "failed"}}, static_cast<double>(c.failures));
    e.family("floe_compaction_gc_deleted_objects_total",
             "Replaced or orphaned objects deleted after object.gc.grace.ms", Type::counter);
    e.sample({}, static_cast<double>(c.gc_objects_deleted));
    e.family("floe_compaction_stale_reads_total",
             "Reads that found a replaced object gone and re-read the committed ranges", Type::counter);
    e.sample({}, static_cast<double>(c.stale_block_refreshes));
    e.family("floe_gc_objects_retired_total",
             "Dead committed objects (below every stream's start, or of deleted topics) whose metadata the "
             "controller retired; their objects are deleted after object.gc.grace.ms (cluster mode)",
             Type::counter);
    e.sample({}, static_cast<double>(c.objects_retired));
    e.family("floe_log_reads_refused_image_lag_total",
             "Reads of committed data refused (REPLICA_NOT_AVAILABLE) while this broker's metadata image lagged "
             "past half of object.gc.grace.ms",
             Type::counter);
    e.sample({}, static_cast<double>(c.committed_reads_refused));
  });
}

BrokerObservability::BrokerObservability(asio::io_context& io, metrics::Registry& registry, ObservedStores stores,
                                         const kafka::BrokerIdentity& identity, admin::AdminServer& http,
                                         ClusterNode* cluster_node)
    : registry_(registry),
      http_(http),
      stored_(io.get_executor(), stores.meta, objects_meta_prefix(), kStoredObjectsMaxAge, kStoredObjectsMinInterval),
      group_lag_(io.get_executor(), stores.groups, stores.catalog, stores.streams, kGroupLagMinInterval,
                 kGroupLagMaxSeries),
      cluster_node_(cluster_node) {
  collectors_.push_back(add_process_collector(registry));
  collectors_.push_back(add_object_store_collector(registry, stores.objects));
  collectors_.push_back(add_meta_store_collector(registry, stores.meta));
  collectors_.push_back(add_log_cache_collector(registry, stores.streams));
  collectors_.push_back(add_compaction_collector(registry, stores.streams));
  const cluster::TopicCatalog& catalog = stores.catalog;
  const meta::MetaStore& meta = stores.meta;
  collectors_.push_back(registry.add_collector([this, &catalog, &identity, &meta](metrics::Exposition& e) {
    stored_.refresh_if_stale(stored_set_generation(meta));
    e.family("floe_objstore_stored_bytes",
             "Bytes of the committed objects that metadata references (as of the previous scrape's refresh)",
             Type::gauge);
    e.sample({}, as_double(stored_.bytes()));
    e.family("floe_objstore_stored_objects", "Committed objects that metadata references", Type::gauge);
    e.sample({}, as_double(stored_.objects()));
    int64_t led = 0;
    if (cluster_node_ != nullptr) {
      led = static_cast<int64_t>(cluster_node_->leadership->local_count());
    } else {
      for (const cluster::TopicInfo& t : catalog.list()) led += t.partitions;
    }
    e.family("floe_partitions_led",
             "Partitions this broker leads and serves (single broker: every partition; cluster: those opened here)",
             Type::gauge);
    e.sample({}, static_cast<double>(led));
    e.family("floe_broker_info", "This broker: node id, cluster id and zone (value 1)", Type::gauge);
    const std::string node = std::to_string(identity.node_id);
    e.sample({{"node_id", node}, {"cluster_id", identity.cluster_id}, {"zone", identity.rack.value_or("")}}, 1);
  }));
  collectors_.push_back(registry.add_collector([this](metrics::Exposition& e) {
    group_lag_.refresh_if_stale();
    group_lag_.expose(e);
  }));
  // The first figure is there by the first scrape (the refresh runs once the io threads run).
  stored_.refresh_if_stale(stored_set_generation(meta));
}

BrokerObservability::BrokerObservability(asio::io_context& io, metrics::Registry& registry, EmbeddedStorage& storage,
                                         const kafka::BrokerIdentity& identity, const admin::Readiness& readiness,
                                         admin::AdminServer& http)
    : BrokerObservability(io, registry,
                          ObservedStores{*storage.meta, *storage.objects, *storage.catalog, *storage.streams,
                                         *storage.groups},
                          identity, http, nullptr) {
  collectors_.push_back(add_file_wal_collector(registry));
  // An embedded broker may run the object WAL too (--wal object): its figures then come from the stream store.
  collectors_.push_back(add_object_wal_collector(registry, *storage.streams));
  single_status_ = std::make_unique<SingleBrokerStatus>(identity, readiness, *storage.catalog, *storage.streams,
                                                        storage.leader_epoch);
  http_.set_cluster_status_source(single_status_.get());
}

BrokerObservability::BrokerObservability(asio::io_context& io, metrics::Registry& registry, ClusterNode& node,
                                         const kafka::BrokerIdentity& identity, admin::ReadinessState& readiness,
                                         admin::AdminServer& http)
    : BrokerObservability(io, registry, ObservedStores{*node.meta, *node.objects, *node.catalog, *node.streams,
                                                       *node.groups},
                          identity, http, &node) {
  cluster_ = std::make_unique<ClusterObservability>(registry, node, identity, readiness);
  readiness.set_gate(&cluster_->readiness_gate());
  gated_ = &readiness;
  http_.set_cluster_status_source(&cluster_->status());
}

BrokerObservability::~BrokerObservability() {
  http_.set_cluster_status_source(nullptr);
  if (gated_ != nullptr) gated_->set_gate(nullptr);
  for (auto id : collectors_) registry_.remove_collector(id);
}

}  // namespace floe::app
