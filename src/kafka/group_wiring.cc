#include "kafka/group_wiring.h"

#include <map>
#include <stdexcept>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "group/coordinator.h"
#include "kafka/services.h"
#include "kafka/stream_group_log.h"

namespace floe::kafka {

group::GroupCoordinator& group_coordinator(RequestContext& ctx) {
  if (!ctx.services || !ctx.services->groups) throw std::runtime_error("this broker has no group coordinator");
  return *ctx.services->groups;
}

group::CoordinatorLocator& coordinator_locator(RequestContext& ctx) {
  if (!ctx.services || !ctx.services->coordinator_locator) {
    throw std::runtime_error("this broker has no coordinator locator");
  }
  return *ctx.services->coordinator_locator;
}

int32_t SingleBrokerLocator::partition_count(group::CoordinatorKeyType type) const {
  if (type != group::CoordinatorKeyType::group) return 0;
  auto topic = catalog_.find(kOffsetsTopic);
  return topic ? topic->partitions : partitions_;  // the count it will be created with
}

asio::awaitable<bool> SingleBrokerLocator::ensure_offsets_topic() {
  if (state_.load() == 2) co_return true;
  int expected = 0;
  if (!state_.compare_exchange_strong(expected, 1)) co_return state_.load() == 2;
  if (!catalog_.find(kOffsetsTopic)) {
    std::map<std::string, std::string> configs{{"retention.ms", "-1"}};
    auto created = co_await catalog_.create(kOffsetsTopic, partitions_, configs);
    if (!created) {
      log::warn("kafka", "cannot create ", kOffsetsTopic, ": ", created.error().message);
      state_.store(0);
      co_return false;
    }
    log::info("kafka", "created ", kOffsetsTopic, " with ", partitions_, " partitions");
  }
  if (Status st = co_await load_offsets_topic(catalog_, groups_); !st) {
    log::warn("kafka", "cannot load ", kOffsetsTopic, ": ", st.error().message);
    state_.store(0);
    co_return false;
  }
  state_.store(2);
  co_return true;
}

asio::awaitable<Status> load_offsets_topic(const cluster::TopicCatalog& catalog, group::GroupCoordinator& groups) {
  auto topic = catalog.find(kOffsetsTopic);
  if (!topic) co_return ok_status();
  for (int32_t p = 0; p < topic->partitions; ++p) {
    if (Status st = co_await groups.load_partition(p); !st) co_return st;
  }
  co_return ok_status();
}

asio::awaitable<group::CoordinatorEndpoint> SingleBrokerLocator::locate(group::CoordinatorKeyType type,
                                                                        int32_t partition) {
  group::CoordinatorEndpoint e;
  if (type != group::CoordinatorKeyType::group) {
    e.error_code = 15;  // COORDINATOR_NOT_AVAILABLE: no transaction coordinator yet
    co_return e;
  }
  if (!co_await ensure_offsets_topic()) {
    e.error_code = 15;  // COORDINATOR_NOT_AVAILABLE: retriable
    co_return e;
  }
  e.node_id = self_.node_id;
  e.host = self_.advertised_host;
  e.port = self_.advertised_port;
  co_return e;
}

}  // namespace floe::kafka
