// Internals of Controller (controller.h), shared by controller.cc (election, loop, API) and
// controller_passes.cc (failure detection, recovery, assignment, moves). Everything here runs on `strand`.
#pragma once

#include <deque>
#include <map>
#include <set>

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "cluster/controller.h"
#include "cluster/heartbeat.h"
#include "meta/lease_keeper.h"
#include "meta/meta_store.h"

namespace floe::cluster {

struct Controller::Core : std::enable_shared_from_this<Core> {
  using Clock = std::chrono::steady_clock;

  Core(asio::any_io_executor ex, meta::MetaStore& m, ClusterImage& img, ControllerConfig c)
      : executor(ex), strand(asio::make_strand(ex)), meta(m), image(img), keys(img.keys()), config(std::move(c)),
        wake(strand), done_timer(strand, asio::steady_timer::time_point::max()) {}

  asio::any_io_executor executor;
  asio::strand<asio::any_io_executor> strand;
  meta::MetaStore& meta;
  ClusterImage& image;
  ClusterKeys keys;
  ControllerConfig config;
  ControllerStats stats;
  std::unique_ptr<HeartbeatServer> heartbeat;
  std::string heartbeat_endpoint;

  // Election (strand; the atomics are read by the API from any thread).
  std::unique_ptr<meta::LeaseKeeper> keeper;
  int64_t lease_id = 0;
  std::atomic<int64_t> election_revision{0};  // 0 while not elected
  std::atomic<int64_t> last_election{0};      // the last election won (kept after deposition)
  std::atomic<bool> stopping{false};
  bool crashed = false;
  bool done = false;
  asio::steady_timer wake;        // the loop's pause; cancelled to run a pass now
  asio::steady_timer done_timer;  // cancelled when the loop has ended

  // The last election key of another broker this one saw while campaigning, and (per term) that broker's epoch
  // at the election: it gets only `previous_controller_grace` to connect (see controller.h).
  std::optional<ControllerRecord> previous_controller;
  std::optional<EpochKey> previous_controller_epoch;

  // Failure detection and recovery state (per election).
  Clock::time_point elected_at{};
  Clock::time_point last_pass_end{};  // when the previous pass ended (zero: none this term)
  Clock::time_point resumed_at{};     // the end of this controller's own last stall seen between passes
  std::map<EpochKey, Clock::time_point> first_seen;
  std::set<EpochKey> reported;  // failures already logged
  std::map<EpochKey, Clock::time_point> detected_at;  // when each failed epoch was first found failed
  std::map<EpochKey, uint64_t> sealed_at;             // epochs this term sealed, not yet forgotten: seal seq
  struct Sweep {
    EpochKey epoch;
    Clock::time_point due;
    int attempts = 0;
  };
  std::deque<Sweep> sweeps;

  // controller.cc
  asio::awaitable<void> run();
  asio::awaitable<bool> ensure_lease();
  asio::awaitable<bool> campaign();
  asio::awaitable<void> serve_term();
  asio::awaitable<void> pause(std::chrono::milliseconds d);
  bool still_elected() const;
  void add_guard(meta::TxnRequest& txn) const;
  // A guarded txn; nullopt on a store error (logged), 0 when its compares failed, else the revision it landed at.
  asio::awaitable<std::optional<int64_t>> send(meta::TxnRequest txn, const char* what);
  // send() of every txn at once (each on its own, in no order); their results in the same order.
  asio::awaitable<std::vector<std::optional<int64_t>>> send_all(std::vector<meta::TxnRequest> txns, const char* what);
  // A guarded txn; nullopt on a store error (logged), else whether it succeeded. Waits for the image to show it.
  asio::awaitable<std::optional<bool>> commit(meta::TxnRequest txn, const char* what);
  bool crash(std::string_view step, const EpochKey& e);

  // controller_passes.cc
  asio::awaitable<void> pass();
  std::vector<EpochKey> failed_epochs(const ImageState& s, Clock::time_point now);
  // Seals, reassigns (never to an epoch in `failed`) and forgets E. false: not done (retried next pass).
  asio::awaitable<bool> recover(EpochKey e, std::set<EpochKey> failed);
  asio::awaitable<void> assign(const ImageState& s, const std::set<EpochKey>& failed);
  asio::awaitable<void> moves(const ImageState& s, const std::set<EpochKey>& failed);
  asio::awaitable<void> run_sweeps();
  std::vector<EpochKey> eligible(const ImageState& s, const std::set<EpochKey>& failed) const;
  // Puts `batch` (assignment values keyed by partition, each with the mod_revision expected now) in as few guarded
  // txns as max_ops_per_txn (compares and puts each) and max_bytes_per_txn allow, sent all at once; each target
  // epoch's record and registration are compared too. true: every one landed (the image shows them).
  asio::awaitable<bool> write_assignments(std::vector<Assignment> batch, const char* what);
};

}  // namespace floe::cluster
