// The consumer-group APIs (src/group) as the dispatcher calls them, and this broker's CoordinatorLocator.
#pragma once

#include <atomic>

#include "base/result.h"
#include "group/find_coordinator.h"
#include "kafka/broker_identity.h"
#include "kafka/request_context.h"

namespace floe::cluster {
class TopicCatalog;
}
namespace floe::group {
class GroupCoordinator;
}

namespace floe::kafka {

// The coordinator and locator of the request's broker. Throw when the broker has none (dispatcher unit tests):
// the dispatcher turns that into a closed connection with one log line.
group::GroupCoordinator& group_coordinator(RequestContext& ctx);
group::CoordinatorLocator& coordinator_locator(RequestContext& ctx);

// Embedded mode: this broker leads every __consumer_offsets partition. As in Kafka, the topic is created on the
// first FindCoordinator for a group (its partitions then load into the coordinator); until then it does not exist.
// Transactions have no coordinator yet.
class SingleBrokerLocator final : public group::CoordinatorLocator {
 public:
  SingleBrokerLocator(cluster::TopicCatalog& catalog, group::GroupCoordinator& groups, const BrokerIdentity& self,
                      int32_t partitions)
      : catalog_(catalog), groups_(groups), self_(self), partitions_(partitions) {}
  int32_t partition_count(group::CoordinatorKeyType type) const override;
  asio::awaitable<group::CoordinatorEndpoint> locate(group::CoordinatorKeyType type, int32_t partition) override;

 private:
  // Creates __consumer_offsets and loads its partitions once; false while that is under way or failed (the client
  // gets COORDINATOR_NOT_AVAILABLE and retries).
  asio::awaitable<bool> ensure_offsets_topic();

  cluster::TopicCatalog& catalog_;
  group::GroupCoordinator& groups_;
  const BrokerIdentity& self_;
  int32_t partitions_;
  std::atomic<int> state_{0};  // 0: not checked, 1: creating, 2: ready
};

// At start: loads the partitions of an existing __consumer_offsets into the coordinator (none: nothing to do).
asio::awaitable<Status> load_offsets_topic(const cluster::TopicCatalog& catalog, group::GroupCoordinator& groups);

}  // namespace floe::kafka
