// PartitionManager: the broker side of partition ownership in cluster mode (DESIGN §6).
//
// It follows the metadata image: every active assignment to this broker's epoch is opened here, and every one that
// carries a move target (reassignment, drain, scale-out, shutdown) is handed off gracefully. No log data moves in
// either direction: opening reads the committed end from metadata; handing off makes the WAL durable and committed.
//
//   open    : StreamStore::acquire (a linearizable read of the committed state: never a stale end) -> producer
//             state loaded -> __consumer_offsets partitions loaded into the group coordinator -> marked local (from
//             then on produce/fetch are served, at the assignment's leader epoch)
//   release : unmarked (new requests get NOT_LEADER_OR_FOLLOWER) -> group partition unloaded -> StreamStore::release
//             (everything appended is durable and committed) -> a producer-state snapshot at that end (the next
//             owner replays nothing) -> the release txn (BrokerMembership::release), which names the move
//             target's live epoch with leader epoch + 1 when it can (else the controller gives the partition to
//             its next owner with leader epoch + 1)
//
// Assignments that disappear or move to another epoch without our release (the topic was deleted, or this epoch
// was sealed: then membership reports it lost and the broker stops serving) are dropped locally at once.
//
// Threads: one coroutine on a strand of the given executor; the image's change callback only pokes it. Opening
// and releasing are batched: one acquire / release / txn covers every partition that changed together, so a broker
// taking over hundreds of partitions does one metadata read, not hundreds. After the acquire, the per-partition
// steps (producer-state snapshot read and log replay, group load) run for up to `max_parallel_loads` partitions at
// once, each partition serving as soon as its own load is done: a failover's replays overlap instead of queueing.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/log2_histogram.h"
#include "base/result.h"

namespace floe::cluster {
class ClusterImage;
class BrokerMembership;
class TopicCatalog;
struct Assignment;
}  // namespace floe::cluster
namespace floe::stream {
class StreamStore;
}
namespace floe::group {
class GroupCoordinator;
}

namespace floe::kafka {

class ClusterLeadership;
class ProducerStates;

struct PartitionManagerDeps {
  cluster::ClusterImage& image;
  cluster::BrokerMembership& membership;
  cluster::TopicCatalog& catalog;
  stream::StreamStore& store;
  ProducerStates& producer_states;
  group::GroupCoordinator& groups;
  ClusterLeadership& leadership;
};

struct PartitionManagerOptions {
  size_t max_parallel_loads = 32;  // partitions whose producer state / group loads run at once (>= 1)
};

struct PartitionManagerStats {
  uint64_t opened = 0;
  uint64_t released = 0;
  uint64_t dropped = 0;       // lost without a release (topic deleted, epoch sealed)
  uint64_t open_failures = 0;
  int64_t last_open_batch_ms = 0;
  size_t last_open_batch_size = 0;
  size_t local = 0;
  // Partitions opened here after a change of owner: the assignment's handoff start (the controller detected the old
  // owner's failure, or requested the move) -> serving here, in microseconds. Wall clocks: the controller's host
  // and this one's.
  Log2HistogramSnapshot failover_open_us;
  Log2HistogramSnapshot move_open_us;
};

class PartitionManager {
 public:
  PartitionManager(asio::any_io_executor executor, PartitionManagerDeps deps, int32_t self_id, int64_t broker_epoch,
                   PartitionManagerOptions options = {});
  ~PartitionManager();

  void start();
  // Graceful shutdown (SIGTERM, drain): stops opening, releases every local partition, bounded by `timeout`.
  asio::awaitable<Status> release_all(std::chrono::milliseconds timeout);
  // Stops the loop without releasing (the epoch is lost or sealed: its partitions are the sealer's now).
  asio::awaitable<void> stop();

  PartitionManagerStats stats() const;

 private:
  struct Open {
    std::string topic;
    int32_t partition = 0;
    uint64_t stream = 0;
    int32_t leader_epoch = 0;
  };
  asio::awaitable<void> run();
  asio::awaitable<void> reconcile();
  asio::awaitable<void> open_batch(std::vector<cluster::Assignment> batch);
  struct LoadJob;
  // One of open_batch's parallel loaders: takes partitions off `job` until none is left.
  asio::awaitable<void> load_worker(std::shared_ptr<LoadJob> job);
  asio::awaitable<Status> release_batch(std::vector<cluster::Assignment> batch);
  void drop(uint64_t stream);
  bool holds_assignments() const;  // an active assignment to this epoch is in the image
  void poke();

  asio::strand<asio::any_io_executor> strand_;
  PartitionManagerDeps deps_;
  int32_t self_id_;
  int64_t broker_epoch_;
  PartitionManagerOptions options_;
  asio::steady_timer wake_;
  asio::steady_timer done_;
  bool stopping_ = false;
  bool releasing_all_ = false;
  bool running_ = false;
  bool dirty_ = true;  // the image changed since the last reconcile
  std::map<uint64_t, Open> open_;  // strand only
  mutable std::mutex stats_mu_;
  PartitionManagerStats stats_;
  Log2Histogram failover_open_us_;
  Log2Histogram move_open_us_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace floe::kafka
