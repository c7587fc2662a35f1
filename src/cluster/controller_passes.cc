// Controller passes (controller.h, duties 1-4): failure detection, recovery of failed epochs, assignment, moves.
// Everything runs on the controller's strand.
#include <algorithm>

#include "base/log.h"
#include "cluster/controller_core.h"
#include "stream/seal.h"

namespace floe::cluster {
namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// The wall-clock time of a steady-clock instant in the past (for handoff_since_ms).
int64_t unix_ms_at(Clock::time_point t) {
  return unix_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string name_of(const EpochKey& e) { return std::to_string(e.broker_id) + "/" + std::to_string(e.epoch); }

// Partition counts per eligible epoch; least() picks the emptiest (ties: lowest broker id).
class Load {
 public:
  explicit Load(const std::vector<EpochKey>& eligible) {
    for (const auto& e : eligible) counts_[e] = 0;
  }
  bool empty() const { return counts_.empty(); }
  bool has(const EpochKey& e) const { return counts_.count(e) > 0; }
  void add(const EpochKey& e, int n = 1) {
    auto it = counts_.find(e);
    if (it != counts_.end()) it->second += n;
  }
  int count(const EpochKey& e) const { return counts_.at(e); }
  EpochKey least() const {
    return std::min_element(counts_.begin(), counts_.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  }
  // The emptiest one other than `not_this`, if any other is eligible.
  std::optional<EpochKey> least_except(const EpochKey& not_this) const {
    std::optional<EpochKey> best;
    for (const auto& [e, n] : counts_) {
      if (e == not_this) continue;
      if (!best || n < counts_.at(*best)) best = e;
    }
    return best;
  }
  EpochKey most() const {
    return std::max_element(counts_.begin(), counts_.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  }
  // The eligible epoch of broker `id`, if any.
  std::optional<EpochKey> of_broker(int32_t id) const {
    for (const auto& [e, n] : counts_) {
      if (e.broker_id == id) return e;
    }
    return std::nullopt;
  }

 private:
  std::map<EpochKey, int> counts_;
};

// Active partitions per eligible epoch; a pending move counts toward its target (so new partitions do not pile
// onto a broker being emptied, and recovery and balancing agree on what "least loaded" means).
Load current_load(const ImageState& s, const std::vector<EpochKey>& eligible) {
  Load load(eligible);
  for (const auto& [k, a] : s.assignments) {
    if (a.released || s.epochs.count(EpochKey{a.broker_id, a.broker_epoch}) == 0) continue;
    if (a.move_target) {
      if (auto t = load.of_broker(*a.move_target)) {
        load.add(*t);
        continue;
      }
    }
    load.add({a.broker_id, a.broker_epoch});
  }
  return load;
}

}  // namespace

std::vector<EpochKey> Controller::Core::eligible(const ImageState& s, const std::set<EpochKey>& failed) const {
  std::vector<EpochKey> out;
  for (const auto& [id, b] : s.brokers) {
    EpochKey e{id, b.epoch};
    if (s.epochs.count(e) == 0 || failed.count(e) > 0 || s.sealing.count(e) > 0) continue;
    auto first = s.epochs.lower_bound(EpochKey{id, 0});
    if (first != s.epochs.end() && first->broker_id == id && first->epoch < b.epoch) continue;  // older epoch left
    auto d = s.drains.find(id);
    if (d != s.drains.end() && d->second == b.epoch) continue;
    out.push_back(e);
  }
  return out;
}

std::vector<EpochKey> Controller::Core::failed_epochs(const ImageState& s, Clock::time_point now) {
  std::vector<EpochKey> out;
  // Peers of epochs that are gone (deregistered, forgotten) and no longer connected: forget them (bounded map).
  std::vector<EpochKey> gone;
  for (const auto& [e, p] : heartbeat->peers()) {
    if (p.open_connections == 0 && s.epochs.count(e) == 0) gone.push_back(e);
  }
  for (const auto& e : gone) heartbeat->forget(e);
  const auto& peers = heartbeat->peers();
  for (auto it = first_seen.begin(); it != first_seen.end();) {
    it = s.epochs.count(it->first) ? std::next(it) : first_seen.erase(it);
  }
  std::erase_if(reported, [&](const EpochKey& e) { return s.epochs.count(e) == 0; });
  std::erase_if(detected_at, [&](const auto& kv) { return s.epochs.count(kv.first) == 0; });
  std::erase_if(sealed_at, [&](const auto& kv) { return s.epochs.count(kv.first) == 0; });
  for (const auto& e : s.epochs) {
    const char* why = nullptr;
    if (!s.epoch_live(e.broker_id, e.epoch)) {
      why = "its registration is gone";
    } else if (s.sealing.count(e) > 0) {
      why = "its seal is recorded";
    } else {
      const auto seen = std::max({first_seen.try_emplace(e, now).first->second, elected_at, resumed_at});
      auto p = peers.find(e);
      if (p == peers.end() || p->second.frames == 0) {
        if (previous_controller_epoch == e && now - elected_at > config.previous_controller_grace) {
          why = "it was the controller before this election and has not connected since";
        } else if (now - seen > config.silence_timeout) {
          why = "no heartbeat since the election or its registration";
        }
      } else if (p->second.open_connections == 0 &&
                 now - std::max(p->second.disconnected_at, seen) > config.disconnect_grace) {
        // (From the election at the earliest: brokers reconnect only once they see the new election key.)
        why = "its heartbeat connection closed";
      } else if (now - std::max(p->second.last_heard, seen) > config.silence_timeout) {
        why = "its heartbeats stopped";
      }
    }
    if (why != nullptr) {
      if (reported.insert(e).second) log::warn("cluster", "controller: broker epoch ", name_of(e), " failed: ", why);
      detected_at.try_emplace(e, now);
      out.push_back(e);
    }
  }
  return out;
}

asio::awaitable<bool> Controller::Core::write_assignments(std::vector<Assignment> batch, const char* what) {
  // etcd counts a txn's compares and its success ops separately, each at most --max-txn-ops (128), and the request
  // at most --max-request-bytes (1.5 MiB); commit() adds the election guard as one more compare.
  const size_t max_ops = std::clamp<size_t>(config.max_ops_per_txn, 4, 128);
  const size_t max_bytes = std::max<size_t>(config.max_bytes_per_txn, 4096);
  constexpr size_t kPerItem = 16;  // an item's framing, as meta::validate_txn counts it
  std::vector<meta::TxnRequest> txns;
  std::vector<size_t> sizes;  // assignments per txn
  size_t i = 0;
  while (i < batch.size()) {
    meta::TxnRequest txn;
    std::set<EpochKey> checked;
    size_t n = 0;
    size_t bytes = keys.controller().size() + kPerItem;  // the guard
    for (; i < batch.size(); ++i) {
      const Assignment& a = batch[i];
      EpochKey owner{a.broker_id, a.broker_epoch};
      const bool new_owner = checked.count(owner) == 0;
      const std::string key = keys.assignment(a.topic, a.partition);
      std::string value = encode_assignment(a);
      const size_t need = 1 + (new_owner ? 2 : 0);
      const size_t need_bytes = 2 * (key.size() + kPerItem) + value.size() +
                                (new_owner ? keys.epoch(a.broker_id, a.broker_epoch).size() +
                                                 keys.broker(a.broker_id).size() + 2 * kPerItem
                                           : 0);
      if (n > 0 && (txn.success.size() + 1 > max_ops || txn.compares.size() + need + 1 > max_ops ||
                    bytes + need_bytes > max_bytes)) {
        break;
      }
      txn.compares.push_back(meta::Compare::mod_revision(key, meta::Compare::Result::equal, a.mod_revision));
      if (new_owner) {
        checked.insert(owner);
        // The owner epoch must still be registered and recorded when this lands.
        txn.compares.push_back(meta::Compare::version(keys.epoch(a.broker_id, a.broker_epoch),
                                                      meta::Compare::Result::greater, 0));
        txn.compares.push_back(
            meta::Compare::create_revision(keys.broker(a.broker_id), meta::Compare::Result::equal, a.broker_epoch));
      }
      txn.success.push_back(meta::PutRequest{key, std::move(value), 0, false});
      bytes += need_bytes;
      ++n;
    }
    txns.push_back(std::move(txn));
    sizes.push_back(n);
  }
  if (txns.empty()) co_return true;
  stats.assignment_txns.fetch_add(txns.size());
  // All at once: they touch disjoint keys and each is guarded on its own, so their order does not matter, and etcd
  // commits concurrent txns in one raft batch (one fsync) where sequential ones pay a round trip and a disk write
  // each. Brokers see each one as it lands. The image is awaited once, for the newest.
  auto results = co_await send_all(std::move(txns), what);
  bool all = true;
  int64_t newest = 0;
  for (size_t t = 0; t < results.size(); ++t) {
    if (!results[t] || *results[t] == 0) {
      all = false;
      continue;
    }
    newest = std::max(newest, *results[t]);
    stats.assignments_written.fetch_add(sizes[t]);
  }
  // The next pass must see what this one wrote (also when only some of them landed).
  if (newest > 0) (void)co_await image.wait_for_revision(newest, std::chrono::seconds(2));
  co_return all;
}

asio::awaitable<bool> Controller::Core::recover(EpochKey e, std::set<EpochKey> failed) {
  const auto started = Clock::now();
  if (crash("before_seal", e)) co_return false;
  if (config.objects == nullptr) {
    log::error("cluster", "controller: cannot seal ", name_of(e), ": no object store configured");
    co_return false;
  }
  stream::SealOptions o;
  o.keys.meta_root = keys.root();
  o.keys.object_prefix = config.object_prefix;
  o.keys.broker_id = static_cast<uint64_t>(e.broker_id);
  o.keys.epoch = static_cast<uint64_t>(e.epoch);
  o.guard_key = keys.controller();
  o.guard_create_revision = election_revision.load();
  o.sealer_id = "controller-" + std::to_string(config.broker_id);
  o.op_timeout = config.seal_op_timeout;
  uint64_t seal_seq = 0;
  bool resumed = false;
  if (auto done = sealed_at.find(e); done != sealed_at.end()) {
    seal_seq = done->second;  // sealed on an earlier pass of this term (waiting for the fence delay, or a retry)
  } else {
    auto sealed = co_await stream::seal_epoch(*config.objects, meta, o);
    if (!sealed) {
      log::warn("cluster", "controller: seal of ", name_of(e), " failed: ", sealed.error().message);
      co_return false;
    }
    seal_seq = sealed->seal_seq;
    resumed = sealed->resumed;
    sealed_at[e] = seal_seq;
    stats.epochs_sealed.fetch_add(1);
  }
  const auto sealed_in = Clock::now();
  if (crash("after_seal", e)) co_return false;
  if (config.fence_delay.count() > 0) {
    // File WAL: the zombie may still write its shared volume until its lease has certainly expired.
    auto d = detected_at.find(e);
    if (d != detected_at.end() && Clock::now() - d->second < config.fence_delay) co_return false;
  }

  // Reassign E's partitions (sealed: their committed end is final) with leader epoch + 1.
  auto s = image.snapshot();
  failed.insert(e);
  Load load = current_load(*s, eligible(*s, failed));
  std::vector<Assignment> batch;
  const auto detected = detected_at.find(e);
  const Clock::time_point failed_at = detected != detected_at.end() ? detected->second : started;
  const int64_t failed_since = unix_ms_at(failed_at);
  if (!load.empty()) {
    for (const auto& [k, a] : s->assignments) {
      if (a.broker_id != e.broker_id || a.broker_epoch != e.epoch) continue;
      std::optional<EpochKey> to;
      if (a.move_target) to = load.of_broker(*a.move_target);
      if (!to) to = load.least();
      Assignment n = a.handed_to(to->broker_id, to->epoch, HandoffCause::failover, failed_since);
      load.add(*to);
      batch.push_back(std::move(n));
    }
  }
  const size_t moved = batch.size();
  const auto reassign_from = Clock::now();
  const uint64_t txns_before = stats.assignment_txns.load();
  if (!co_await write_assignments(std::move(batch), "reassigning a sealed epoch")) co_return false;
  const auto reassigned = Clock::now();
  stats.recovery_durations.record(Clock::now() - failed_at);
  if (crash("after_reassign", e)) co_return false;

  // Forget E: its registration (if still E's) and its record; revoke its lease.
  auto reg = co_await meta.get(keys.broker(e.broker_id));
  if (!reg) co_return false;
  meta::TxnRequest txn;
  int64_t lease = 0;
  if (reg->has_value() && (*reg)->create_revision == e.epoch) {
    lease = (*reg)->lease;
    txn.compares.push_back(
        meta::Compare::create_revision(keys.broker(e.broker_id), meta::Compare::Result::equal, e.epoch));
    txn.success.push_back(meta::DeleteRequest{keys.broker(e.broker_id), "", false});
  }
  txn.success.push_back(meta::DeleteRequest{keys.epoch(e.broker_id, e.epoch), "", false});
  auto forgotten = co_await commit(std::move(txn), "forgetting a sealed epoch");
  if (!forgotten || !*forgotten) co_return false;
  if (lease != 0) (void)co_await meta.lease_revoke(lease);
  heartbeat->forget(e);
  first_seen.erase(e);
  if (sweeps.size() < config.max_pending_sweeps) sweeps.push_back(Sweep{e, Clock::now() + config.sweep_delay, 0});
  sealed_at.erase(e);
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
  };
  log::info("cluster", "controller: epoch ", name_of(e), " sealed at seq ", seal_seq,
            resumed ? " (resumed)" : "", ", ", moved, " partitions reassigned, in ", ms_since(started),
            " ms (detected -> seal done ", ms(failed_at, sealed_in), " ms, reassignment ", ms(reassign_from, reassigned),
            " ms in ", stats.assignment_txns.load() - txns_before, " txn(s), forget ", ms(reassigned, Clock::now()),
            " ms)");
  co_return true;
}

asio::awaitable<void> Controller::Core::assign(const ImageState& s, const std::set<EpochKey>& failed) {
  Load load = current_load(s, eligible(s, failed));
  std::vector<Assignment> batch;
  std::vector<std::pair<std::string, int64_t>> deletes;  // key, mod_revision
  for (const auto& [name, t] : s.topics) {
    if (load.empty()) break;  // nobody to assign to (deletions below still run)
    for (int32_t p = 0; p < t.partitions; ++p) {
      auto it = s.assignments.find(PartitionKey{name, p});
      const Assignment* cur = it == s.assignments.end() ? nullptr : &it->second;
      int32_t leader_epoch = 0;
      if (cur != nullptr) {
        if (cur->topic_id != t.id) leader_epoch = 0;  // made for an older topic of this name
        else if (cur->released || s.epochs.count(EpochKey{cur->broker_id, cur->broker_epoch}) == 0)
          leader_epoch = cur->leader_epoch + 1;  // released, or its epoch was sealed and forgotten
        else continue;  // THE RULE: an active assignment of a recorded epoch stays
      }
      std::optional<EpochKey> to;
      if (cur != nullptr && cur->move_target) to = load.of_broker(*cur->move_target);
      // A partition its owner released (shutting down, handing off) does not go back to that epoch.
      if (!to && cur != nullptr && cur->released) to = load.least_except({cur->broker_id, cur->broker_epoch});
      if (!to) to = load.least();
      Assignment n;
      n.topic = name;
      n.partition = p;
      n.topic_id = t.id;
      n.broker_id = to->broker_id;
      n.broker_epoch = to->epoch;
      n.leader_epoch = leader_epoch;
      n.mod_revision = cur != nullptr ? cur->mod_revision : 0;
      if (cur != nullptr && cur->topic_id == t.id) {
        // A partition released for a move keeps the move's start (written with its move target); any other
        // released one starts its handoff now, and one whose epoch was forgotten under it is a failover noticed
        // only now (an older cause in the value belongs to an earlier handoff).
        if (cur->released && cur->move_target && cur->handoff_cause == HandoffCause::move) {
          n.handoff_cause = HandoffCause::move;
          n.handoff_since_ms = cur->handoff_since_ms;
        } else {
          n.handoff_cause = cur->released ? HandoffCause::move : HandoffCause::failover;
          n.handoff_since_ms = unix_ms_now();
        }
      }
      load.add(*to);
      batch.push_back(std::move(n));
    }
  }
  for (const auto& [k, a] : s.assignments) {
    auto t = s.topics.find(k.topic);
    if (t == s.topics.end() || k.partition >= t->second.partitions) {
      deletes.emplace_back(keys.assignment(k.topic, k.partition), a.mod_revision);
    }
  }
  if (!batch.empty()) {
    if (!co_await write_assignments(std::move(batch), "assigning partitions")) co_return;
  }
  const size_t max_ops = std::clamp<size_t>(config.max_ops_per_txn, 4, 128);
  for (size_t i = 0; i < deletes.size(); i += max_ops - 1) {
    meta::TxnRequest txn;
    for (size_t j = i; j < std::min(deletes.size(), i + max_ops - 1); ++j) {
      txn.compares.push_back(
          meta::Compare::mod_revision(deletes[j].first, meta::Compare::Result::equal, deletes[j].second));
      txn.success.push_back(meta::DeleteRequest{deletes[j].first, "", false});
    }
    if (auto r = co_await commit(std::move(txn), "deleting assignments of deleted topics"); !r || !*r) co_return;
  }
  // Drain records of epochs that are gone.
  for (const auto& [id, epoch] : s.drains) {
    if (s.epochs.count(EpochKey{id, epoch}) > 0) continue;
    meta::TxnRequest txn;
    txn.compares.push_back(meta::Compare::value_of(keys.drain(id), meta::Compare::Result::equal,
                                                   std::to_string(epoch)));
    txn.success.push_back(meta::DeleteRequest{keys.drain(id), "", false});
    (void)co_await commit(std::move(txn), "clearing a finished drain");
  }
}

asio::awaitable<void> Controller::Core::moves(const ImageState& s, const std::set<EpochKey>& failed) {
  Load load(eligible(s, failed));
  if (load.empty()) co_return;
  size_t pending = 0;
  std::map<EpochKey, std::vector<const Assignment*>> movable;  // active, no target yet, by owner
  size_t pending_balance = 0;
  bool settled = failed.empty();  // balance only a settled cluster: no failover or assignment outstanding
  for (const auto& [k, a] : s.assignments) {
    EpochKey owner{a.broker_id, a.broker_epoch};
    if (a.released) {
      // Released, not reassigned yet: it goes to its move target (count it there, or balancing would see the
      // target short by it and move one more, then one back), or to whoever assign() picks next pass.
      if (auto t = a.move_target ? load.of_broker(*a.move_target) : std::nullopt) load.add(*t);
      else settled = false;
      continue;
    }
    if (!s.epoch_live(owner.broker_id, owner.epoch)) {
      settled = false;
      continue;
    }
    if (a.move_target) {
      ++pending;
      if (s.drains.count(owner.broker_id) == 0) ++pending_balance;
      if (auto t = load.of_broker(*a.move_target)) {
        load.add(*t);
        continue;
      }
    }
    load.add(owner);
    if (!a.move_target) movable[owner].push_back(&a);
  }
  if (pending >= config.max_moves_in_flight) co_return;
  size_t budget = config.max_moves_in_flight - pending;
  std::vector<Assignment> batch;
  auto move = [&](const Assignment* a, const EpochKey& to) {
    Assignment n = *a;
    n.move_target = to.broker_id;
    n.handoff_cause = HandoffCause::move;
    n.handoff_since_ms = unix_ms_now();
    batch.push_back(std::move(n));
    load.add(to);
    --budget;
  };
  // Drains first: everything of a draining live epoch goes elsewhere.
  for (const auto& [id, epoch] : s.drains) {
    EpochKey e{id, epoch};
    auto it = movable.find(e);
    if (it == movable.end()) continue;
    for (const Assignment* a : it->second) {
      if (budget == 0) break;
      move(a, load.least());
    }
    it->second.clear();
  }
  // Balance: from the most to the least loaded eligible epoch while they differ by more than one: the fewest moves
  // that even out the counts. In waves of at most max_balance_moves_in_flight (a rejoining broker takes its share
  // without hundreds of partitions pausing at once), and only while nothing else is moving partitions.
  for (const auto& [name, t] : s.topics) {
    for (int32_t p = 0; p < t.partitions && settled; ++p) {
      if (s.assignments.count(PartitionKey{name, p}) == 0) settled = false;  // not assigned yet
    }
  }
  if (config.balance && settled) {
    size_t balance_budget =
        pending_balance >= config.max_balance_moves_in_flight ? 0 : config.max_balance_moves_in_flight - pending_balance;
    while (budget > 0 && balance_budget > 0) {
      EpochKey hi = load.most(), lo = load.least();
      if (load.count(hi) - load.count(lo) <= 1) break;
      auto it = movable.find(hi);
      if (it == movable.end() || it->second.empty()) break;
      const Assignment* a = it->second.back();
      it->second.pop_back();
      load.add(hi, -1);
      move(a, lo);
      --balance_budget;
    }
  }
  if (batch.empty()) co_return;
  const size_t n = batch.size();
  if (co_await write_assignments(std::move(batch), "requesting moves")) {
    stats.moves_requested.fetch_add(n);
    log::info("cluster", "controller: requested ", n, " partition moves");
  }
}

asio::awaitable<void> Controller::Core::run_sweeps() {
  if (config.objects == nullptr) co_return;
  const auto now = Clock::now();
  size_t n = sweeps.size();
  for (size_t i = 0; i < n && still_elected(); ++i) {
    Sweep sw = sweeps.front();
    sweeps.pop_front();
    if (sw.due > now) {
      sweeps.push_back(sw);
      continue;
    }
    stream::SealOptions o;
    o.keys.meta_root = keys.root();
    o.keys.object_prefix = config.object_prefix;
    o.keys.broker_id = static_cast<uint64_t>(sw.epoch.broker_id);
    o.keys.epoch = static_cast<uint64_t>(sw.epoch.epoch);
    o.guard_key = keys.controller();
    o.guard_create_revision = election_revision.load();
    o.op_timeout = config.seal_op_timeout;
    auto r = co_await stream::sweep_sealed_epoch(*config.objects, meta, o);
    if (r) {
      stats.sweeps.fetch_add(1);
    } else if (++sw.attempts < 3) {
      sw.due = now + config.sweep_delay;
      sweeps.push_back(sw);
    } else {
      log::warn("cluster", "controller: sweep of ", name_of(sw.epoch), " gave up: ", r.error().message);
    }
  }
}

asio::awaitable<void> Controller::Core::pass() {
  const auto now = Clock::now();
  struct PassEnd {
    Clock::time_point& at;
    ~PassEnd() { at = Clock::now(); }
  } pass_end{last_pass_end};
  if (last_pass_end != Clock::time_point{} && now - last_pass_end > config.tick + config.self_stall_allowance) {
    // This process was not running (see controller.h): heartbeats may be waiting unread in their sockets.
    resumed_at = now;
    log::info("cluster", "controller: its own pass ran ",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - last_pass_end).count(),
              " ms after the previous one (a stall here); broker silence is counted from now");
  }
  auto s = image.snapshot();
  // Epochs that failed and are not recovered yet (a recovery that failed is retried on the next pass) are
  // never targets.
  auto detected = failed_epochs(*s, now);
  std::set<EpochKey> failed(detected.begin(), detected.end());
  for (const EpochKey& e : detected) {
    if (!still_elected()) co_return;
    if (co_await recover(e, failed)) failed.erase(e);
  }
  if (!still_elected()) co_return;
  s = image.snapshot();
  co_await assign(*s, failed);
  if (!still_elected()) co_return;
  s = image.snapshot();
  co_await moves(*s, failed);
  if (!still_elected()) co_return;
  co_await run_sweeps();
}

}  // namespace floe::cluster
