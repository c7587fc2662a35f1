#include "kafka/cluster_locator.h"

#include <map>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/leadership.h"
#include "kafka/stream_group_log.h"

namespace floe::kafka {

int32_t ClusterLocator::partition_count(group::CoordinatorKeyType type) const {
  if (type != group::CoordinatorKeyType::group) return 0;
  auto topic = catalog_.find(kOffsetsTopic);
  return topic ? topic->partitions : partitions_;
}

asio::awaitable<group::CoordinatorEndpoint> ClusterLocator::locate(group::CoordinatorKeyType type,
                                                                   int32_t partition) {
  group::CoordinatorEndpoint e;
  e.error_code = code(Errc::coordinator_not_available);  // retriable, until proven otherwise below
  if (type != group::CoordinatorKeyType::group) co_return e;  // no transaction coordinator yet
  std::optional<cluster::TopicInfo> topic = catalog_.find(kOffsetsTopic);
  if (!topic) {
    std::map<std::string, std::string> configs{{"retention.ms", "-1"}};
    auto created = co_await catalog_.create(kOffsetsTopic, partitions_, configs);
    if (created) {
      log::info("kafka", "created ", kOffsetsTopic, " with ", partitions_, " partitions");
    } else if (created.error().code != cluster::CatalogErrc::topic_exists) {
      log::warn("kafka", "cannot create ", kOffsetsTopic, ": ", created.error().message);
    }
    co_return e;  // its partitions get leaders shortly: the client retries
  }
  const PartitionLeader leader = leadership_.leader(*topic, partition);
  if (leader.leader_id < 0) co_return e;
  std::optional<BrokerEndpoint> b = leadership_.broker(leader.leader_id);
  if (!b) co_return e;
  e.error_code = 0;
  e.node_id = b->node_id;
  e.host = b->host;
  e.port = b->port;
  co_return e;
}

}  // namespace floe::kafka
