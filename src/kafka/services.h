// What the data and admin handlers use beyond the request: the topic catalog, the partition logs, the fetch
// long-poll waiters and the broker's settings. Owned by the app; null in dispatcher unit tests, where only the
// APIs that need none of it (ApiVersions, Metadata of the broker itself) answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kafka/append_waiters.h"
#include "kafka/data_metrics.h"
#include "kafka/fetch_sessions.h"
#include "kafka/leadership.h"
#include "kafka/producer_states.h"

namespace floe::cluster {
class TopicCatalog;
class ClusterImage;
class Controller;
}
namespace floe::stream {
class StreamStore;
}
namespace floe::producer {
class ProducerIdAllocator;
}
namespace floe::group {
class GroupCoordinator;
class CoordinatorLocator;
}

namespace floe::kafka {

struct BrokerSettings {
  bool auto_create_topics = true;  // auto.create.topics.enable
  int32_t num_partitions = 1;      // num.partitions, for auto-created topics and CreateTopics with -1
  int32_t leader_epoch = 0;        // embedded mode: the epoch of every partition (bumped at each start)
  FetchSessionConfig fetch_sessions{};  // max.incremental.fetch.session.cache.slots, min...eviction.ms
  std::string log_dir = "objects";      // the one log dir DescribeLogDirs reports (the shared storage)
};

struct Services {
  cluster::TopicCatalog& catalog;
  stream::StreamStore& store;
  AppendWaiters& appends;
  producer::ProducerIdAllocator& producer_ids;
  ProducerStates& producer_states;
  Leadership& leadership;  // who leads which partition (embedded: this broker, everything)
  BrokerSettings settings;
  group::GroupCoordinator* groups = nullptr;                    // the consumer-group coordinator
  group::CoordinatorLocator* coordinator_locator = nullptr;     // who coordinates which __consumer_offsets partition
  DataMetrics* data_metrics = nullptr;                          // per-topic traffic counters (optional)
  // Cluster mode only (null in embedded mode): this broker's candidate controller (reassignments, drain) and the
  // metadata image (pending moves, drains).
  cluster::Controller* controller = nullptr;
  const cluster::ClusterImage* image = nullptr;
  // The broker's incremental fetch sessions (KIP-227), shared by all its connections; sized by `settings`.
  std::shared_ptr<FetchSessionCache> fetch_sessions = std::make_shared<FetchSessionCache>(settings.fetch_sessions);
};

}  // namespace floe::kafka
