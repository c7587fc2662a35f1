// The embedded default's storage, all under data.dir: the metadata store (meta/), the object store (objects/,
// a file:// bucket) and the file WAL (wal/); on top of them the topic catalog and the partition logs.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <memory>
#include <string>

#include "app/config.h"
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

namespace floe::app {

struct EmbeddedStorage {
  std::unique_ptr<meta::MetaStore> meta;
  std::unique_ptr<objstore::ObjectStore> objects;
  std::unique_ptr<cluster::TopicCatalog> catalog;
  std::unique_ptr<stream::StreamStore> streams;
  kafka::ProducerStates producer_states;  // rebuilt from the logs at open
  int32_t leader_epoch = 0;  // one more than at the previous start of this node

  EmbeddedStorage();
  ~EmbeddedStorage();

  // Closes the partition logs (uploading what is durable) and stops the metadata store.
  asio::awaitable<void> close();
};

// Opens everything (replaying the WAL), running `io` until done: call before the listeners start serving.
// On failure returns nullptr and sets `error` to one line.
std::unique_ptr<EmbeddedStorage> open_embedded_storage(asio::io_context& io, const ServeConfig& config,
                                                       std::string& error);

}  // namespace floe::app
