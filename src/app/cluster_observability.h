// What a cluster-mode broker exposes beyond the collectors it shares with the single broker (metrics_wiring.h):
// its /v1/cluster source, the cluster part of /readyz, and the cluster's figures on /metrics (membership, partition
// ownership, the controller, failovers, the metadata image, the object WAL). Metric names: docs/metrics.md.
//
// Everything here reads in-memory views only (the image's snapshot, the partition manager's and the controller's
// stats, the leadership's local set), so it is safe from any io thread and never blocks a scrape.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "admin/admin_server.h"
#include "admin/cluster_status.h"
#include "base/log2_histogram.h"
#include "cluster/cluster_image.h"
#include "metrics/metrics.h"

namespace floe::kafka {
struct BrokerIdentity;
}
namespace floe::stream {
class StreamStore;
}

namespace floe::app {

struct ClusterNode;

// Counts of this broker epoch's active assignments (not released, no move target: a partition being handed off is
// not waited for) in an image snapshot, and how many of them are open here.
struct EpochOwnership {
  int64_t assigned = 0;
  int64_t open = 0;
  std::string first_missing;  // "topic/partition" of one assigned partition not open yet (for /readyz's reason)
};
EpochOwnership epoch_ownership(const ClusterNode& node, int32_t self_id);

// The cluster part of /readyz (plugged into ReadinessState::set_gate): ready once registered (the membership is not
// lost) and every partition assigned to this broker epoch is open here.
class ClusterReadiness final : public admin::Readiness {
 public:
  ClusterReadiness(const ClusterNode& node, int32_t self_id) : node_(node), self_id_(self_id) {}
  bool ready(std::string& why_not) const override;

 private:
  const ClusterNode& node_;
  int32_t self_id_;
};

// /v1/cluster in cluster mode: the live brokers and every partition of every topic from the image (leader, leader
// epoch, owner broker epoch, released / move target), offsets of the partitions open here, and this broker's view.
class ClusterBrokerStatus final : public admin::ClusterStatusSource {
 public:
  ClusterBrokerStatus(const ClusterNode& node, const kafka::BrokerIdentity& identity, const admin::Readiness& readiness)
      : node_(node), identity_(identity), readiness_(readiness) {}
  admin::ClusterStatus cluster_status() const override;

 private:
  const ClusterNode& node_;
  const kafka::BrokerIdentity& identity_;
  const admin::Readiness& readiness_;
};

// Failovers as this broker's image sees them: a broker epoch that still owns active assignments turns dead (its
// registration is gone or its sealing is recorded) -> none of its partitions is left on it (the controller sealed it
// and moved them with leader epoch + 1). The duration runs between those two image changes, so the time the
// controller needed to notice the failure before recording the seal is not included (a lease expiry is: the
// registration disappears when it expires). Thread-safe; the image calls observe() on its strand.
class FailoverTracker {
 public:
  struct Figures {
    uint64_t failovers = 0;
    uint64_t partitions_moved = 0;
    double last_seconds = 0;
    int64_t in_progress = 0;  // dead epochs that still own partitions
    Log2HistogramSnapshot durations_us;
  };
  // Subscribes to the image (the subscription lasts until the image closes; it holds the tracker's state, so the
  // tracker may go first).
  explicit FailoverTracker(cluster::ClusterImage& image);
  Figures figures() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// The cluster's /metrics collectors. Construct after the node is open; destroy before the registry.
class ClusterObservability {
 public:
  ClusterObservability(metrics::Registry& registry, ClusterNode& node, const kafka::BrokerIdentity& identity,
                       const admin::Readiness& readiness);
  ~ClusterObservability();
  ClusterObservability(const ClusterObservability&) = delete;
  ClusterObservability& operator=(const ClusterObservability&) = delete;

  const ClusterReadiness& readiness_gate() const { return gate_; }
  const ClusterBrokerStatus& status() const { return status_; }

 private:
  metrics::Registry& registry_;
  ClusterReadiness gate_;
  ClusterBrokerStatus status_;
  FailoverTracker failovers_;
  std::vector<metrics::Registry::CollectorId> collectors_;
};

// floe_wal_object_*: the object WAL's objects, PUT attempts and retries, acked and committed seqs; nothing while the
// store runs the file WAL.
metrics::Registry::CollectorId add_object_wal_collector(metrics::Registry& registry,
                                                        const stream::StreamStore& streams);

}  // namespace floe::app
