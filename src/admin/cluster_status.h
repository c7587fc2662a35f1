// GET /v1/cluster: the cluster as this broker sees it (brokers, partitions, leaders, leader epochs), as JSON.
//
// ClusterStatusSource is the seam: the single-broker app supplies a source that reports itself as the only broker
// and the leader of every partition (app/metrics_wiring.h); cluster mode supplies one fed by its membership and
// assignment views. The admin module only renders what the source returns, so it stays free of cluster code.
//
// JSON shape ("rack" is null when the broker has no zone; offsets are null where this broker does not know them:
// in cluster mode, partitions it has not opened):
//   {"cluster_id": "...", "mode": "single-broker", "self": 1,
//    "brokers": [{"node_id": 1, "host": "127.0.0.1", "port": 9092, "rack": null, "state": "ready"}],
//    "partitions": [{"topic": "t", "partition": 0, "leader": 1, "leader_epoch": 3,
//                    "log_start_offset": 0, "high_watermark": 42}]}
// Cluster mode adds fields (present exactly when the source sets them; the single broker's shape is unchanged):
//   brokers[]:    "epoch": 1234, "controller": true
//   partitions[]: "broker_epoch": 1234 (the epoch assigned; leader is -1 while that epoch is not live),
//                 "released": false, "move_target": null or a node id, "local": true (opened on this broker)
//   top level:    "self_view": {"broker_epoch": 1234, "registered": true, "controller": false,
//                               "assigned_partitions": 10, "local_partitions": 10, "image_revision": 5678}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace floe::admin {

struct BrokerStatus {
  int32_t node_id = -1;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
  std::string state;  // "ready", "starting", "draining", or what cluster membership says ("alive", "sealing")
  std::optional<int64_t> epoch;     // cluster mode: the broker epoch (create revision of its registration)
  std::optional<bool> controller;   // cluster mode: the elected controller
};

struct PartitionStatus {
  std::string topic;
  int32_t partition = 0;
  int32_t leader = -1;  // node id; -1 when the partition has no leader now
  int32_t leader_epoch = -1;
  std::optional<int64_t> log_start_offset = 0;  // nullopt: unknown here
  std::optional<int64_t> high_watermark = 0;
  // Cluster mode (all set, or none): the assignment as the image has it, and whether this broker serves it.
  std::optional<int64_t> broker_epoch;
  std::optional<bool> released;
  std::optional<int32_t> move_target;  // rendered as null when unset in cluster mode
  std::optional<bool> local;
};

// Cluster mode: this broker's own view.
struct SelfView {
  int64_t broker_epoch = 0;
  bool registered = false;
  bool controller = false;
  int64_t assigned_partitions = 0;  // active assignments to this broker epoch in the image
  int64_t local_partitions = 0;     // partitions opened and served here
  int64_t image_revision = 0;
};

struct ClusterStatus {
  std::string cluster_id;
  std::string mode;      // "single-broker" or "cluster"
  int32_t self = -1;     // the node id of the broker answering
  std::vector<BrokerStatus> brokers;        // by node id
  std::vector<PartitionStatus> partitions;  // by topic, then partition
  std::optional<SelfView> self_view;        // cluster mode
};

// Thread-safe; called on an admin connection's strand, so it must not block (read in-memory views only).
class ClusterStatusSource {
 public:
  virtual ~ClusterStatusSource() = default;
  virtual ClusterStatus cluster_status() const = 0;
};

std::string to_json(const ClusterStatus& status);
// A JSON string literal (quotes included) of `text`; invalid UTF-8 bytes become U+FFFD.
std::string json_string(std::string_view text);

}  // namespace floe::admin
