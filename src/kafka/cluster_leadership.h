// Leadership in cluster mode (DESIGN §6): who leads a partition comes from the metadata image (its assignment to a
// broker epoch and the partition's leader epoch); a partition is local only once this broker's PartitionManager has
// opened it (streams acquired at the committed end, producer state loaded) and until it starts releasing it.
//
// A partition whose assigned broker epoch is no longer live (the broker died and is being sealed) has no leader:
// Metadata answers LEADER_NOT_AVAILABLE, so clients wait for the failover instead of connecting to a dead broker.
//
// While this broker's own membership may not be acted upon (set_self_alive: its lease's local deadline passed, or it
// is lost) its image may be stale: a process that was paused resumes with the view it had, and until it learns that
// it was sealed it would still name itself (and whoever led then) as leaders. So it vouches for no leader at all:
// every partition is leaderless here (Metadata LEADER_NOT_AVAILABLE, produce and fetch NOT_LEADER_OR_FOLLOWER), and
// clients ask a broker whose view is current. A stale leader in a Metadata answer is not harmless: librdkafka up to
// at least 2.0.2 can stay stuck on the wrong broker after two answers naming different leaders in quick succession
// (librdkafka issue #4976: "not migrating away from preferred replica").
//
// Thread-safe: the image has its own lock, the local set this class's.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "kafka/leadership.h"
#include "kafka/open_gate.h"

namespace floe::cluster {
class ClusterImage;
}

namespace floe::kafka {

class ClusterLeadership final : public Leadership {
 public:
  ClusterLeadership(const cluster::ClusterImage& image, int32_t self_id, OpenGateOptions open_gate = {})
      : image_(image), self_id_(self_id), open_gate_(open_gate) {}

  PartitionLeader leader(const cluster::TopicInfo& topic, int32_t partition) const override;
  std::vector<BrokerEndpoint> brokers() const override;
  std::optional<BrokerEndpoint> broker(int32_t node_id) const override;
  int32_t controller_id() const override;
  OpenGate* open_gate() override { return &open_gate_; }

  // Whether this broker's membership may be acted upon (BrokerMembership::alive); thread-safe, cheap. Set once, before
  // serving. Unset: always.
  void set_self_alive(std::function<bool()> alive) { self_alive_ = std::move(alive); }

  // The partition manager's side: `stream` is being opened (its requests wait, kafka/open_gate.h) / its open
  // failed (they are refused) / it is served here at `leader_epoch` from now on (they resume in order) / no longer.
  void set_opening(uint64_t stream);
  void open_failed(uint64_t stream);
  void set_local(uint64_t stream, int32_t leader_epoch);
  void clear_local(uint64_t stream);
  void clear_all();
  size_t local_count() const;

 private:
  const cluster::ClusterImage& image_;
  int32_t self_id_;
  std::function<bool()> self_alive_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, int32_t> local_;  // stream id -> leader epoch it was opened at
  OpenGate open_gate_;
};

}  // namespace floe::kafka
