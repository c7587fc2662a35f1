// The embedded default's storage, all under data.dir: the metadata store (meta/), the object store (objects/,
// a file:// bucket) and the file WAL (wal/); on top of them the topic catalog and the partition logs.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <memory>
#include <string>

#include "app/config.h"
#include "kafka/producer_snapshots.h"
#include "kafka/producer_states.h"

namespace floe::meta {
class MetaStore;
}
namespace floe::objstore {
class ObjectStore;
}
namespace floe::cluster {
class TopicCatalog;
}
namespace floe::stream {
class StreamStore;
}
namespace floe::group {
class GroupCoordinator;
}
namespace floe::kafka {
class StreamGroupLog;
}

namespace floe::app {

struct EmbeddedStorage {
  std::unique_ptr<meta::MetaStore> meta;
  std::unique_ptr<objstore::ObjectStore> objects;
  std::unique_ptr<cluster::TopicCatalog> catalog;
  std::unique_ptr<stream::StreamStore> streams;
  std::unique_ptr<kafka::ProducerStates> producer_states;  // loaded from snapshots and the logs at open
  std::unique_ptr<kafka::ProducerSnapshotTask> producer_snapshots;
  std::unique_ptr<kafka::StreamGroupLog> group_log;  // __consumer_offsets on the streams
  std::unique_ptr<group::GroupCoordinator> groups;   // leads every __consumer_offsets partition
  int32_t offsets_partitions() const;                // of __consumer_offsets, existing or to be created
  int32_t leader_epoch = 0;                          // one more than at the previous start of this node

  EmbeddedStorage();
  ~EmbeddedStorage();

  int32_t offsets_partitions_ = 0;

  // Stops the group coordinator, closes the partition logs (uploading what is durable), writes the last producer
  // snapshots, stops the metadata store.
  asio::awaitable<void> close();
};

// Opens everything (replaying the WAL), running `io` until done: call before the listeners start serving.
// On failure returns nullptr and sets `error` to one line.
std::unique_ptr<EmbeddedStorage> open_embedded_storage(asio::io_context& io, const ServeConfig& config,
                                                       std::string& error);

}  // namespace floe::app
