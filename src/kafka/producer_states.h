// The idempotence state of every partition this broker leads (one producer::ProducerStateTable per stream).
//
// Built at start-up by replaying the batch headers of each partition's log (rebuild_all); partitions created later
// start empty. Replaying the whole log is O(log size): snapshots taken with commits (DESIGN §8) will bound it.
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "base/result.h"
#include "producer/producer_state.h"

namespace floe::cluster {
class TopicCatalog;
}
namespace floe::stream {
class StreamStore;
}

namespace floe::kafka {

class ProducerStates {
 public:
  // The table of `stream_id`, created empty on first use.
  producer::ProducerStateTable& table(uint64_t stream_id);

  // Replays every partition's batches from its log start (start-up, before serving); the same pass feeds the
  // streams' leader-epoch histories.
  asio::awaitable<Status> rebuild_all(const cluster::TopicCatalog& catalog, stream::StreamStore& store,
                                      int32_t leader_epoch);

 private:
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<producer::ProducerStateTable>> tables_;
};

}  // namespace floe::kafka
