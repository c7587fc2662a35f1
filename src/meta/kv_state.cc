#include "meta/kv_state.h"

#include <algorithm>

namespace floe::meta {
namespace {

bool compare_numbers(int64_t actual, Compare::Result result, int64_t expected) {
  switch (result) {
    case Compare::Result::equal: return actual == expected;
    case Compare::Result::greater: return actual > expected;
    case Compare::Result::less: return actual < expected;
    case Compare::Result::not_equal: return actual != expected;
  }
  return false;
}

bool compare_values(const std::string& actual, Compare::Result result, const std::string& expected) {
  int c = actual.compare(expected);
  switch (result) {
    case Compare::Result::equal: return c == 0;
    case Compare::Result::greater: return c > 0;
    case Compare::Result::less: return c < 0;
    case Compare::Result::not_equal: return c != 0;
  }
  return false;
}

}  // namespace

Result<RangeResponse> KvState::range(const RangeRequest& request, int64_t at) const {
  if (at > revision_) return Errc::future_revision;
  // floor_ is the newest compacted revision; 0 means nothing was compacted, so even revision 0 (the empty store,
  // as reads see it while the first write is not yet durable) can be rebuilt from the history.
  if (at != revision_ && floor_ > 0 && at <= floor_) return Errc::compacted;
  if (request.key.empty() || request.limit < 0) return Errc::invalid_argument;
  KeyRange kr{request.key, request.range_end};

  RangeResponse response;
  response.revision = revision_;
  auto emit = [&](const KeyValue& kv) {
    ++response.count;
    if (request.count_only) return;
    if (request.limit > 0 && static_cast<int64_t>(response.kvs.size()) >= request.limit) {
      response.more = true;
      return;
    }
    response.kvs.push_back(kv);
    if (request.keys_only) response.kvs.back().value.clear();
  };

  auto begin = keys_.lower_bound(std::string_view(request.key));
  if (at == revision_) {
    for (auto it = begin; it != keys_.end() && kr.contains(it->first); ++it) emit(it->second);
    return response;
  }
  // An older revision: take today's keys in the range, then undo the newer events from newest to oldest.
  std::map<std::string, KeyValue, std::less<>> view;
  for (auto it = begin; it != keys_.end() && kr.contains(it->first); ++it) view.emplace(it->first, it->second);
  for (auto it = history_.rbegin(); it != history_.rend() && it->kv.mod_revision > at; ++it) {
    if (!kr.contains(it->kv.key)) continue;
    if (it->prev_kv) {
      view[it->kv.key] = *it->prev_kv;
    } else {
      view.erase(it->kv.key);
    }
  }
  for (const auto& [key, kv] : view) emit(kv);
  return response;
}

Result<TxnResponse> KvState::txn(const TxnRequest& request, Effect& effect) {
  bool succeeded = true;
  for (const auto& compare : request.compares) {
    auto it = keys_.find(std::string_view(compare.key));
    bool holds = false;
    if (compare.target == Compare::Target::value) {
      holds = it != keys_.end() && compare_values(it->second.value, compare.result, compare.value);
    } else {
      int64_t actual = 0;
      if (it != keys_.end()) {
        switch (compare.target) {
          case Compare::Target::version: actual = it->second.version; break;
          case Compare::Target::create_revision: actual = it->second.create_revision; break;
          case Compare::Target::mod_revision: actual = it->second.mod_revision; break;
          case Compare::Target::lease: actual = it->second.lease; break;
          case Compare::Target::value: break;
        }
      }
      holds = compare_numbers(actual, compare.result, compare.number);
    }
    if (!holds) {
      succeeded = false;
      break;
    }
  }
  const auto& ops = succeeded ? request.success : request.failure;
  for (const auto& op : ops) {
    if (const auto* put = std::get_if<PutRequest>(&op); put && put->lease != 0 && !has_lease(put->lease)) {
      return Errc::lease_not_found;
    }
  }

  TxnResponse response;
  response.succeeded = succeeded;
  const int64_t write_revision = revision_ + 1;
  effect = Effect{};
  for (const auto& op : ops) {
    if (const auto* get = std::get_if<RangeRequest>(&op)) {
      // As etcd: a range op that names a revision reads the store as it was then.
      auto r = range(*get, get->revision > 0 ? get->revision : revision_);
      if (!r) return r.error();
      response.responses.emplace_back(std::move(*r));
    } else if (const auto* put = std::get_if<PutRequest>(&op)) {
      PutResponse pr;
      if (put->prev_kv) {
        if (auto it = keys_.find(std::string_view(put->key)); it != keys_.end()) pr.prev_kv = it->second;
      }
      Change change{false, put->key, put->value, put->lease};
      apply_change(change, write_revision);
      effect.changes.push_back(std::move(change));
      pr.revision = write_revision;
      response.responses.emplace_back(std::move(pr));
    } else if (const auto* del = std::get_if<DeleteRequest>(&op)) {
      DeleteResponse dr;
      KeyRange kr{del->key, del->range_end};
      std::vector<std::string> doomed;
      for (auto it = keys_.lower_bound(std::string_view(del->key)); it != keys_.end() && kr.contains(it->first); ++it) {
        doomed.push_back(it->first);
        if (del->prev_kv) dr.prev_kvs.push_back(it->second);
      }
      for (auto& key : doomed) {
        Change change{true, std::move(key), {}, 0};
        apply_change(change, write_revision);
        effect.changes.push_back(std::move(change));
      }
      dr.deleted = static_cast<int64_t>(doomed.size());
      response.responses.emplace_back(std::move(dr));
    }
  }
  if (!effect.changes.empty()) effect.revision = write_revision;
  response.revision = revision_;
  for (auto& r : response.responses) std::visit([&](auto& x) { x.revision = revision_; }, r);
  trim_history();
  return response;
}

void KvState::apply_change(const Change& change, int64_t revision) {
  Event event;
  auto it = keys_.find(std::string_view(change.key));
  if (it != keys_.end()) {
    event.prev_kv = it->second;
    if (it->second.lease != 0 && (change.del || it->second.lease != change.lease)) {
      if (auto l = leases_.find(it->second.lease); l != leases_.end()) l->second.keys.erase(change.key);
    }
  }
  if (change.del) {
    event.type = Event::Type::del;
    event.kv.key = change.key;
    event.kv.mod_revision = revision;
    keys_.erase(it);
  } else {
    KeyValue kv;
    kv.key = change.key;
    kv.value = change.value;
    kv.mod_revision = revision;
    kv.lease = change.lease;
    kv.create_revision = it != keys_.end() ? it->second.create_revision : revision;
    kv.version = it != keys_.end() ? it->second.version + 1 : 1;
    if (change.lease != 0) {
      if (auto l = leases_.find(change.lease); l != leases_.end()) l->second.keys.insert(change.key);
    }
    event.type = Event::Type::put;
    event.kv = kv;
    if (it != keys_.end()) {
      it->second = std::move(kv);
    } else {
      keys_.emplace(change.key, std::move(kv));
    }
  }
  history_.push_back(std::move(event));
  revision_ = revision;
}

void KvState::trim_history() {
  while (history_.size() > max_history_) {
    const int64_t oldest = history_.front().kv.mod_revision;
    while (!history_.empty() && history_.front().kv.mod_revision == oldest) history_.pop_front();
    floor_ = oldest;
  }
}

int64_t KvState::next_lease_id() {
  while (next_lease_id_ == 0 || leases_.count(next_lease_id_) != 0) ++next_lease_id_;
  return next_lease_id_++;
}

void KvState::grant_lease(int64_t id, int64_t ttl) {
  leases_[id].ttl = ttl;
  if (id >= next_lease_id_) next_lease_id_ = id + 1;
}

Effect KvState::revoke_lease(int64_t id) {
  Effect effect;
  effect.revoked_lease = id;
  auto it = leases_.find(id);
  if (it == leases_.end()) return effect;
  std::set<std::string> keys = std::move(it->second.keys);
  it->second.keys.clear();
  if (!keys.empty()) {
    effect.revision = revision_ + 1;
    for (const auto& key : keys) {
      Change change{true, key, {}, 0};
      apply_change(change, effect.revision);
      effect.changes.push_back(std::move(change));
    }
  }
  leases_.erase(id);
  trim_history();
  return effect;
}

void KvState::replay(const Effect& effect) {
  for (const auto& change : effect.changes) apply_change(change, effect.revision);
  if (effect.revoked_lease != 0) leases_.erase(effect.revoked_lease);
  trim_history();
}

std::error_code KvState::compact(int64_t revision) {
  if (revision > revision_) return Errc::future_revision;
  if (revision <= floor_ + 1) return Errc::compacted;
  while (!history_.empty() && history_.front().kv.mod_revision < revision) history_.pop_front();
  floor_ = revision - 1;
  return {};
}

int64_t KvState::collect(const KeyRange& range, int64_t from, int64_t to, bool prev_kv, size_t max_events,
                         std::vector<Event>& out) const {
  auto it = std::lower_bound(history_.begin(), history_.end(), from,
                             [](const Event& e, int64_t rev) { return e.kv.mod_revision < rev; });
  int64_t current = 0;
  for (; it != history_.end() && it->kv.mod_revision <= to; ++it) {
    if (it->kv.mod_revision != current) {
      if (out.size() >= max_events) return it->kv.mod_revision;
      current = it->kv.mod_revision;
    }
    if (!range.contains(it->kv.key)) continue;
    out.push_back(*it);
    if (!prev_kv) out.back().prev_kv.reset();
  }
  return std::max(from, to + 1);
}

void KvState::restore(int64_t revision, int64_t next_lease_id, std::map<std::string, KeyValue, std::less<>> keys,
                      std::map<int64_t, int64_t> lease_ttls) {
  keys_ = std::move(keys);
  leases_.clear();
  for (const auto& [id, ttl] : lease_ttls) leases_[id].ttl = ttl;
  for (const auto& [key, kv] : keys_) {
    if (kv.lease != 0) {
      if (auto l = leases_.find(kv.lease); l != leases_.end()) l->second.keys.insert(key);
    }
  }
  history_.clear();
  revision_ = revision;
  floor_ = revision;
  next_lease_id_ = next_lease_id;
}

}  // namespace floe::meta
