#include "cluster/broker_membership.h"

#include <atomic>
#include <chrono>
#include <set>

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "cluster/heartbeat.h"
#include "meta/lease_keeper.h"
#include "meta/meta_store.h"
#include "stream/seal.h"

namespace floe::cluster {
namespace {

using Clock = std::chrono::steady_clock;
Error cerr(ClusterErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace

struct BrokerMembership::Core : std::enable_shared_from_this<Core> {
  Core(asio::any_io_executor ex, meta::MetaStore& m, ClusterImage& img, MembershipConfig c)
      : executor(ex), strand(asio::make_strand(ex)), meta(m), image(img), keys(img.keys()), config(std::move(c)) {}

  asio::any_io_executor executor;
  asio::strand<asio::any_io_executor> strand;
  meta::MetaStore& meta;
  ClusterImage& image;
  ClusterKeys keys;
  MembershipConfig config;
  int64_t lease_id = 0;
  int64_t epoch = 0;
  std::atomic<int64_t> record_revision{0};  // revision of the epochs/ record's create
  std::unique_ptr<meta::LeaseKeeper> keeper;
  std::unique_ptr<HeartbeatClient> heartbeat;
  std::atomic<bool> lost{false};
  std::atomic<bool> quiet{false};  // deregistered or closed: no more lost reports
  std::vector<LostCallback> callbacks;  // strand
  std::error_code lost_reason;          // strand

  // A registration that did not complete: stop keeping the lease and revoke it (its keys go with it).
  asio::awaitable<void> abandon() {
    quiet.store(true);
    co_await keeper->stop(true);
  }

  // On the strand.
  void mark_lost(std::error_code why, const std::string& what) {
    if (quiet.load() || lost.exchange(true)) return;
    lost_reason = why;
    log::warn("cluster", "broker ", config.broker_id, " epoch ", epoch, " lost: ", what);
    if (heartbeat) heartbeat->stop();
    if (keeper) keeper->stop_async();
    auto cbs = std::move(callbacks);
    callbacks.clear();
    for (auto& f : cbs) f(why);
  }

  // On the image's strand: is this epoch still registered and unsealed?
  void check_image() {
    if (quiet.load() || lost.load() || record_revision.load() == 0) return;
    auto s = image.snapshot();
    if (s->revision < record_revision.load()) return;
    std::string what;
    auto b = s->brokers.find(config.broker_id);
    if (b == s->brokers.end() || b->second.epoch != epoch) what = "brokers/" + std::to_string(config.broker_id) + " gone";
    else if (s->epochs.count(EpochKey{config.broker_id, epoch}) == 0) what = "epoch record gone";
    else if (s->sealing.count(EpochKey{config.broker_id, epoch}) > 0) what = "epoch sealed";
    if (what.empty()) return;
    auto self = shared_from_this();
    asio::post(strand, [self, what] { self->mark_lost(make_error_code(ClusterErrc::lost), what); });
  }

  std::vector<int64_t> older_epochs(const ImageState& s) const {
    std::vector<int64_t> out;
    for (auto it = s.epochs.lower_bound(EpochKey{config.broker_id, 0});
         it != s.epochs.end() && it->broker_id == config.broker_id; ++it) {
      if (it->epoch < epoch) out.push_back(it->epoch);
    }
    return out;
  }

  asio::awaitable<Status> self_seal(int64_t old_epoch) {
    stream::SealOptions o;
    o.keys.meta_root = keys.root();
    o.keys.object_prefix = config.object_prefix;
    o.keys.broker_id = static_cast<uint64_t>(config.broker_id);
    o.keys.epoch = static_cast<uint64_t>(old_epoch);
    o.sealer_id = "broker-" + std::to_string(config.broker_id) + "-self";
    auto sealed = co_await stream::seal_epoch(*config.objects, meta, o);
    if (!sealed) co_return sealed.error();
    log::info("cluster", "broker ", config.broker_id, ": sealed its own epoch ", old_epoch, " (no controller) at seq ",
              sealed->seal_seq);
    meta::TxnRequest txn;
    const std::string key = keys.epoch(config.broker_id, old_epoch);
    txn.compares.push_back(meta::Compare::version(key, meta::Compare::Result::greater, 0));
    txn.success.push_back(meta::DeleteRequest{key, "", false});
    auto r = co_await meta.txn(txn);
    if (!r) co_return cerr(ClusterErrc::store_error, "forgetting epoch " + key + ": " + r.error().message());
    co_return ok_status();
  }

  // Step 5 of register_broker.
  asio::awaitable<Status> wait_for_older_epochs() {
    const auto ttl_plus = std::chrono::milliseconds(config.lease_ttl_seconds * 1000 + 1000);
    const auto self_seal_after = config.self_seal_after.count() > 0 ? config.self_seal_after : ttl_plus;
    const auto deadline = Clock::now() + config.previous_epoch_wait;
    if (Status st = co_await image.wait_for_revision(record_revision.load(), config.previous_epoch_wait); !st) co_return st;
    std::optional<Clock::time_point> no_controller_since;
    for (;;) {
      auto s = image.snapshot();
      auto older = older_epochs(*s);
      if (older.empty()) co_return ok_status();
      const auto now = Clock::now();
      if (now >= deadline) {
        co_return cerr(ClusterErrc::timed_out, "broker " + std::to_string(config.broker_id) + ": older epoch " +
                                                   std::to_string(older.front()) + " still not sealed after " +
                                                   std::to_string(config.previous_epoch_wait.count()) + " ms");
      }
      if (s->controller) no_controller_since.reset();
      else if (!no_controller_since) no_controller_since = now;
      if (config.objects != nullptr && no_controller_since && now - *no_controller_since >= self_seal_after) {
        for (int64_t old : older) {
          if (Status st = co_await self_seal(old); !st) log::warn("cluster", st.error().message);
        }
      }
      co_await sleep_for(config.retry_interval);
    }
  }
};

BrokerMembership::BrokerMembership(std::shared_ptr<Core> core) : core_(std::move(core)) {}

BrokerMembership::~BrokerMembership() {
  core_->quiet.store(true);
  if (core_->heartbeat) core_->heartbeat->stop();
  if (core_->keeper) core_->keeper->stop_async();
}

asio::awaitable<Result<std::unique_ptr<BrokerMembership>>> BrokerMembership::register_broker(
    asio::any_io_executor executor, meta::MetaStore& meta, ClusterImage& image, MembershipConfig config) {
  if (config.broker_id < 0) co_return cerr(ClusterErrc::invalid_config, "broker id must not be negative");
  if (config.lease_ttl_seconds <= 0 || config.heartbeat_interval.count() <= 0 || config.retry_interval.count() <= 0 ||
      config.previous_epoch_wait.count() <= 0 || config.max_ops_per_txn == 0) {
    co_return cerr(ClusterErrc::invalid_config, "membership: lease_ttl_seconds, heartbeat_interval, retry_interval, "
                                                "previous_epoch_wait and max_ops_per_txn must be positive");
  }
  if (config.depose_controller_after.count() < 0 || config.depose_silent_controller_after.count() < 0) {
    co_return cerr(ClusterErrc::invalid_config,
                   "membership: depose_controller_after and depose_silent_controller_after must not be negative");
  }
  auto core = std::make_shared<Core>(executor, meta, image, std::move(config));
  const MembershipConfig& c = core->config;
  const std::string id_text = std::to_string(c.broker_id);

  // 1. Lease.
  const auto granted_at = Clock::now();
  auto lease = co_await meta.lease_grant(c.lease_ttl_seconds);
  if (!lease) co_return cerr(ClusterErrc::store_error, "broker " + id_text + ": lease: " + lease.error().message());
  core->lease_id = lease->id;
  std::weak_ptr<Core> weak = core;
  auto keeper = meta::LeaseKeeper::start(
      executor, meta, lease->id, lease->ttl, granted_at, {}, [weak](meta::LeaseState state, std::error_code ec) {
        if (state != meta::LeaseState::lost) return;
        if (auto self = weak.lock()) {
          asio::post(self->strand, [self, ec] { self->mark_lost(ec, "lease lost: " + ec.message()); });
        }
      });
  if (!keeper) co_return cerr(ClusterErrc::store_error, "broker " + id_text + ": " + keeper.error().message());
  core->keeper = std::move(*keeper);

  // 2. brokers/<id>, create-only.
  BrokerInfo info{c.broker_id, 0, c.host, c.port, c.rack, c.http};
  const auto id_wait = c.id_in_use_wait.count() > 0 ? c.id_in_use_wait
                                                     : std::chrono::milliseconds(c.lease_ttl_seconds * 1000 + 1000);
  const auto id_deadline = Clock::now() + id_wait;
  for (;;) {
    meta::TxnRequest txn;
    txn.compares.push_back(meta::Compare::version(core->keys.broker(c.broker_id), meta::Compare::Result::equal, 0));
    txn.success.push_back(meta::PutRequest{core->keys.broker(c.broker_id), encode_broker(info), lease->id, false});
    auto r = co_await meta.txn(txn);
    if (!r) {
      co_await core->abandon();
      co_return cerr(ClusterErrc::store_error, "broker " + id_text + ": " + r.error().message());
    }
    if (r->succeeded) {
      core->epoch = r->revision;
      break;
    }
    if (Clock::now() >= id_deadline) {
      co_await core->abandon();
      co_return cerr(ClusterErrc::broker_id_in_use, "broker id " + id_text + " is registered by a live process (" +
                                                        core->keys.broker(c.broker_id) + " exists)");
    }
    co_await sleep_for(c.retry_interval);
  }

  // 3. epochs/<id>/<E>.
  {
    meta::TxnRequest txn;
    txn.compares.push_back(
        meta::Compare::create_revision(core->keys.broker(c.broker_id), meta::Compare::Result::equal, core->epoch));
    txn.success.push_back(meta::PutRequest{core->keys.epoch(c.broker_id, core->epoch), "", 0, false});
    auto r = co_await meta.txn(txn);
    if (!r) {
      co_await core->abandon();
      co_return cerr(ClusterErrc::store_error, "broker " + id_text + ": " + r.error().message());
    }
    if (!r->succeeded) {
      co_await core->abandon();
      co_return cerr(ClusterErrc::lost, "broker " + id_text + ": registration vanished at once");
    }
    core->record_revision = r->revision;
  }

  // 4. Heartbeats and lost detection.
  HeartbeatClientOptions ho;
  ho.interval = c.heartbeat_interval;
  ho.meta = &meta;
  ho.depose_after = c.depose_controller_after;
  ho.answer_timeout = c.depose_silent_controller_after;
  core->heartbeat = HeartbeatClient::start(executor, image, c.broker_id, core->epoch, ho);
  image.subscribe([weak] {
    if (auto self = weak.lock()) self->check_image();
  });
  log::info("cluster", "broker ", c.broker_id, " registered with epoch ", core->epoch);

  // 5. Older epochs of this id.
  if (Status st = co_await core->wait_for_older_epochs(); !st) {
    co_await core->heartbeat->stop_and_wait();
    // Take the new epoch back out: it never held anything.
    meta::TxnRequest txn;
    txn.compares.push_back(
        meta::Compare::create_revision(core->keys.broker(c.broker_id), meta::Compare::Result::equal, core->epoch));
    txn.success.push_back(meta::DeleteRequest{core->keys.broker(c.broker_id), "", false});
    txn.success.push_back(meta::DeleteRequest{core->keys.epoch(c.broker_id, core->epoch), "", false});
    auto ignored = co_await meta.txn(txn);
    (void)ignored;
    co_await core->abandon();
    co_return st.error();
  }
  core->check_image();
  co_return std::unique_ptr<BrokerMembership>(new BrokerMembership(core));
}

int32_t BrokerMembership::id() const { return core_->config.broker_id; }
int64_t BrokerMembership::epoch() const { return core_->epoch; }
int64_t BrokerMembership::lease_id() const { return core_->lease_id; }
bool BrokerMembership::lost() const { return core_->lost.load(); }
bool BrokerMembership::alive() const { return !core_->lost.load() && core_->keeper && core_->keeper->alive(); }

void BrokerMembership::on_lost(LostCallback callback) {
  auto core = core_;
  asio::post(core->strand, [core, cb = std::move(callback)]() mutable {
    if (core->lost.load()) cb(core->lost_reason);
    else core->callbacks.push_back(std::move(cb));
  });
}

asio::awaitable<Result<ReleaseOutcome>> BrokerMembership::release(std::vector<Assignment> assignments) {
  auto core = core_;
  const auto& c = core->config;
  ReleaseOutcome out;
  std::vector<Assignment> held;
  for (auto& a : assignments) {
    if (a.broker_id != c.broker_id || a.broker_epoch != core->epoch || a.released) {
      out.skipped.push_back(std::move(a));
    } else {
      held.push_back(std::move(a));
    }
  }
  const std::string epoch_key = core->keys.epoch(c.broker_id, core->epoch);
  // Compares and puts are counted apart by etcd (at most 128 each): the epoch record, one per assignment and two
  // per epoch handed to directly (below).
  const size_t per_txn = std::max<size_t>(1, std::min<size_t>(c.max_ops_per_txn, 127));
  constexpr size_t kMaxCompares = 127;
  constexpr int kRounds = 3;  // per chunk: a key that keeps changing under us is left to the caller
  // A move's target as the image shows it now: its live epoch, when the partition can go there directly.
  auto image_state = core->image.snapshot();
  auto handoff_to = [&](const Assignment& a) -> std::optional<EpochKey> {
    if (!a.move_target || *a.move_target == c.broker_id) return std::nullopt;
    auto b = image_state->brokers.find(*a.move_target);
    if (b == image_state->brokers.end() || !image_state->epoch_live(b->first, b->second.epoch)) return std::nullopt;
    const EpochKey to{b->first, b->second.epoch};
    if (image_state->sealing.count(to) > 0) return std::nullopt;
    if (auto d = image_state->drains.find(to.broker_id); d != image_state->drains.end() && d->second == to.epoch) {
      return std::nullopt;  // drained meanwhile: the controller picks another owner
    }
    return to;
  };
  size_t i = 0;
  while (i < held.size()) {
    // This chunk: as many as the puts and compares allow, counting each direct target's two compares once.
    std::set<EpochKey> chunk_targets;
    size_t end = i, compares = 1;
    while (end < held.size() && end - i < per_txn) {
      std::optional<EpochKey> to = handoff_to(held[end]);
      const size_t need = 1 + (to && !chunk_targets.count(*to) ? 2 : 0);
      if (compares + need > kMaxCompares) break;
      compares += need;
      if (to) chunk_targets.insert(*to);
      ++end;
    }
    std::vector<Assignment> pending(std::make_move_iterator(held.begin() + static_cast<std::ptrdiff_t>(i)),
                                    std::make_move_iterator(held.begin() + static_cast<std::ptrdiff_t>(end)));
    i = end;
    for (int round = 0; round < kRounds && !pending.empty(); ++round) {
      meta::TxnRequest txn;
      txn.compares.push_back(meta::Compare::version(epoch_key, meta::Compare::Result::greater, 0));
      std::set<EpochKey> targets;
      for (const Assignment& a : pending) {
        const std::string key = core->keys.assignment(a.topic, a.partition);
        txn.compares.push_back(meta::Compare::mod_revision(key, meta::Compare::Result::equal, a.mod_revision));
        // Every round but the last hands a partition with a live move target straight to it (the release IS the
        // handoff: the target's epoch, leader epoch + 1, the move's cause and start kept), compared on the target
        // epoch's record and registration; the controller then has nothing to do in between. The last round
        // releases plainly (the target may have gone) and leaves the choice to the controller.
        std::optional<EpochKey> to = round + 1 < kRounds ? handoff_to(a) : std::nullopt;
        Assignment next = a;
        if (to) {
          const int64_t since_ms = a.handoff_since_ms > 0
                                       ? a.handoff_since_ms
                                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();
          next = a.handed_to(to->broker_id, to->epoch, HandoffCause::move, since_ms);
          if (targets.insert(*to).second) {
            txn.compares.push_back(
                meta::Compare::version(core->keys.epoch(to->broker_id, to->epoch), meta::Compare::Result::greater, 0));
            txn.compares.push_back(meta::Compare::create_revision(core->keys.broker(to->broker_id),
                                                                  meta::Compare::Result::equal, to->epoch));
          }
        } else {
          next.released = true;
        }
        txn.success.push_back(meta::PutRequest{key, encode_assignment(next), 0, false});
      }
      // Failure branch: read the epoch record and every key back, to release what is still ours in the next round.
      txn.failure.push_back(meta::RangeRequest{epoch_key, "", 0, 0, false, true, false});
      for (const Assignment& a : pending) {
        txn.failure.push_back(meta::RangeRequest{core->keys.assignment(a.topic, a.partition)});
      }
      auto r = co_await core->meta.txn(txn);
      if (!r) co_return cerr(ClusterErrc::store_error, "release: " + r.error().message());
      if (r->succeeded) {
        out.released += pending.size();
        pending.clear();
        break;
      }
      if (r->responses.size() != pending.size() + 1) {
        co_return cerr(ClusterErrc::store_error, "release: unexpected txn answer");
      }
      const auto* epoch_record = std::get_if<meta::RangeResponse>(&r->responses[0]);
      if (epoch_record == nullptr || epoch_record->kvs.empty()) {
        co_return cerr(ClusterErrc::conflict, "release: epoch " + std::to_string(core->epoch) +
                                                  " is no longer recorded (" + std::to_string(out.released) +
                                                  " released before)");
      }
      // Still this epoch's at the same leader epoch (a move target set meanwhile, say): released at its current
      // revision, as it is now. Moved to another epoch, released already, or deleted: skipped.
      std::vector<Assignment> again;
      for (size_t j = 0; j < pending.size(); ++j) {
        const auto* now = std::get_if<meta::RangeResponse>(&r->responses[j + 1]);
        std::optional<Assignment> cur;
        if (now != nullptr && !now->kvs.empty()) cur = decode_assignment(now->kvs.front().value);
        if (!cur || cur->broker_id != c.broker_id || cur->broker_epoch != core->epoch || cur->released ||
            cur->leader_epoch != pending[j].leader_epoch) {
          out.skipped.push_back(std::move(pending[j]));
          continue;
        }
        cur->topic = pending[j].topic;
        cur->partition = pending[j].partition;
        cur->mod_revision = now->kvs.front().mod_revision;
        again.push_back(std::move(*cur));
      }
      pending = std::move(again);
    }
    for (auto& a : pending) out.skipped.push_back(std::move(a));
  }
  co_return out;
}

asio::awaitable<Status> BrokerMembership::deregister() {
  auto core = core_;
  const auto& c = core->config;
  auto s = core->image.snapshot();
  for (const auto& [k, a] : s->assignments) {
    if (a.broker_id == c.broker_id && a.broker_epoch == core->epoch && !a.released) {
      co_return cerr(ClusterErrc::conflict, "deregister: " + a.topic + "/" + std::to_string(a.partition) +
                                                " is still held by this epoch; release it first");
    }
  }
  core->quiet.store(true);
  meta::TxnRequest txn;
  txn.compares.push_back(
      meta::Compare::create_revision(core->keys.broker(c.broker_id), meta::Compare::Result::equal, core->epoch));
  txn.success.push_back(meta::DeleteRequest{core->keys.broker(c.broker_id), "", false});
  txn.success.push_back(meta::DeleteRequest{core->keys.epoch(c.broker_id, core->epoch), "", false});
  auto r = co_await core->meta.txn(txn);
  co_await core->heartbeat->stop_and_wait();
  if (!r) co_return cerr(ClusterErrc::store_error, "deregister: " + r.error().message());
  co_await core->keeper->stop(true);
  if (!r->succeeded) co_return cerr(ClusterErrc::lost, "deregister: the registration was already gone");
  log::info("cluster", "broker ", c.broker_id, " epoch ", core->epoch, " deregistered");
  co_return ok_status();
}

asio::awaitable<void> BrokerMembership::close() {
  auto core = core_;
  core->quiet.store(true);
  if (core->heartbeat) co_await core->heartbeat->stop_and_wait();
  if (core->keeper) co_await core->keeper->stop(false);
}

void BrokerMembership::stop_heartbeats() {
  if (core_->heartbeat) core_->heartbeat->stop();
}
void BrokerMembership::stop_keepalive() {
  if (core_->keeper) core_->keeper->stop_async();
}

}  // namespace floe::cluster
