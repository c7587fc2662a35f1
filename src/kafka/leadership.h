// Who leads which partition, and which brokers clients may talk to, as the Kafka handlers need it (DESIGN §6).
//
// Embedded mode (SingleBrokerLeadership): this broker leads every partition, at the leader epoch of this start.
// Cluster mode (kafka/cluster_leadership.h): the answer comes from the metadata image, and a partition counts as
// local only once this broker has opened it (its streams acquired at the committed end, its producer state loaded).
//
// Handlers use it as follows: a request for a partition that is not local gets NOT_LEADER_OR_FOLLOWER (the client
// refreshes its metadata), LEADER_NOT_AVAILABLE in Metadata while no broker leads it; the leader epoch stamped on
// appended batches and compared with the client's current_leader_epoch is the one returned here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/broker_identity.h"
#include "kafka/errors.h"

namespace floe::cluster {
struct TopicInfo;
}

namespace floe::kafka {

class OpenGate;

struct PartitionLeader {
  int32_t leader_id = -1;     // -1: no leader now (being assigned or failed over)
  int32_t leader_epoch = -1;  // the partition's leader epoch (-1 with no leader)
  bool local = false;         // this broker leads it and has opened it: it may append and serve reads
};

struct BrokerEndpoint {
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
  std::optional<std::string> rack;
};

class Leadership {
 public:
  virtual ~Leadership() = default;
  virtual PartitionLeader leader(const cluster::TopicInfo& topic, int32_t partition) const = 0;
  // Live brokers (Metadata's broker list), ascending node id, this broker included while it serves.
  virtual std::vector<BrokerEndpoint> brokers() const = 0;
  virtual std::optional<BrokerEndpoint> broker(int32_t node_id) const = 0;
  // The controller's node id as Metadata shows it (-1: none elected).
  virtual int32_t controller_id() const = 0;
  // Where requests for a partition being opened here wait for the open (kafka/open_gate.h); null: nothing is ever
  // opened (embedded mode).
  virtual OpenGate* open_gate() { return nullptr; }
};

// Whether this broker may serve a request for the partition that names `client_epoch` (-1: none): 0, else
// NOT_LEADER_OR_FOLLOWER (not local: the client refreshes its metadata) or the leader-epoch error.
inline int16_t serve_error(const PartitionLeader& leader, int32_t client_epoch) {
  if (!leader.local) return code(Errc::not_leader_or_follower);
  return leader_epoch_error(client_epoch, leader.leader_epoch);
}

// Embedded mode: one broker leads everything at one leader epoch (bumped at each start).
class SingleBrokerLeadership final : public Leadership {
 public:
  SingleBrokerLeadership(const BrokerIdentity& self, int32_t leader_epoch) : self_(self), epoch_(leader_epoch) {}
  PartitionLeader leader(const cluster::TopicInfo&, int32_t) const override {
    return PartitionLeader{self_.node_id, epoch_, true};
  }
  std::vector<BrokerEndpoint> brokers() const override { return {endpoint()}; }
  std::optional<BrokerEndpoint> broker(int32_t node_id) const override {
    if (node_id != self_.node_id) return std::nullopt;
    return endpoint();
  }
  int32_t controller_id() const override { return self_.node_id; }

 private:
  BrokerEndpoint endpoint() const {
    return BrokerEndpoint{self_.node_id, self_.advertised_host, self_.advertised_port, self_.rack};
  }
  const BrokerIdentity& self_;  // read at call time: the advertised port is final only once the listener is bound
  int32_t epoch_;
};

}  // namespace floe::kafka
