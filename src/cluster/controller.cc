// Controller: election, the term loop and the public API. The passes are in controller_passes.cc.
#include "cluster/controller.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "cluster/controller_core.h"

namespace floe::cluster {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
Error cerr(ClusterErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

}  // namespace

namespace {
// On the controller's strand (done and done_timer belong to it).
asio::awaitable<void> wait_done(std::shared_ptr<Controller::Core> core) {
  while (!core->done) co_await core->done_timer.async_wait(kTuple);
}
}  // namespace

asio::awaitable<void> Controller::Core::pause(std::chrono::milliseconds d) {
  wake.expires_after(d);
  co_await wake.async_wait(kTuple);
}

bool Controller::Core::still_elected() const {
  const int64_t rev = election_revision.load();
  if (rev == 0 || stopping.load() || crashed) return false;
  if (!keeper || !keeper->alive()) return false;
  auto c = image.controller();
  return c && c->create_revision == rev;
}

void Controller::Core::add_guard(meta::TxnRequest& txn) const {
  txn.compares.insert(txn.compares.begin(), meta::Compare::create_revision(keys.controller(),
                                                                           meta::Compare::Result::equal,
                                                                           election_revision.load()));
}

asio::awaitable<std::optional<int64_t>> Controller::Core::send(meta::TxnRequest txn, const char* what) {
  if (election_revision.load() == 0) co_return 0;
  add_guard(txn);
  std::vector<meta::Compare> compares = txn.compares;
  auto r = co_await meta.txn(std::move(txn));
  if (!r) {
    log::warn("cluster", "controller ", config.broker_id, ": ", what, ": ", r.error().message());
    co_return std::nullopt;
  }
  if (!r->succeeded) {
    stats.failed_txns.fetch_add(1);
    log::debug("cluster", "controller ", config.broker_id, ": ", what, ": compares failed");
    if (log::level() <= log::Level::debug) {
      for (const auto& c : compares) {
        auto kv = co_await meta.get(c.key);
        log::debug("cluster", "  compare ", c.key, " target ", static_cast<int>(c.target), " result ",
                   static_cast<int>(c.result), " number ", c.number, " now: ",
                   kv && kv->has_value() ? "create " + std::to_string((*kv)->create_revision) + " mod " +
                                               std::to_string((*kv)->mod_revision) + " version " +
                                               std::to_string((*kv)->version)
                                         : std::string("absent"));
      }
    }
    co_return 0;
  }
  co_return std::max<int64_t>(r->revision, 1);
}

asio::awaitable<std::optional<bool>> Controller::Core::commit(meta::TxnRequest txn, const char* what) {
  auto r = co_await send(std::move(txn), what);
  if (!r) co_return std::nullopt;
  if (*r == 0) co_return false;
  // The next pass must see what this one wrote.
  (void)co_await image.wait_for_revision(*r, std::chrono::seconds(2));
  co_return true;
}

namespace {
// The txns of one send_all() still in flight and their results (all on the controller's strand).
struct SendJoin {
  explicit SendJoin(asio::strand<asio::any_io_executor>& strand, size_t n)
      : left(n), done(strand, asio::steady_timer::time_point::max()), results(n) {}
  size_t left;
  asio::steady_timer done;  // cancelled when the last one is back
  std::vector<std::optional<int64_t>> results;
};

asio::awaitable<void> send_one(std::shared_ptr<Controller::Core> core, std::shared_ptr<SendJoin> join, size_t at,
                               meta::TxnRequest txn, const char* what) {
  join->results[at] = co_await core->send(std::move(txn), what);
  if (--join->left == 0) join->done.cancel();
}
}  // namespace

asio::awaitable<std::vector<std::optional<int64_t>>> Controller::Core::send_all(std::vector<meta::TxnRequest> txns,
                                                                                const char* what) {
  if (txns.size() == 1) {
    std::vector<std::optional<int64_t>> one;
    one.push_back(co_await send(std::move(txns.front()), what));
    co_return one;
  }
  auto join = std::make_shared<SendJoin>(strand, txns.size());
  uint64_t peak = stats.peak_txns_in_flight.load();
  while (peak < txns.size() && !stats.peak_txns_in_flight.compare_exchange_weak(peak, txns.size())) {
  }
  auto self = shared_from_this();
  for (size_t t = 0; t < txns.size(); ++t) {
    asio::co_spawn(strand, send_one(self, join, t, std::move(txns[t]), what), asio::detached);
  }
  while (join->left > 0) co_await join->done.async_wait(kTuple);
  co_return std::move(join->results);
}

bool Controller::Core::crash(std::string_view step, const EpochKey& e) {
  if (!config.crash_at || !config.crash_at(step, e)) return false;
  log::warn("cluster", "controller ", config.broker_id, ": crashing at ", step, " (test)");
  crashed = true;
  if (keeper) keeper->stop_async();  // a dead process renews nothing: the lease expires
  if (heartbeat) heartbeat->stop();  // and its sockets close
  return true;
}

asio::awaitable<bool> Controller::Core::ensure_lease() {
  if (keeper && keeper->alive()) co_return true;
  if (keeper) {
    // This controller no longer acts under that lease: revoke it (if the server still has it) so the election key
    // it may hold goes now rather than at its expiry, and another controller can take over at once.
    (void)co_await keeper->stop(true);
    keeper.reset();
  }
  const auto granted_at = Clock::now();
  auto lease = co_await meta.lease_grant(config.lease_ttl_seconds);
  if (!lease) {
    log::warn("cluster", "controller ", config.broker_id, ": lease: ", lease.error().message());
    co_return false;
  }
  std::weak_ptr<Core> weak = shared_from_this();
  auto k = meta::LeaseKeeper::start(executor, meta, lease->id, lease->ttl, granted_at, {},
                                    [weak](meta::LeaseState, std::error_code) {
                                      if (auto self = weak.lock()) {
                                        asio::post(self->strand, [self] { self->wake.cancel(); });
                                      }
                                    });
  if (!k) co_return false;
  keeper = std::move(*k);
  lease_id = lease->id;
  co_return true;
}

asio::awaitable<bool> Controller::Core::campaign() {
  if (auto holder = image.controller()) {  // someone holds it: wait for a change
    if (holder->broker_id != config.broker_id) previous_controller = holder;
    co_return false;
  }
  meta::TxnRequest txn;
  txn.compares.push_back(meta::Compare::version(keys.controller(), meta::Compare::Result::equal, 0));
  txn.success.push_back(meta::PutRequest{
      keys.controller(), encode_controller(ControllerRecord{config.broker_id, heartbeat_endpoint, 0}), lease_id,
      false});
  auto r = co_await meta.txn(std::move(txn));
  if (!r || !r->succeeded) co_return false;
  election_revision.store(r->revision);
  last_election.store(r->revision);
  heartbeat->set_election(config.broker_id, r->revision);  // brokers hear from it from now on
  stats.elections.fetch_add(1);
  co_return true;
}

asio::awaitable<void> Controller::Core::serve_term() {
  const int64_t rev = election_revision.load();
  if (Status st = co_await image.wait_for_revision(rev, std::chrono::seconds(5)); !st) {
    log::warn("cluster", "controller ", config.broker_id, ": image did not reach the election: ", st.error().message);
  }
  elected_at = Clock::now();
  previous_controller_epoch.reset();
  if (previous_controller) {
    if (auto b = image.broker(previous_controller->broker_id)) {
      previous_controller_epoch = EpochKey{b->id, b->epoch};
    }
    previous_controller.reset();
  }
  first_seen.clear();
  last_pass_end = {};
  resumed_at = {};
  sealed_at.clear();  // a new term re-runs the (resumable) seal before acting on it
  detected_at.clear();
  log::info("cluster", "controller: broker ", config.broker_id, " elected (revision ", rev, ", heartbeats at ",
            heartbeat_endpoint, ")");
  while (still_elected()) {
    co_await pass();
    if (!still_elected()) break;
    co_await pause(config.tick);
  }
  log::info("cluster", "controller: broker ", config.broker_id, " no longer acts (revision ", rev, ")");
  election_revision.store(0);
  heartbeat->set_election(config.broker_id, 0);  // no more acks: brokers that still see its key depose it
}

asio::awaitable<void> Controller::Core::run() {
  auto self = shared_from_this();
  while (!stopping.load() && !crashed) {
    if (!co_await ensure_lease()) {
      co_await pause(config.retry_interval);
      continue;
    }
    if (!co_await campaign()) {
      co_await pause(config.retry_interval);
      continue;
    }
    co_await serve_term();
  }
  done = true;
  done_timer.cancel();
}

// ---------------------------------------------------------------- API

Controller::Controller(std::shared_ptr<Core> core) : core_(std::move(core)) {}
Controller::~Controller() { stop_async(); }

Result<std::unique_ptr<Controller>> Controller::start(asio::any_io_executor executor, meta::MetaStore& meta,
                                                      ClusterImage& image, ControllerConfig config) {
  auto bad = [](const std::string& what) { return cerr(ClusterErrc::invalid_config, "controller: " + what); };
  if (config.broker_id < 0) return bad("broker_id must not be negative");
  if (config.lease_ttl_seconds <= 0) return bad("lease_ttl_seconds must be positive");
  if (config.disconnect_grace.count() <= 0 || config.silence_timeout.count() <= 0 || config.tick.count() <= 0 ||
      config.previous_controller_grace.count() <= 0 ||
      config.retry_interval.count() <= 0 || config.seal_op_timeout.count() <= 0) {
    return bad("disconnect_grace, silence_timeout, previous_controller_grace, tick, retry_interval and "
               "seal_op_timeout must be positive");
  }
  if (config.fence_delay.count() < 0 || config.sweep_delay.count() < 0) {
    return bad("fence_delay and sweep_delay must not be negative");
  }
  if (config.max_ops_per_txn < 4) return bad("max_ops_per_txn must be at least 4");
  if (config.max_moves_in_flight == 0 || config.max_balance_moves_in_flight == 0 ||
      config.max_heartbeat_connections == 0) {
    return bad("max_moves_in_flight, max_balance_moves_in_flight and max_heartbeat_connections must be positive");
  }
  const std::string advertised = config.heartbeat_advertise.empty() ? config.heartbeat_host : config.heartbeat_advertise;
  if (advertised == "0.0.0.0" || advertised == "::") {
    return bad("heartbeat listener on " + advertised + ": set heartbeat_advertise to an address brokers can reach");
  }
  auto core = std::make_shared<Core>(executor, meta, image, std::move(config));
  auto server = HeartbeatServer::start(core->strand, core->config.heartbeat_host, core->config.heartbeat_port,
                                       core->config.max_heartbeat_connections);
  if (!server) return server.error();
  core->heartbeat = std::move(*server);
  const std::string& host = advertised;
  core->heartbeat_endpoint = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                             std::to_string(core->heartbeat->port());
  std::weak_ptr<Core> weak = core;
  image.subscribe([weak] {
    if (auto self = weak.lock()) asio::post(self->strand, [self] { self->wake.cancel(); });
  });
  asio::co_spawn(core->strand, core->run(), asio::detached);
  return std::unique_ptr<Controller>(new Controller(core));
}

bool Controller::elected() const { return core_->election_revision.load() != 0; }
int64_t Controller::election_revision() const { return core_->election_revision.load(); }
std::string Controller::heartbeat_endpoint() const { return core_->heartbeat_endpoint; }
const ControllerStats& Controller::stats() const { return core_->stats; }

asio::awaitable<Status> Controller::request_move(std::string topic, int32_t partition, int32_t target) {
  auto core = core_;
  if (core->election_revision.load() == 0) {
    auto c = core->image.controller_id();
    co_return cerr(ClusterErrc::not_controller, "request_move: broker " + std::to_string(core->config.broker_id) +
                                                    " is not the controller (controller: " +
                                                    (c ? std::to_string(*c) : std::string("none")) + ")");
  }
  auto s = core->image.snapshot();
  auto it = s->assignments.find(PartitionKey{topic, partition});
  if (it == s->assignments.end() || it->second.released) {
    co_return cerr(ClusterErrc::unknown_partition, topic + "/" + std::to_string(partition) + " has no active owner");
  }
  auto b = s->brokers.find(target);
  if (b == s->brokers.end() || !s->epoch_live(target, b->second.epoch)) {
    co_return cerr(ClusterErrc::unknown_broker, "move target " + std::to_string(target) + " is not a live broker");
  }
  Assignment a = it->second;
  if (a.broker_id == target) co_return ok_status();  // already there
  a.move_target = target;
  a.handoff_cause = HandoffCause::move;
  a.handoff_since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  meta::TxnRequest txn;
  const std::string key = core->keys.assignment(topic, partition);
  txn.compares.push_back(meta::Compare::mod_revision(key, meta::Compare::Result::equal, a.mod_revision));
  txn.success.push_back(meta::PutRequest{key, encode_assignment(a), 0, false});
  auto r = co_await core->commit(std::move(txn), "request_move");
  if (!r) co_return cerr(ClusterErrc::store_error, "request_move: metadata store error");
  if (!*r) co_return cerr(ClusterErrc::conflict, "request_move: " + topic + "/" + std::to_string(partition) +
                                                      " changed meanwhile, or this controller was deposed");
  core->stats.moves_requested.fetch_add(1);
  co_return ok_status();
}

asio::awaitable<Status> Controller::drain(int32_t broker_id) {
  auto core = core_;
  auto b = core->image.broker(broker_id);
  if (!b) co_return cerr(ClusterErrc::unknown_broker, "drain: broker " + std::to_string(broker_id) + " is not live");
  meta::TxnRequest txn;
  txn.compares.push_back(
      meta::Compare::create_revision(core->keys.broker(broker_id), meta::Compare::Result::equal, b->epoch));
  txn.success.push_back(meta::PutRequest{core->keys.drain(broker_id), std::to_string(b->epoch), 0, false});
  auto r = co_await core->meta.txn(std::move(txn));
  if (!r) co_return cerr(ClusterErrc::store_error, "drain: " + r.error().message());
  if (!r->succeeded) {
    co_return cerr(ClusterErrc::unknown_broker, "drain: broker " + std::to_string(broker_id) + " re-registered");
  }
  co_return ok_status();
}

asio::awaitable<Result<bool>> Controller::guarded_txn(meta::TxnRequest txn) {
  auto core = core_;
  const int64_t rev = core->last_election.load();
  if (rev == 0) co_return cerr(ClusterErrc::not_controller, "guarded_txn: never elected");
  txn.compares.insert(txn.compares.begin(),
                      meta::Compare::create_revision(core->keys.controller(), meta::Compare::Result::equal, rev));
  auto r = co_await core->meta.txn(std::move(txn));
  if (!r) co_return cerr(ClusterErrc::store_error, "guarded_txn: " + r.error().message());
  co_return r->succeeded;
}

void Controller::stop_async() {
  auto core = core_;
  core->stopping.store(true);
  asio::post(core->strand, [core] {
    core->wake.cancel();
    if (core->heartbeat) core->heartbeat->stop();
  });
}

asio::awaitable<void> Controller::stop(bool resign) {
  auto core = core_;
  stop_async();
  co_await asio::co_spawn(core->strand, wait_done(core), asio::use_awaitable);
  if (core->keeper) {
    if (resign && !core->crashed) (void)co_await core->keeper->stop(true);
    else core->keeper->stop_async();
  }
}

}  // namespace floe::cluster
