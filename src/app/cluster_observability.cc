#include "app/cluster_observability.h"

#include <algorithm>
#include <string>

#include "app/cluster_node.h"
#include "app/metrics_wiring.h"
#include "base/log.h"
#include "cluster/broker_membership.h"
#include "cluster/controller.h"
#include "cluster/watch_probe.h"
#include "kafka/broker_identity.h"
#include "kafka/cluster_leadership.h"
#include "kafka/partition_manager.h"
#include "stream/object_wal.h"
#include "stream/stream_store.h"

namespace floe::app {
namespace {

using metrics::Type;
using Clock = std::chrono::steady_clock;

double as_double(uint64_t v) { return static_cast<double>(v); }
double as_double(int64_t v) { return static_cast<double>(v); }

// The owner epoch of an active assignment is dead when its registration is gone (or belongs to a newer epoch of the
// same id), its epochs/ record is gone, or its sealing is recorded.
bool owner_dead(const cluster::ImageState& s, const cluster::Assignment& a) {
  const cluster::EpochKey key{a.broker_id, a.broker_epoch};
  return !s.epoch_live(a.broker_id, a.broker_epoch) || s.sealing.count(key) > 0;
}

// Whether the assignment names a live broker epoch that leads it now (what Metadata would answer).
bool has_leader(const cluster::ImageState& s, const cluster::Assignment& a) {
  if (a.released || a.broker_id < 0) return false;
  auto b = s.brokers.find(a.broker_id);
  return b != s.brokers.end() && b->second.epoch == a.broker_epoch;
}

}  // namespace

EpochOwnership epoch_ownership(const ClusterNode& node, int32_t self_id) {
  EpochOwnership out;
  const std::shared_ptr<const cluster::ImageState> snap = node.image->snapshot();
  for (const auto& [key, a] : snap->assignments) {
    if (a.broker_id != self_id || a.broker_epoch != node.broker_epoch || a.released || a.move_target) continue;
    auto topic = snap->topics.find(a.topic);
    if (topic == snap->topics.end() || a.partition >= topic->second.partitions) continue;  // deleted: dropped here
    ++out.assigned;
    if (node.leadership->leader(topic->second, a.partition).local) {
      ++out.open;
    } else if (out.first_missing.empty()) {
      out.first_missing = a.topic + "/" + std::to_string(a.partition);
    }
  }
  return out;
}

bool ClusterReadiness::ready(std::string& why_not) const {
  if (!node_.membership || node_.membership->lost()) {
    why_not = "not registered (broker epoch lost)";
    return false;
  }
  const EpochOwnership own = epoch_ownership(node_, self_id_);
  if (own.open < own.assigned) {
    why_not = "opening partitions: " + std::to_string(own.open) + " of " + std::to_string(own.assigned) +
              " open (waiting for " + own.first_missing + ")";
    return false;
  }
  return true;
}

admin::ClusterStatus ClusterBrokerStatus::cluster_status() const {
  admin::ClusterStatus s;
  s.cluster_id = identity_.cluster_id;
  s.mode = "cluster";
  s.self = identity_.node_id;
  const std::shared_ptr<const cluster::ImageState> snap = node_.image->snapshot();
  const int32_t controller = snap->controller ? snap->controller->broker_id : -1;
  for (const auto& [id, b] : snap->brokers) {
    const cluster::EpochKey key{id, b.epoch};
    std::string state = snap->epochs.count(key) == 0 ? "registering" : snap->sealing.count(key) ? "sealing" : "alive";
    if (id == identity_.node_id && b.epoch == node_.broker_epoch) {
      std::string why_not;
      state = readiness_.ready(why_not) ? "ready" : why_not;
    }
    s.brokers.push_back({id, b.host, b.port, b.rack, state, b.epoch, id == controller});
  }
  for (const auto& [name, topic] : snap->topics) {
    for (int32_t p = 0; p < topic.partitions; ++p) {
      admin::PartitionStatus ps;
      ps.topic = name;
      ps.partition = p;
      ps.log_start_offset = std::nullopt;
      ps.high_watermark = std::nullopt;
      ps.broker_epoch = 0;  // unassigned
      ps.released = false;
      ps.local = false;
      auto it = snap->assignments.find(cluster::PartitionKey{name, p});
      if (it != snap->assignments.end()) {
        const cluster::Assignment& a = it->second;
        ps.leader_epoch = a.leader_epoch;
        ps.broker_epoch = a.broker_epoch;
        ps.released = a.released;
        ps.move_target = a.move_target;
        if (has_leader(*snap, a)) ps.leader = a.broker_id;
        if (a.broker_id == identity_.node_id && node_.leadership->leader(topic, p).local) {
          ps.local = true;
          const stream::StreamEnds ends = node_.streams->ends(cluster::stream_id_of(topic.id, p));
          ps.log_start_offset = ends.start;
          ps.high_watermark = ends.durable;
        }
      }
      s.partitions.push_back(std::move(ps));
    }
  }
  admin::SelfView v;
  v.broker_epoch = node_.broker_epoch;
  v.registered = node_.membership && !node_.membership->lost();
  v.controller = node_.controller && node_.controller->elected();
  v.assigned_partitions = epoch_ownership(node_, identity_.node_id).assigned;
  v.local_partitions = static_cast<int64_t>(node_.leadership->local_count());
  v.image_revision = node_.image->revision();
  s.self_view = v;
  return s;
}

// ---- FailoverTracker -------------------------------------------------------------------------------------------

struct FailoverTracker::State {
  struct Dead {
    Clock::time_point since;
    size_t partitions = 0;  // the most it owned while dead
  };
  mutable std::mutex mu;
  std::map<cluster::EpochKey, Dead> dead;  // bounded by the epochs that own partitions
  uint64_t failovers = 0;
  uint64_t partitions_moved = 0;
  double last_seconds = 0;
  Log2Histogram durations;

