// Controller (DESIGN §6): runs in every broker; one of them is elected and assigns partitions, detects failed
// brokers, seals their epochs and moves partitions. Keys: cluster_keys.h.
//
// Election: `controller` is created with a create-only txn under the controller's own lease (its value: broker id
// and the heartbeat listener's host:port). The elected controller's guard is (election key, its create revision):
// EVERY txn it runs compares that create revision, so a deposed controller changes nothing (stream::seal_epoch gets
// the same guard). It acts only after its image has caught up with its election. It stops acting when the image
// shows another (or no) election key, or its lease is lost, and campaigns again.
//
// Duties of the elected controller, in passes (on every image change, every `tick` and on heartbeat news):
//  1. Failure detection. A broker epoch E with an epochs/ record is FAILED when
//       - brokers/<id> is gone or belongs to another epoch (lease expired, or the id registered again), or
//       - "sealing"/"seal" is recorded for E (its WAL fenced itself, or a controller began sealing it), or
//       - its heartbeat connection closed and none came back within `disconnect_grace`, or
//       - no heartbeat frame for `silence_timeout` (counted from the election for epochs never heard of), or
//       - it is the epoch of the broker that was controller before this election and it has not connected within
//         `previous_controller_grace` of the election. A controller that dies is deposed by the brokers whose
//         heartbeat connections to it closed, and one that pauses (SIGSTOP, hung) by the brokers whose heartbeats
//         it left unanswered for ~1 s (heartbeat.h: it acks each frame while it holds its election), so it is most
//         likely dead or paused; if it is alive its heartbeat client sees the new election key in its image and
//         connects within milliseconds.
//     The silence and closed-connection rules count from the controller's own last stall at the latest: a pass
//     that starts more than `tick` + `self_stall_allowance` after the previous one ended means this process was
//     not running its io (a blocked io thread, SIGSTOP, a starved machine), so heartbeats that arrived meanwhile
//     may still sit unread in their sockets; blaming the brokers for that would fail live ones. (Only delays
//     detection, which is always safe: sealing is what fences.) A controller paused for ~1 s or more has usually
//     been deposed meanwhile: resumed, its stale image may still show its key, but this rule keeps its first pass
//     from failing anyone, and every txn it tries fails its guard until its image shows the new election.
//  2. Recovery of a failed epoch: stream::seal_epoch (guarded; resumable, so a controller that takes over mid-seal
//     simply runs it again), then (after `fence_delay` since detection: file WAL only) E's partitions are reassigned to live epochs with leader_epoch + 1 (guarded txns
//     comparing each assignment's mod_revision), then E is forgotten: brokers/<id> (if still E's) and
//     epochs/<id>/<E> deleted in one guarded txn and E's lease revoked; sweep_sealed_epoch runs `sweep_delay` later.
//  3. Assignment. Every partition of every topic that has no assignment, a released one, one made for an older
//     topic with the same name, or one whose owner epoch was forgotten (sealed or deregistered) goes to an eligible
//     epoch: the released assignment's move target if eligible, else the eligible epoch with the fewest partitions
//     (ties: lowest broker id), never the epoch that released it while another is eligible. leader_epoch = previous + 1; a partition's first assignment has leader epoch 0.
//     Eligible: live (brokers/<id> and its record), not failed or sealing, no older epoch record of the same id
//     left (an unsealed earlier epoch is recovered before the new one gets partitions), not being drained.
//     Assignments of deleted topics (or of partitions beyond the topic's count) are deleted.
//     THE RULE: an active assignment of an epoch that still has its record is never rewritten by this pass; a
//     partition leaves epoch E only by E's release txn or by sealing E (step 2).
//  4. Moves. Drain (drains/<id> naming the live epoch) sets move targets on all of that epoch's partitions;
//     balancing (on by default) sets move targets from the most to the least loaded eligible epoch while their
//     counts differ by more than one (this is how a new broker gets its share: scale-out), which is the fewest
//     moves that even out the counts; a released partition counts toward its move target until it is reassigned
//     (no move one way and then back). Balancing runs only while no epoch is failed and every partition is
//     assigned, with at most `max_balance_moves_in_flight` of its targets outstanding (in waves). At most
//     `max_moves_in_flight` targets are outstanding in all. The owner sees its target, releases, and step 3
//     assigns the released partition to the target.
//
// Executors: everything (campaign, passes, the heartbeat listener) runs on the controller's strand. The public
// coroutines may be awaited from any executor.
//
// Graceful shutdown of a broker (SIGTERM, rolling restart, scale-in): drain(own id), release each partition as its
// move target appears (after its WAL is durable and committed), and once the image shows no active assignment of
// the epoch, BrokerMembership::deregister().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "base/log2_histogram.h"
#include "base/result.h"
#include "cluster/cluster_image.h"

namespace floe::meta {
class MetaStore;
struct TxnRequest;
}
namespace floe::objstore {
class ObjectStore;
}

namespace floe::cluster {

struct ControllerConfig {
  int32_t broker_id = -1;
  std::string heartbeat_host = "127.0.0.1";  // the heartbeat listener binds here (the broker's host)
  uint16_t heartbeat_port = 0;               // 0: any free port (advertised in the election key)
  std::string heartbeat_advertise;           // host brokers connect to; empty: heartbeat_host (must not be 0.0.0.0)
  int64_t lease_ttl_seconds = 2;             // etcd's minimum is about 2 s
  std::chrono::milliseconds heartbeat_interval{250};  // what brokers send at (informational here)
  std::chrono::milliseconds disconnect_grace{300};
  std::chrono::milliseconds silence_timeout{1000};
  std::chrono::milliseconds previous_controller_grace{300};
  std::chrono::milliseconds tick{50};                 // pass period when nothing else wakes the controller
  std::chrono::milliseconds self_stall_allowance{200};  // pass gap beyond `tick` that counts as its own stall
  std::chrono::milliseconds retry_interval{100};      // campaign / failed pass retry
  objstore::ObjectStore* objects = nullptr;           // the object WAL's store (sealing); must outlive the controller
  std::string object_prefix;
  std::chrono::milliseconds seal_op_timeout{5000};
  // File WAL on a shared volume (DESIGN §6: its fencing depends on timing): a failed epoch's partitions are
  // reassigned only this long after the failure was detected (set lease TTL + margin). 0 for the object WAL, whose
  // seal fences by construction, so early failover is safe.
  std::chrono::milliseconds fence_delay{0};
  std::chrono::milliseconds sweep_delay{10000};       // after forgetting an epoch, sweep its late WAL objects
  size_t max_pending_sweeps = 1024;
  // etcd's limits per txn (--max-txn-ops: compares and ops counted apart, each at most 128; --max-request-bytes).
  size_t max_ops_per_txn = 128;
  size_t max_bytes_per_txn = 1u << 20;
  bool balance = true;
  size_t max_moves_in_flight = 256;
  size_t max_balance_moves_in_flight = 64;  // of those, set by balancing (drains may use the rest)
  size_t max_heartbeat_connections = 4096;
  // Tests: called at named recovery steps ("before_seal", "after_seal", "after_reassign"); returning true stops the
  // controller right there, as a crash would (no resignation: its lease must expire or be revoked).
  std::function<bool(std::string_view step, EpochKey epoch)> crash_at;
};

struct ControllerStats {
  std::atomic<uint64_t> elections{0};
  std::atomic<uint64_t> epochs_sealed{0};
  std::atomic<uint64_t> assignments_written{0};
  std::atomic<uint64_t> moves_requested{0};
  std::atomic<uint64_t> sweeps{0};
  std::atomic<uint64_t> failed_txns{0};  // guarded txns whose compares failed
  std::atomic<uint64_t> assignment_txns{0};       // txns that wrote assignments (reassignments, moves, assignment)
  std::atomic<uint64_t> peak_txns_in_flight{0};   // most assignment txns sent at once
  // Failed broker epochs this controller recovered: failure detected -> its partitions reassigned (microseconds).
  Log2Histogram recovery_durations;
};

class Controller {
 public:
  // Starts the heartbeat listener and the campaign. The image (same root) and the store must outlive it (await
  // stop() before destroying them).
  // Errors: a setting out of range (ClusterErrc::invalid_config, naming it), the listener's bind error.
  static Result<std::unique_ptr<Controller>> start(asio::any_io_executor executor, meta::MetaStore& meta,
                                                   ClusterImage& image, ControllerConfig config);
  ~Controller();  // stop_async()
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  bool elected() const;
  int64_t election_revision() const;  // create revision of the election key this controller holds (0: none)
  std::string heartbeat_endpoint() const;
  const ControllerStats& stats() const;

  // Sets the move target of the active assignment (guarded: only the elected controller). The owner then
  // releases and the partition is assigned to `target`. Errors: not_controller, unknown_partition (no active
  // assignment), unknown_broker (target not live), conflict.
  asio::awaitable<Status> request_move(std::string topic, int32_t partition, int32_t target);
  // Marks broker `broker_id`'s live epoch as draining (drains/<id>; any broker may call this): the elected
  // controller moves all its partitions to others and assigns it nothing more. Errors: unknown_broker.
  asio::awaitable<Status> drain(int32_t broker_id);
  // Runs `txn` with the guard of the last election this controller won (also after it was deposed: this is how a
  // deposed controller's writes look). false: a compare failed (deposed, or the txn's own compares).
  // Errors: not_controller (never elected), store errors.
  asio::awaitable<Result<bool>> guarded_txn(meta::TxnRequest txn);

  // Stops campaigning and acting; waits until the strand is done. `resign`: revoke the lease (the election key
  // goes at once) instead of leaving it to expire.
  asio::awaitable<void> stop(bool resign = true);
  void stop_async();

  struct Core;

 private:
  explicit Controller(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster
