// Cluster mode's CoordinatorLocator: the coordinator of a group is the broker leading its __consumer_offsets
// partition (DESIGN §8), so coordinator failover is partition failover. As in Kafka, the topic is created on the
// first FindCoordinator for a group (any broker may create it; the controller assigns its partitions); until a
// partition has a live leader the answer is COORDINATOR_NOT_AVAILABLE and the client retries.
#pragma once

#include "group/find_coordinator.h"

namespace floe::cluster {
class TopicCatalog;
}

namespace floe::kafka {

class Leadership;

class ClusterLocator final : public group::CoordinatorLocator {
 public:
  ClusterLocator(cluster::TopicCatalog& catalog, const Leadership& leadership, int32_t partitions)
      : catalog_(catalog), leadership_(leadership), partitions_(partitions) {}
  int32_t partition_count(group::CoordinatorKeyType type) const override;
  asio::awaitable<group::CoordinatorEndpoint> locate(group::CoordinatorKeyType type, int32_t partition) override;

 private:
  cluster::TopicCatalog& catalog_;
  const Leadership& leadership_;
  int32_t partitions_;
};

}  // namespace floe::kafka