  void observe(const cluster::ImageState& s) {
    std::map<cluster::EpochKey, size_t> owning;
    for (const auto& [key, a] : s.assignments) {
      if (a.released || a.broker_id < 0 || !owner_dead(s, a)) continue;
      ++owning[cluster::EpochKey{a.broker_id, a.broker_epoch}];
    }
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mu);
    for (const auto& [epoch, n] : owning) {
      auto [it, fresh] = dead.try_emplace(epoch, Dead{now, n});
      if (!fresh) it->second.partitions = std::max(it->second.partitions, n);
    }
    for (auto it = dead.begin(); it != dead.end();) {
      if (owning.count(it->first)) {
        ++it;
        continue;
      }
      const auto took = now - it->second.since;
      durations.record(took);
      ++failovers;
      partitions_moved += it->second.partitions;
      last_seconds = std::chrono::duration<double>(took).count();
      log::info("cluster", "failover of broker ", it->first.broker_id, " epoch ", it->first.epoch, ": ",
                it->second.partitions, " partitions moved ",
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count(),
                " ms after this broker's image saw the epoch dead");
      it = dead.erase(it);
    }
  }
};

FailoverTracker::FailoverTracker(cluster::ClusterImage& image) : state_(std::make_shared<State>()) {
  cluster::ClusterImage* img = &image;
  std::shared_ptr<State> state = state_;
  image.subscribe([state, img] { state->observe(*img->snapshot()); });
  state_->observe(*image.snapshot());
}

FailoverTracker::Figures FailoverTracker::figures() const {
  std::lock_guard lock(state_->mu);
  Figures f;
  f.failovers = state_->failovers;
  f.partitions_moved = state_->partitions_moved;
  f.last_seconds = state_->last_seconds;
  f.in_progress = static_cast<int64_t>(state_->dead.size());
  f.durations_us = state_->durations.snapshot();
  return f;
}

// ---- collectors --------------------------------------------------------------------------------------------------

metrics::Registry::CollectorId add_object_wal_collector(metrics::Registry& registry,
                                                        const stream::StreamStore& streams) {
  return registry.add_collector([&streams](metrics::Exposition& e) {
    const stream::ObjectWal* wal = streams.object_wal();
    if (wal == nullptr) return;
    const stream::ObjectWalStats s = wal->stats();
    e.family("floe_wal_object_objects_total",
             "Object WAL objects cut from the append buffer, by reason: timer (wal.flush.ms), size (wal.batch.bytes), "
             "idle (no PUT in flight, wal.flush.eager), request (close or a release)",
             Type::counter);
    e.sample({{"reason", "timer"}}, as_double(s.cuts_timer));
    e.sample({{"reason", "size"}}, as_double(s.cuts_size));
    e.sample({{"reason", "idle"}}, as_double(s.cuts_idle));
    e.sample({{"reason", "request"}}, as_double(s.cuts_request));
    e.family("floe_wal_object_commit_txns_total", "Object WAL commit txns (each commits a run of written objects)",
             Type::counter);
    e.sample({}, as_double(s.commit_txns));
    e.family("floe_wal_object_committed_objects_total",
             "Object WAL objects committed (divided by the commit txns: objects per commit)", Type::counter);
    e.sample({}, as_double(s.committed_objects));
    e.family("floe_wal_object_put_attempts_total", "Object WAL PUT attempts (create-only)", Type::counter);
    e.sample({}, as_double(s.put_attempts));
    e.family("floe_wal_object_put_retries_total", "Object WAL PUT retries", Type::counter);
    e.sample({}, as_double(s.put_retries));
    e.family("floe_wal_object_readbacks_total", "Object WAL ambiguous PUTs resolved by reading the key back",
             Type::counter);
    e.sample({}, as_double(s.readbacks));
    e.family("floe_wal_object_acked_seq", "Highest object WAL sequence whose appends were acked", Type::gauge);
    e.sample({}, as_double(s.acked_seq));
    e.family("floe_wal_object_committed_seq", "Object WAL commit cursor as this broker last wrote it", Type::gauge);
    e.sample({}, as_double(s.committed_seq));
    e.family("floe_wal_object_stopped", "1 when the object WAL failed for good (the broker re-registers)", Type::gauge);
    e.sample({}, s.stopped ? 1 : 0);
  });
}

ClusterObservability::ClusterObservability(metrics::Registry& registry, ClusterNode& node,
                                           const kafka::BrokerIdentity& identity, const admin::Readiness& readiness)
    : registry_(registry), gate_(node, identity.node_id), status_(node, identity, readiness), failovers_(*node.image) {
  collectors_.push_back(add_object_wal_collector(registry, *node.streams));
  const int32_t self_id = identity.node_id;
  collectors_.push_back(registry.add_collector([this, &node, self_id](metrics::Exposition& e) {
    e.family("floe_cluster_broker_epoch", "This broker's epoch (create revision of its registration)", Type::gauge);
    e.sample({}, as_double(node.broker_epoch));
    e.family("floe_cluster_registered", "1 while this broker's registration holds (0: lost, re-registering)",
             Type::gauge);
    e.sample({}, node.membership && !node.membership->lost() ? 1 : 0);

    const kafka::PartitionManagerStats pm = node.partitions->stats();
    e.family("floe_cluster_partitions_opened_total", "Partitions opened here (acquired at the committed end)",
             Type::counter);
    e.sample({}, as_double(pm.opened));
    e.family("floe_cluster_partitions_released_total", "Partitions handed off gracefully by this broker",
             Type::counter);
    e.sample({}, as_double(pm.released));
    e.family("floe_cluster_partitions_dropped_total",
             "Partitions lost here without a release (topic deleted, epoch sealed)", Type::counter);
    e.sample({}, as_double(pm.dropped));
    e.family("floe_cluster_partition_open_failures_total", "Partition opens that failed (retried)", Type::counter);
    e.sample({}, as_double(pm.open_failures));
    e.family("floe_cluster_partition_open_replayed_batches_total",
             "Record batches the producer-state loads of opening partitions replayed from the log (beyond their "
             "snapshots; a move replays none: its release snapshots at the end)",
             Type::counter);
    e.sample({}, as_double(node.producer_states->batches_replayed()));
    e.family("floe_cluster_partition_open_batch_seconds", "Duration of the last batch of partition opens", Type::gauge);
    e.sample({}, static_cast<double>(pm.last_open_batch_ms) / 1000.0);
    const kafka::OpenGateStats gate = node.leadership->open_gate()->stats();
    e.family("floe_cluster_partition_open_waiters",
             "Produce and fetch requests waiting now for a partition this broker is opening", Type::gauge);
    e.sample({}, as_double(gate.waiting));
    e.family("floe_cluster_partition_open_waits_total",
             "Produce and fetch requests that waited for a partition this broker was opening", Type::counter);
    e.sample({}, as_double(gate.waits));
    e.family("floe_cluster_partition_open_wait_failures_total",
             "Requests for a partition being opened here answered NOT_LEADER_OR_FOLLOWER: the wait ran out "
             "(timeout), no room or no time to wait (refused), or the open failed or the partition left (closed)",
             Type::counter);
    e.sample({{"reason", "timeout"}}, as_double(gate.timeouts));
    e.sample({{"reason", "refused"}}, as_double(gate.refusals));
    e.sample({{"reason", "closed"}}, as_double(gate.closed));
    const EpochOwnership own = epoch_ownership(node, self_id);
    e.family("floe_cluster_partitions_assigned", "Active assignments to this broker epoch in the image", Type::gauge);
    e.sample({}, as_double(own.assigned));

    const std::shared_ptr<const cluster::ImageState> snap = node.image->snapshot();
    int64_t live = 0, unavailable = 0;
    for (const auto& [id, b] : snap->brokers) live += snap->epoch_live(id, b.epoch) ? 1 : 0;
    for (const auto& [name, topic] : snap->topics) {
      for (int32_t p = 0; p < topic.partitions; ++p) {
        auto it = snap->assignments.find(cluster::PartitionKey{name, p});
        if (it == snap->assignments.end() || !has_leader(*snap, it->second) || owner_dead(*snap, it->second))
          ++unavailable;
      }
    }
    e.family("floe_cluster_brokers_live", "Live broker epochs in this broker's image", Type::gauge);
    e.sample({}, as_double(live));
    e.family("floe_cluster_partitions_unavailable",
             "Partitions without a live leader in this broker's image (unassigned, released, or failing over)",
             Type::gauge);
    e.sample({}, as_double(unavailable));
    e.family("floe_cluster_image_revision", "Metadata revision this broker's image has applied", Type::gauge);
    e.sample({}, as_double(node.image->revision()));
    e.family("floe_cluster_image_reloads_total", "Full image reloads (the watch revision was compacted away)",
             Type::counter);
    e.sample({}, as_double(node.image->reloads()));

    if (node.watch_probe) {
      const cluster::WatchLagFigures w = node.watch_probe->figures();
      e.family("floe_cluster_image_watch_lag_seconds",
               "Last watch probe: the store acked this broker's probe write -> its image applied that revision",
               Type::gauge);
      e.sample({}, w.last_lag_seconds);
      e.family("floe_cluster_image_watch_lag_revisions",
               "Last watch probe: revisions the image was behind the store when the probe write was acked",
               Type::gauge);
      e.sample({}, as_double(w.last_lag_revisions));
      e.family("floe_cluster_image_watch_lag_probe_seconds", "Every watch probe's lag (store ack -> image applied)",
               Type::histogram);
      expose_log2_histogram(e, {}, w.lag_us, 1e-6);
      e.family("floe_cluster_image_watch_probe_timeouts_total",
               "Watch probes the image did not apply within the probe timeout", Type::counter);
      e.sample({}, as_double(w.timeouts));
      e.family("floe_cluster_image_watch_probe_errors_total", "Watch probe writes the store refused or failed",
               Type::counter);
      e.sample({}, as_double(w.errors));
      // -1 before the first probe came back (counts as lagging for the committed-read gate).
      const auto stale = node.watch_probe->staleness();
      e.family("floe_cluster_image_staleness_seconds",
               "How far behind the store this broker's image may be: time since the newest probe it applied was "
               "sent (committed reads stop past half of object.gc.grace.ms)",
               Type::gauge);
      e.sample({}, stale ? std::chrono::duration<double>(*stale).count() : -1.0);
    }
    e.family("floe_cluster_partition_handoff_seconds",
             "Partitions opened here after a change of owner: failure detected (failover) or move requested (move) "
             "-> serving here",
             Type::histogram);
    expose_log2_histogram(e, {{"cause", "failover"}}, pm.failover_open_us, 1e-6);
    expose_log2_histogram(e, {{"cause", "move"}}, pm.move_open_us, 1e-6);

    const FailoverTracker::Figures f = failovers_.figures();
    e.family("floe_cluster_failovers_total",
             "Broker epochs that died owning partitions and whose partitions all moved (seen by this image)",
             Type::counter);
    e.sample({}, as_double(f.failovers));
    e.family("floe_cluster_failover_partitions_moved_total", "Partitions moved off dead broker epochs", Type::counter);
    e.sample({}, as_double(f.partitions_moved));
    e.family("floe_cluster_failovers_in_progress", "Dead broker epochs that still own partitions", Type::gauge);
    e.sample({}, as_double(f.in_progress));
    e.family("floe_cluster_last_failover_seconds",
             "The last failover: image shows the epoch dead -> none of its partitions left on it", Type::gauge);
    e.sample({}, f.last_seconds);
    e.family("floe_cluster_failover_duration_seconds",
             "Failovers: image shows the epoch dead -> none of its partitions left on it", Type::histogram);
    expose_log2_histogram(e, {}, f.durations_us, 1e-6);

    const cluster::ControllerStats& c = node.controller->stats();
    e.family("floe_controller_elected", "1 while this broker is the elected controller", Type::gauge);
    e.sample({}, node.controller->elected() ? 1 : 0);
    e.family("floe_controller_recovery_seconds",
             "Failed broker epochs this broker recovered as controller: failure detected -> partitions reassigned",
             Type::histogram);
    expose_log2_histogram(e, {}, c.recovery_durations.snapshot(), 1e-6);
    struct Field {
      const char* name;
      const char* help;
      const std::atomic<uint64_t>& value;
    };
    const Field fields[] = {
        {"floe_controller_elections_total", "Controller elections this broker won", c.elections},
        {"floe_controller_epochs_sealed_total", "Failed broker epochs this broker sealed as controller",
         c.epochs_sealed},
        {"floe_controller_assignments_written_total", "Partition assignments written as controller",
         c.assignments_written},
        {"floe_controller_moves_requested_total", "Partition move targets set as controller (drain, balance)",
         c.moves_requested},
        {"floe_controller_sweeps_total", "Sweeps of sealed epochs' late WAL objects", c.sweeps},
        {"floe_controller_failed_txns_total", "Guarded controller txns whose compares failed", c.failed_txns},
        {"floe_controller_assignment_txns_total",
         "Controller txns that wrote partition assignments (a batch takes as few as etcd's limits allow)",
         c.assignment_txns},
    };
    for (const Field& fd : fields) {
      e.family(fd.name, fd.help, Type::counter);
      e.sample({}, as_double(fd.value.load(std::memory_order_relaxed)));
    }
    e.family("floe_controller_assignment_txns_in_flight_peak",
             "Most assignment txns this broker had in flight at once as controller", Type::gauge);
    e.sample({}, as_double(c.peak_txns_in_flight.load(std::memory_order_relaxed)));
  }));
}

ClusterObservability::~ClusterObservability() {
  for (auto id : collectors_) registry_.remove_collector(id);
}

}  // namespace floe::app
