// BrokerMembership: a broker's registration in the cluster (DESIGN §6 "Registration"). Keys: cluster_keys.h.
//
// register_broker():
//   1. Grants a lease (lease_ttl) and keeps it alive (meta::LeaseKeeper).
//   2. Creates brokers/<id> under the lease with a create-only txn. If the key exists (a live process with this id,
//      or one killed moments ago whose epoch the controller has not sealed yet) it retries until `id_in_use_wait`
//      (default: lease TTL + 1 s: by then a dead process's key is gone, sealed or expired) and then fails with
//      broker_id_in_use. The broker epoch E = the create revision of brokers/<id>.
//   3. Creates epochs/<id>/<E> (no lease) in a second txn that compares brokers/<id>'s create revision == E. It
//      cannot be the same txn: the key names the revision that txn creates. The gap is harmless: the controller
//      assigns partitions only to epochs that have their epochs/ record, and the broker writes nothing (no WAL)
//      before registration returns; a broker dying in the gap leaves a key that its lease deletes.
//   4. Starts the heartbeat client (heartbeat.h). It also deposes a controller whose heartbeat listener stays
//      unreachable for `depose_controller_after` (0: never), so a killed controller is replaced without waiting for
//      its lease to expire, and one that leaves a heartbeat unanswered for `depose_silent_controller_after` (a
//      paused or hung process keeps its sockets open).
//   5. If records of older epochs of this id exist (kill -9 and a quick restart), waits (at most
//      `previous_epoch_wait`) until they are gone: the controller seals them and forgets them (DESIGN §6: an
//      unsealed earlier epoch is sealed and recovered before any partition is assigned to the new epoch; the
//      controller also assigns nothing to E while they exist). The choice for "no controller": only when no
//      controller key has existed for `self_seal_after` (default lease TTL + 1 s, longer than an election takes)
//      does the broker run stream::seal_epoch on its own older epochs with no guard, then deletes their records.
//      That is safe even if a controller appears meanwhile and seals the same epoch: the seal protocol tolerates
//      an unguarded sealer racing a guarded one (seal.pml FAILOVER=2). Needs `objects`; without it the broker only
//      waits.
//
// Lost: on_lost() callbacks fire once, when the lease is lost (LeaseKeeper), or the image shows brokers/<id> gone
// or re-created, the epochs/ record gone, or "sealing"/"seal" recorded for E (the controller sealed this epoch, or
// the WAL fenced itself). The broker must then stop serving and register again (a new BrokerMembership).
//
// Executors: the membership's own strand (lease callbacks are posted to it); on_lost callbacks run on it.
// Close (or deregister) before destroying the image or the store.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "base/result.h"
#include "cluster/cluster_image.h"

namespace floe::meta {
class MetaStore;
}
namespace floe::objstore {
class ObjectStore;
}

namespace floe::cluster {

struct MembershipConfig {
  int32_t broker_id = -1;
  std::string host;  // advertised Kafka listener
  int32_t port = 0;
  std::optional<std::string> rack;
  std::string http;  // HTTP (admin / metrics) address host:port
  int64_t lease_ttl_seconds = 2;                    // etcd's minimum is about 2 s
  std::chrono::milliseconds heartbeat_interval{250};
  std::chrono::milliseconds depose_controller_after{300};  // heartbeat.h; 0: leave it to the controller's lease
  // heartbeat.h: a controller that leaves a heartbeat unanswered this long (paused, hung) is deposed; 0: never.
  std::chrono::milliseconds depose_silent_controller_after{1000};
  std::chrono::milliseconds id_in_use_wait{0};      // 0: lease TTL + 1 s
  std::chrono::milliseconds previous_epoch_wait{30000};
  std::chrono::milliseconds self_seal_after{0};     // 0: lease TTL + 1 s
  std::chrono::milliseconds retry_interval{100};    // between polls while waiting
  objstore::ObjectStore* objects = nullptr;         // for the self-seal; must outlive the membership
  std::string object_prefix;                        // the object WAL's key prefix in `objects`
  size_t max_ops_per_txn = 100;                     // release() splits bigger sets (etcd allows 128 per txn)
};

struct ReleaseOutcome {
  size_t released = 0;
  std::vector<Assignment> skipped;  // not released (see release()), as given
};

class BrokerMembership {
 public:
  using LostCallback = std::function<void(std::error_code)>;

  // Registers (steps above). The image must be open on the same root and outlive the membership.
  static asio::awaitable<Result<std::unique_ptr<BrokerMembership>>> register_broker(asio::any_io_executor executor,
                                                                                  meta::MetaStore& meta,
                                                                                  ClusterImage& image,
                                                                                  MembershipConfig config);
  ~BrokerMembership();  // stops heartbeats and keep-alives without waiting (like a crash: the lease expires)
  BrokerMembership(const BrokerMembership&) = delete;
  BrokerMembership& operator=(const BrokerMembership&) = delete;

  int32_t id() const;
  int64_t epoch() const;
  int64_t lease_id() const;
  // Not lost and the lease's local deadline not passed (check before each ack, DESIGN §6).
  bool alive() const;
  bool lost() const;
  // Runs `callback` once when the membership is lost (at once, on the strand, if it already is).
  void on_lost(LostCallback callback);

  // Graceful release of partitions this epoch holds: one txn per max_ops_per_txn assignments, comparing each
  // assignment's mod_revision and that epochs/<id>/<E> exists; each becomes released (owner fields kept, so the
  // controller knows the previous leader epoch). One that changed meanwhile does not hold up the others: a txn whose
  // compares fail reads the keys back (its failure branch), and the next round (at most 3 per txn) releases every
  // one still held by this epoch at the same leader epoch, at its current revision and value (a move target set
  // meanwhile stays). Skipped (in the outcome, as given): not held by this epoch as given, moved to another epoch,
  // released already, deleted, or changing in every round. Errors: conflict when epochs/<id>/<E> is gone (what was
  // released before stays released), store errors.
  asio::awaitable<Result<ReleaseOutcome>> release(std::vector<Assignment> assignments);

  // Clean exit after every partition was released: deletes brokers/<id> and epochs/<id>/<E> in one txn, revokes
  // the lease and stops. Errors: conflict while the image still shows an active assignment of E (release first;
  // the broker must have stopped opening partitions), store errors.
  asio::awaitable<Status> deregister();

  // Stops heartbeats and keep-alives and waits until they ended; the metadata is left to expire with the lease.
  asio::awaitable<void> close();

  // Fault injection for tests and drills: close the heartbeat connection for good (as a killed process would), or
  // stop renewing the lease (as a paused process would) while heartbeats go on.
  void stop_heartbeats();
  void stop_keepalive();

  struct Core;

 private:
  explicit BrokerMembership(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster
