#include "app/embedded_storage.h"

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>
#include <map>

#include "cluster/topic_catalog.h"
#include "group/coordinator.h"
#include "kafka/group_wiring.h"
#include "kafka/stream_group_log.h"
#include "meta/embedded_store.h"
#include "objstore/file_store.h"
#include "stream/stream_store.h"

namespace floe::app {
namespace {

constexpr const char* kMetaRoot = "/floe/";

// The partition leader epoch of this start: a counter per node in the metadata store, bumped at every start so
// that clients holding an older epoch get FENCED_LEADER_EPOCH and refresh (DESIGN §6: restarts included).
asio::awaitable<Result<int32_t>> bump_leader_epoch(meta::MetaStore& meta, int32_t node_id) {
  const std::string key = std::string(kMetaRoot) + "brokers/" + std::to_string(node_id) + "/starts";
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto cur = co_await meta.get(key);
    if (!cur) co_return Error{cur.error(), "meta: cannot read " + key + ": " + cur.error().message()};
    int64_t starts = *cur ? std::stoll((*cur)->value) : 0;
    meta::TxnRequest txn;
    txn.compares.push_back(
        meta::Compare::mod_revision(key, meta::Compare::Result::equal, *cur ? (*cur)->mod_revision : 0));
    meta::PutRequest put;
    put.key = key;
    put.value = std::to_string(starts + 1);
    txn.success.push_back(put);
    auto r = co_await meta.txn(txn);
    if (!r) co_return Error{r.error(), "meta: cannot update " + key + ": " + r.error().message()};
    if (r->succeeded) co_return static_cast<int32_t>(std::min<int64_t>(starts + 1, INT32_MAX));
  }
  co_return Error{std::make_error_code(std::errc::resource_unavailable_try_again), "meta: " + key + " keeps changing"};
}

asio::awaitable<Status> open_all(asio::io_context& io, const ServeConfig& cfg, EmbeddedStorage& s) {
  auto catalog = co_await cluster::TopicCatalog::load(*s.meta, kMetaRoot);
  if (!catalog) co_return catalog.error();
  s.catalog = std::move(*catalog);
  auto epoch = co_await bump_leader_epoch(*s.meta, cfg.node_id);
  if (!epoch) co_return epoch.error();
  s.leader_epoch = *epoch;
  stream::StreamStoreConfig sc;
  sc.wal_dir = cfg.data_dir + "/wal";
  sc.meta_root = kMetaRoot;
  sc.epoch = static_cast<uint64_t>(*epoch);
  sc.upload_bytes = static_cast<size_t>(cfg.upload_bytes);
  sc.upload_interval = std::chrono::milliseconds(cfg.upload_ms);
  sc.log_cache_bytes = static_cast<size_t>(cfg.log_cache_bytes);
  sc.block_cache_bytes = static_cast<size_t>(cfg.block_cache_bytes);
  sc.read_ahead_max_bytes = static_cast<size_t>(cfg.read_ahead_max_bytes);
  sc.compaction_interval = std::chrono::milliseconds(cfg.compaction_interval_ms);
  sc.compaction_target_bytes = static_cast<size_t>(cfg.compaction_target_bytes);
  sc.compaction_min_objects = static_cast<size_t>(cfg.compaction_min_objects);
  sc.compaction_max_age = std::chrono::milliseconds(cfg.compaction_max_age_ms);
  sc.compaction_dead_bytes = static_cast<uint64_t>(cfg.compaction_dead_bytes);
  sc.compaction_dead_max_age = std::chrono::milliseconds(cfg.compaction_dead_max_age_ms);
  sc.compaction_grace = std::chrono::milliseconds(cfg.object_gc_grace_ms);
  if (cfg.wal == ServeConfig::Wal::object) {
    // The object WAL's epoch is this start's counter (never reused); earlier unsealed epochs of this node are
    // sealed by StreamStore::open before the new one writes (seal_previous_epochs: no controller here).
    sc.wal_kind = stream::StreamStoreConfig::WalKind::object;
    sc.wal_flush_interval = std::chrono::milliseconds(cfg.wal_flush_ms);
    sc.wal_flush_eager = cfg.wal_flush_eager;
    sc.wal_flush_min_spacing = std::chrono::milliseconds(cfg.wal_flush_min_ms);
    sc.wal_batch_bytes = static_cast<size_t>(cfg.wal_batch_bytes);
    sc.wal_inflight = static_cast<size_t>(cfg.wal_inflight);
    sc.wal_put_hedge = std::chrono::milliseconds(cfg.wal_put_hedge_ms);
    sc.seal_previous_epochs = true;
  }
  // Also with the file WAL: earlier object-WAL epochs of this node are sealed at open, so a switch of WAL kind
  // loses nothing the last object-WAL run acked.
  sc.broker_id = static_cast<uint64_t>(cfg.node_id);
  auto streams = co_await stream::StreamStore::open(io.get_executor(), sc, *s.objects, *s.meta);
  if (!streams) co_return streams.error();
  s.streams = std::move(*streams);
  kafka::ProducerStatesConfig pc;
  pc.meta_root = kMetaRoot;
  s.producer_states = std::make_unique<kafka::ProducerStates>(pc, *s.streams, *s.meta, *epoch);
  if (Status st = co_await s.producer_states->rebuild_all(*s.catalog); !st) co_return st;

  // Consumer groups live in __consumer_offsets, an ordinary topic on the same streams (DESIGN §8), created on the
  // first FindCoordinator (kafka/group_wiring.h); an existing one loads now.
  const auto existing = s.catalog->find(kafka::kOffsetsTopic);
  s.group_log = std::make_unique<kafka::StreamGroupLog>(*s.catalog, *s.streams, *epoch);
  group::GroupConfig gc;
  gc.offsets_partitions = existing ? existing->partitions : cfg.offsets_topic_partitions;
  s.offsets_partitions_ = gc.offsets_partitions;
  s.groups = std::make_unique<group::GroupCoordinator>(io.get_executor(), *s.group_log, gc);
  s.groups->start();
  if (Status st = co_await kafka::load_offsets_topic(*s.catalog, *s.groups); !st) co_return st;
  kafka::ProducerSnapshotConfig psc;
  psc.interval = std::chrono::milliseconds(cfg.producer_snapshot_ms);
  s.producer_snapshots =
      std::make_unique<kafka::ProducerSnapshotTask>(io.get_executor(), *s.producer_states, *s.catalog, psc);
  s.producer_snapshots->start();
  co_return ok_status();
}

}  // namespace

EmbeddedStorage::EmbeddedStorage() = default;
EmbeddedStorage::~EmbeddedStorage() = default;

int32_t EmbeddedStorage::offsets_partitions() const { return offsets_partitions_; }

asio::awaitable<void> EmbeddedStorage::close() {
  if (groups) co_await groups->stop();
  if (streams) co_await streams->close();
  if (producer_snapshots) co_await producer_snapshots->stop();
  if (meta) meta->shutdown();
}

std::unique_ptr<EmbeddedStorage> open_embedded_storage(asio::io_context& io, const ServeConfig& cfg,
                                                       std::string& error) {
  auto s = std::make_unique<EmbeddedStorage>();
  auto meta = meta::EmbeddedStore::open(io.get_executor(), meta::EmbeddedConfig{.dir = cfg.data_dir + "/meta"});
  if (!meta) {
    error = "data.dir: cannot open the metadata store in " + cfg.data_dir + "/meta: " + meta.error().message();
    return nullptr;
  }
  s->meta = std::move(*meta);
  auto objects = objstore::FileStore::open(cfg.data_dir + "/objects");
  if (!objects.ok()) {
    error = "data.dir: cannot open the object store in " + cfg.data_dir + "/objects: " + objects.error.message();
    return nullptr;
  }
  s->objects = std::move(objects.value);
  auto fut = asio::co_spawn(io, open_all(io, cfg, *s), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  io.restart();
  Status st = fut.get();
  if (!st) {
    error = "data.dir: " + st.error().message;
    s->meta->shutdown();
    return nullptr;
  }
  return s;
}

}  // namespace floe::app
