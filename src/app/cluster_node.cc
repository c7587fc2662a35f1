#include "app/cluster_node.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <algorithm>
#include <asio/use_future.hpp>
#include <random>

#include "base/log.h"
#include "cluster/broker_membership.h"
#include "cluster/cluster_image.h"
#include "cluster/controller.h"
#include "cluster/topic_catalog.h"
#include "cluster/watch_probe.h"
#include "group/coordinator.h"
#include "kafka/cluster_leadership.h"
#include "kafka/cluster_locator.h"
#include "kafka/partition_manager.h"
#include "kafka/producer_snapshots.h"
#include "kafka/stream_group_log.h"
#include "meta/etcd_store.h"
#include "objstore/object_store.h"
#include "objstore/open.h"
#include "stream/stream_store.h"

namespace floe::app {
namespace {

constexpr const char* kMetaRoot = "/floe/";
constexpr const char* kObjectPrefix = "data/";  // the StreamStore's and the controller's (sealing) object prefix
constexpr std::string_view kLog = "cluster";
constexpr std::chrono::seconds kReleaseOnCloseTimeout{20};

std::string random_cluster_id() {
  // Kafka cluster ids are 22 characters of URL-safe base64 of a UUID; any stable string works for clients.
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 22; ++i) out += alphabet[rd() % 64];
  return out;
}

// The cluster id: created once, by whichever broker starts first (create-only txn), read by every later one.
asio::awaitable<Result<std::string>> cluster_id(meta::MetaStore& meta) {
  const std::string key = std::string(kMetaRoot) + "cluster_id";
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cur = co_await meta.get(key);
    if (!cur) co_return Error{cur.error(), "meta: cannot read " + key + ": " + cur.error().message()};
    if (*cur) co_return (*cur)->value;
    meta::TxnRequest txn;
    txn.compares.push_back(meta::Compare::create_revision(key, meta::Compare::Result::equal, 0));
    meta::PutRequest put;
    put.key = key;
    put.value = random_cluster_id();
    txn.success.push_back(put);
    auto r = co_await meta.txn(txn);
    if (!r) co_return Error{r.error(), "meta: cannot create " + key + ": " + r.error().message()};
  }
  co_return Error{std::make_error_code(std::errc::resource_unavailable_try_again), "meta: " + key + " keeps changing"};
}

