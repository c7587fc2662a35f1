// ClusterImage: the broker's in-memory picture of the cluster (DESIGN §5), fed by ONE watch over the cluster root
// so events arrive in revision order. Keys and values: cluster_keys.h.
//
// open() reads the image at one revision R (a range read per prefix, each at revision R; the wal/ prefix keys
// only, to learn which epochs are being sealed; objects/ is never read), then watches the root from R+1. Events
// outside the prefixes it tracks are skipped cheaply (the WAL's commits under objects/ arrive too). If the watch's
// revision was compacted away, the image reloads in full at a new revision and watches on from there; subscribers
// then see one change with the reloaded state.
//
// The state is kept as an immutable ImageState behind a shared_ptr (copy on a batch that changes something), so a
// snapshot is cheap and consistent (everything in it is as of one revision). Accessors are thread-safe.
// If a TopicCatalog is given, the image keeps it up to date (topics created by another broker appear).
//
// Executors: the watch loop, subscriber callbacks and wait_for_revision's wake-ups run on the image's own strand
// (of the executor given to open()).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "base/result.h"
#include "cluster/cluster_keys.h"
#include "cluster/topic_catalog.h"

namespace floe::meta {
class MetaStore;
}

namespace floe::cluster {

enum class ClusterErrc {
  ok = 0,
  store_error = 1,     // the metadata store failed
  corrupt = 2,         // a value under the root does not decode
  timed_out = 3,       // wait_for_revision, registration waits
  closed = 4,          // the image / membership / controller was closed
  broker_id_in_use = 5,// brokers/<id> exists: a live process has this id
  not_controller = 6,  // a controller-only operation on a broker that is not the controller (or was deposed)
  conflict = 7,        // a txn's compares failed (the assignment changed meanwhile, epoch gone, ...)
  unknown_partition = 8,
  unknown_broker = 9,
  lost = 10,           // the membership's lease or epoch was lost
  invalid_config = 11, // a setting out of range (the message names it)
};
const std::error_category& cluster_category();
inline std::error_code make_error_code(ClusterErrc e) { return {static_cast<int>(e), cluster_category()}; }

struct PartitionKey {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

struct EpochKey {
  int32_t broker_id = 0;
  int64_t epoch = 0;
  auto operator<=>(const EpochKey&) const = default;
};

// Everything the image knows, as of `revision` (the revision of the last change the image applied; later
// revisions that touched nothing tracked leave it as is: ClusterImage::revision() says how far the watch is).
struct ImageState {
  int64_t revision = 0;
  std::map<int32_t, BrokerInfo> brokers;           // live registrations (brokers/<id>), epoch = create revision
  std::set<EpochKey> epochs;                       // epochs/<id>/<epoch> records
  std::set<EpochKey> sealing;                      // epochs with wal/<id>/<epoch>/sealing or /seal recorded
  std::map<PartitionKey, Assignment> assignments;
  std::map<std::string, TopicInfo> topics;
  std::optional<ControllerRecord> controller;
  std::map<int32_t, int64_t> drains;               // broker id -> epoch being drained

  // Live broker epochs: brokers/<id> present and its epochs/ record present.
  bool epoch_live(int32_t id, int64_t epoch) const;
};

class ClusterImage {
 public:
  // Loads the image and starts the watch. `catalog` (optional) is fed from the topics/ events; it must outlive
  // the image.
  static asio::awaitable<Result<std::unique_ptr<ClusterImage>>> open(asio::any_io_executor executor,
                                                                    meta::MetaStore& meta, std::string root,
                                                                    TopicCatalog* catalog = nullptr);
  ~ClusterImage();  // close()s without waiting
  ClusterImage(const ClusterImage&) = delete;
  ClusterImage& operator=(const ClusterImage&) = delete;

  const ClusterKeys& keys() const;
  std::shared_ptr<const ImageState> snapshot() const;

  std::vector<BrokerInfo> live_brokers() const;  // by id; brokers whose epochs/ record exists
  std::optional<BrokerInfo> broker(int32_t id) const;
  std::optional<Assignment> assignment(const std::string& topic, int32_t partition) const;
  std::vector<Assignment> assignments() const;
  // Active (not released) assignments of one broker epoch: what that epoch should be serving.
  std::vector<Assignment> assignments_of(int32_t broker_id, int64_t epoch) const;
  std::optional<int32_t> controller_id() const;
  std::optional<ControllerRecord> controller() const;
  int64_t revision() const;
  // Reloads after a compaction so far (for tests and metrics).
  uint64_t reloads() const;

  // Completes once the image has applied revision `rev` (a revision of a write under the root: a write elsewhere
  // never shows up here, so its wait times out). Errors: timed_out, closed.
  asio::awaitable<Status> wait_for_revision(int64_t rev, std::chrono::milliseconds timeout);

  // `on_change` runs on the image's strand after each applied batch that changed the state (keep it short; it may
  // call any accessor). Subscriptions last until close(). The subscription takes effect on the strand, later than
  // this call: a change applied in between is not reported. `call_now` closes that gap: on_change also runs once as
  // soon as the subscription is in place (so a subscriber that reads the state then misses nothing).
  void subscribe(std::function<void()> on_change, bool call_now = false);

  // Stops the watch; waits until the watch loop has ended. Idempotent.
  asio::awaitable<void> close();

  struct Core;

 private:
  explicit ClusterImage(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster

template <>
struct std::is_error_code_enum<floe::cluster::ClusterErrc> : std::true_type {};
