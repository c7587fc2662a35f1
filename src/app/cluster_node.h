// Cluster mode (DESIGN §6, §9): `floe serve --meta etcd://... --objects s3://... ` — a stateless broker.
//
// Opening, in order: the etcd metadata store and the object store; the topic catalog and the metadata image (one
// watch feeds both); the cluster id (created once, by whichever broker starts first); the broker's registration
// (its epoch); the partition logs on the object WAL of that epoch (appends only to partitions opened here); the
// group coordinator; the partition manager (opens what the controller assigns to this epoch); and this broker's
// candidate controller. Nothing is read from or written to local disk.
//
// Closing (SIGTERM) is a graceful handoff: every partition is released (WAL durable and committed, one release
// txn), the registration is deleted, then everything stops. A broker whose registration is lost (its lease
// expired, or the controller sealed its epoch while it was paused) stops serving at once: its partitions are
// dropped, its WAL refuses further appends, and it exits so that a supervisor starts it again with a new epoch.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "app/config.h"
#include "kafka/broker_identity.h"
#include "kafka/producer_states.h"

namespace floe::meta {
class MetaStore;
}
namespace floe::objstore {
class ObjectStore;
}
namespace floe::cluster {
class TopicCatalog;
class ClusterImage;
class BrokerMembership;
class Controller;
class WatchLagProbe;
}  // namespace floe::cluster
namespace floe::stream {
class StreamStore;
}
namespace floe::group {
class GroupCoordinator;
class CoordinatorLocator;
}  // namespace floe::group
namespace floe::kafka {
class StreamGroupLog;
class ClusterLeadership;
class PartitionManager;
class ProducerSnapshotTask;
}  // namespace floe::kafka

namespace floe::app {

struct ClusterNode {
  std::unique_ptr<meta::MetaStore> meta;
  std::shared_ptr<objstore::ObjectStore> objects;
  std::unique_ptr<cluster::TopicCatalog> catalog;
  std::unique_ptr<cluster::ClusterImage> image;
  std::unique_ptr<cluster::BrokerMembership> membership;
  std::unique_ptr<stream::StreamStore> streams;
  std::unique_ptr<kafka::ProducerStates> producer_states;
  std::unique_ptr<kafka::ClusterLeadership> leadership;
  std::unique_ptr<kafka::StreamGroupLog> group_log;
  std::unique_ptr<group::GroupCoordinator> groups;
  std::unique_ptr<group::CoordinatorLocator> locator;
  std::unique_ptr<kafka::PartitionManager> partitions;
  std::unique_ptr<kafka::ProducerSnapshotTask> producer_snapshots;
  std::unique_ptr<cluster::Controller> controller;
  std::unique_ptr<cluster::WatchLagProbe> watch_probe;  // the image's watch lag (metrics, the committed-read gate)
  int64_t broker_epoch = 0;
  // What the StreamStore's hooks (compaction_gate, committed_reads_allowed) read, from any thread: set once the
  // controller / probe runs, cleared by close() before they stop. Atomics, not the unique_ptrs above, which are
  // written while the store's background loop may already run.
  std::atomic<cluster::Controller*> running_controller{nullptr};
  std::atomic<cluster::WatchLagProbe*> running_probe{nullptr};

  ClusterNode();
  ~ClusterNode();

  // Graceful: releases every partition, deregisters, stops.
  asio::awaitable<void> close();
  // Called once when the registration is lost (set before open returns): main stops the process.
  std::function<void(std::string why)> on_lost;
};

// Opens everything, running `io` until done (before the listeners serve). `identity` gets the cluster id.
// On failure returns nullptr and sets `error` to one line.
std::unique_ptr<ClusterNode> open_cluster_node(asio::io_context& io, const ServeConfig& config,
                                               kafka::BrokerIdentity& identity, std::string& error);

}  // namespace floe::app