asio::awaitable<Status> open_all(asio::io_context& io, const ServeConfig& cfg, kafka::BrokerIdentity& identity,
                                 ClusterNode& n) {
  auto ex = io.get_executor();
  auto catalog = co_await cluster::TopicCatalog::load(*n.meta, kMetaRoot);
  if (!catalog) co_return catalog.error();
  n.catalog = std::move(*catalog);
  auto image = co_await cluster::ClusterImage::open(ex, *n.meta, kMetaRoot, n.catalog.get());
  if (!image) co_return image.error();
  n.image = std::move(*image);
  auto id = co_await cluster_id(*n.meta);
  if (!id) co_return id.error();
  identity.cluster_id = *id;

  cluster::MembershipConfig mc;
  mc.broker_id = cfg.node_id;
  mc.host = identity.advertised_host;
  mc.port = identity.advertised_port;
  mc.rack = cfg.zone;
  mc.http = cfg.http.host + ":" + std::to_string(cfg.http.port);
  mc.lease_ttl_seconds = std::max<int64_t>(2, cfg.broker_session_timeout_ms / 1000);
  mc.depose_silent_controller_after = std::chrono::milliseconds(cfg.controller_answer_timeout_ms);
  mc.objects = n.objects.get();
  mc.object_prefix = kObjectPrefix;
  auto membership = co_await cluster::BrokerMembership::register_broker(ex, *n.meta, *n.image, mc);
  if (!membership) co_return membership.error();
  n.membership = std::move(*membership);
  n.broker_epoch = n.membership->epoch();
  log::info(kLog, "registered broker ", cfg.node_id, " with epoch ", n.broker_epoch);

  stream::StreamStoreConfig sc;
  sc.wal_kind = stream::StreamStoreConfig::WalKind::object;
  sc.wal_dir = cfg.data_dir + "/wal";  // unused by the object WAL unless a file WAL was left there
  sc.meta_root = kMetaRoot;
  sc.object_prefix = kObjectPrefix;
  sc.broker_id = static_cast<uint64_t>(cfg.node_id);
  sc.epoch = static_cast<uint64_t>(n.broker_epoch);
  sc.log_cache_bytes = static_cast<size_t>(cfg.log_cache_bytes);
  sc.block_cache_bytes = static_cast<size_t>(cfg.block_cache_bytes);
  sc.read_ahead_max_bytes = static_cast<size_t>(cfg.read_ahead_max_bytes);
  sc.wal_flush_interval = std::chrono::milliseconds(cfg.wal_flush_ms);
  sc.wal_flush_eager = cfg.wal_flush_eager;
  sc.wal_flush_min_spacing = std::chrono::milliseconds(cfg.wal_flush_min_ms);
  sc.wal_batch_bytes = static_cast<size_t>(cfg.wal_batch_bytes);
  sc.wal_inflight = static_cast<size_t>(cfg.wal_inflight);
  sc.wal_put_hedge = std::chrono::milliseconds(cfg.wal_put_hedge_ms);
  sc.seal_previous_epochs = false;  // the controller seals (DESIGN §6)
  sc.compaction_interval = std::chrono::milliseconds(cfg.compaction_interval_ms);
  sc.compaction_target_bytes = static_cast<size_t>(cfg.compaction_target_bytes);
  sc.compaction_min_objects = static_cast<size_t>(cfg.compaction_min_objects);
  sc.compaction_max_age = std::chrono::milliseconds(cfg.compaction_max_age_ms);
  sc.compaction_dead_bytes = static_cast<uint64_t>(cfg.compaction_dead_bytes);
  sc.compaction_dead_max_age = std::chrono::milliseconds(cfg.compaction_dead_max_age_ms);
  sc.compaction_grace = std::chrono::milliseconds(cfg.object_gc_grace_ms);
  // One compactor and garbage collector for the cluster: the controller (its swaps and retirements are guarded by
  // compares on the objects/ keys, so a deposed controller still at it changes nothing it should not; other
  // brokers find replaced objects gone after the grace and re-read their block maps). Its passes also retire
  // dead objects (below every stream's start, or of deleted topics: the topics at the read's revision), deleted
  // from the bucket after object.gc.grace.ms.
  {
    ClusterNode* compacting_node = &n;
    sc.compaction_gate = [compacting_node] {
      cluster::Controller* c = compacting_node->running_controller.load();
      return c != nullptr && c->elected();
    };
    sc.retire_unreferenced_objects = true;
    meta::MetaStore* meta_store = n.meta.get();
    sc.live_streams_at = [meta_store](int64_t revision) {
      return cluster::live_streams_at(*meta_store, kMetaRoot, revision);
    };
  }
  // DESIGN §7: a broker whose image lags past half the grace stops serving committed reads (they fail with a
  // retriable error) until it catches up. Lag is what the watch probe can vouch for: no probe back within the
  // bound counts as lagging. A grace of 0 turns the rule off (nothing waits for readers then anyway).
  if (cfg.object_gc_grace_ms > 0) {
    ClusterNode* reading_node = &n;
    const auto bound = std::chrono::milliseconds(cfg.object_gc_grace_ms / 2);
    sc.committed_reads_allowed = [reading_node, bound] {
      cluster::WatchLagProbe* p = reading_node->running_probe.load();
      return p != nullptr && p->fresh_within(bound);
    };
  }
  sc.owned_streams_only = true;
  ClusterNode* node = &n;
  sc.on_wal_stopped = [node](std::error_code ec) {
    if (node->on_lost) node->on_lost("the object WAL stopped: " + ec.message());
  };
  auto streams = co_await stream::StreamStore::open(ex, sc, *n.objects, *n.meta);
  if (!streams) co_return streams.error();
  n.streams = std::move(*streams);

  kafka::ProducerStatesConfig pc;
  pc.meta_root = kMetaRoot;
  n.producer_states = std::make_unique<kafka::ProducerStates>(pc, *n.streams, *n.meta, 0);
  kafka::OpenGateOptions gate;
  gate.max_wait = std::chrono::milliseconds(cfg.partition_open_wait_ms);
  gate.max_waiters = static_cast<size_t>(cfg.partition_open_max_waiters);
  gate.max_bytes = static_cast<size_t>(cfg.partition_open_max_wait_bytes);
  n.leadership = std::make_unique<kafka::ClusterLeadership>(*n.image, cfg.node_id, gate);
  {
    cluster::BrokerMembership* membership = n.membership.get();
    n.leadership->set_self_alive([membership] { return membership->alive(); });
  }
  kafka::ClusterLeadership* leadership = n.leadership.get();
  cluster::TopicCatalog* cat = n.catalog.get();
  // Each __consumer_offsets append is stamped with that partition's current leader epoch.
  auto epoch_of = [leadership, cat](int32_t partition) -> int32_t {
    auto topic = cat->find(kafka::kOffsetsTopic);
    return topic ? leadership->leader(*topic, partition).leader_epoch : -1;
  };
  n.group_log = std::make_unique<kafka::StreamGroupLog>(*n.catalog, *n.streams, epoch_of);
  group::GroupConfig gc;
  const auto existing = n.catalog->find(kafka::kOffsetsTopic);
  gc.offsets_partitions = existing ? existing->partitions : cfg.offsets_topic_partitions;
  n.groups = std::make_unique<group::GroupCoordinator>(ex, *n.group_log, gc);
  n.groups->start();
  n.locator = std::make_unique<kafka::ClusterLocator>(*n.catalog, *n.leadership, gc.offsets_partitions);

  kafka::PartitionManagerDeps deps{*n.image, *n.membership, *n.catalog, *n.streams,
                                   *n.producer_states, *n.groups, *n.leadership};
  kafka::PartitionManagerOptions po;
  po.max_parallel_loads = static_cast<size_t>(cfg.partition_open_parallelism);
  n.partitions = std::make_unique<kafka::PartitionManager>(ex, deps, cfg.node_id, n.broker_epoch, po);
  n.partitions->start();
  // Snapshots of the partitions led here (DESIGN §8): what the next owner replays after a failover is only the log
  // since the last one, so their interval bounds the failover's opening work.
  kafka::ProducerSnapshotConfig psc;
  psc.interval = std::chrono::milliseconds(cfg.producer_snapshot_ms);
  n.producer_snapshots = std::make_unique<kafka::ProducerSnapshotTask>(ex, *n.producer_states,
                                                                        *n.catalog, psc);
  n.producer_snapshots->start();

  cluster::ControllerConfig cc;
  cc.broker_id = cfg.node_id;
  cc.heartbeat_host = cfg.listen.host;
  cc.lease_ttl_seconds = mc.lease_ttl_seconds;
  cc.objects = n.objects.get();
  cc.object_prefix = kObjectPrefix;
  auto controller = cluster::Controller::start(ex, *n.meta, *n.image, cc);
  if (!controller) co_return controller.error();
  n.controller = std::move(*controller);
  n.running_controller.store(n.controller.get());

  cluster::WatchLagProbeConfig wp;
  wp.broker_id = cfg.node_id;
  wp.lease = n.membership->lease_id();
  // The probe also vouches for the image's freshness (the committed-read gate above): it must come back well
  // within half the grace.
  if (cfg.object_gc_grace_ms > 0) {
    wp.interval = std::clamp(std::chrono::milliseconds(cfg.object_gc_grace_ms / 8), std::chrono::milliseconds(20),
                             wp.interval);
  }
  n.watch_probe = cluster::WatchLagProbe::start(ex, *n.meta, *n.image, wp);
  n.running_probe.store(n.watch_probe.get());

  n.membership->on_lost([node](std::error_code ec) {
    if (node->on_lost) node->on_lost("the registration was lost: " + ec.message());
  });
  co_return ok_status();
}

}  // namespace

ClusterNode::ClusterNode() = default;
ClusterNode::~ClusterNode() = default;

asio::awaitable<void> ClusterNode::close() {
  const bool lost = membership && membership->lost();
  if (partitions) {
    if (!lost) {
      // Drain first: the controller assigns nothing more to this broker while its partitions are handed off.
      if (controller) {
        Status drained = co_await controller->drain(membership->id());
        if (!drained) log::warn(kLog, "shutdown: cannot mark this broker as draining: ", drained.error().message);
      }
      log::info(kLog, "shutdown: releasing this broker's partitions");
      Status st = co_await partitions->release_all(kReleaseOnCloseTimeout);
      if (!st) log::warn(kLog, "shutdown: ", st.error().message);
    }
    co_await partitions->stop();
  }
  log::debug(kLog, "shutdown: partitions stopped");
  // After the releases (each wrote its partition's snapshot at its end): a last pass over what is left.
  if (producer_snapshots) co_await producer_snapshots->stop();
  running_probe.store(nullptr);  // committed reads stop here (partitions are released above)
  if (watch_probe) co_await watch_probe->stop();
  running_controller.store(nullptr);
  if (controller) co_await controller->stop(true);
  log::debug(kLog, "shutdown: controller stopped");
  if (membership) {
    if (!lost) {
      Status st = co_await membership->deregister();
      if (!st) log::warn(kLog, "shutdown: cannot deregister (the lease will expire): ", st.error().message);
    }
    co_await membership->close();
  }
  log::debug(kLog, "shutdown: membership closed");
  if (groups) co_await groups->stop();
  if (streams) co_await streams->close();
  log::debug(kLog, "shutdown: streams closed");
  if (image) co_await image->close();
  if (meta) meta->shutdown();
  log::info(kLog, "shutdown: done");
}

std::unique_ptr<ClusterNode> open_cluster_node(asio::io_context& io, const ServeConfig& cfg,
                                               kafka::BrokerIdentity& identity, std::string& error) {
  auto n = std::make_unique<ClusterNode>();
  meta::EtcdConfig ec;
  ec.endpoints = cfg.meta_endpoints;
  auto meta = meta::EtcdStore::create(io.get_executor(), ec);
  if (!meta) {
    error = "meta: " + meta.error().message();
    return nullptr;
  }
  n->meta = std::move(*meta);
  const std::string url = cfg.objects.empty() ? "file://" + cfg.data_dir + "/objects" : cfg.objects;
  auto objects = objstore::open_store(url, io.get_executor());
  if (!objects.ok()) {
    error = "objects: cannot open " + url + ": " + objects.error.message();
    n->meta->shutdown();
    return nullptr;
  }
  n->objects = std::move(objects.value);
  auto fut = asio::co_spawn(io, open_all(io, cfg, identity, *n), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  io.restart();
  Status st = fut.get();
  if (!st) {
    error = "cluster: " + st.error().message;
    auto closing = asio::co_spawn(io, n->close(), asio::use_future);
    while (closing.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    io.restart();
    return nullptr;
  }
  return n;
}

}  // namespace floe::app
