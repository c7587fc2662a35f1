#include "kafka/fetch_sessions.h"

#include <cstring>
#include <limits>
#include <tuple>
#include <unordered_map>

#include "kafka/errors.h"

namespace floe::kafka {
namespace {

using fetch_session_detail::CachedPartition;
using fetch_session_detail::Session;

constexpr int32_t kInitialEpoch = 0;  // full fetch: create a session
constexpr int32_t kFinalEpoch = -1;   // full fetch: no session (closes the one named)

int32_t next_epoch(int32_t epoch) { return epoch == std::numeric_limits<int32_t>::max() ? 1 : epoch + 1; }

// Identifies a partition within one session: the partition number (fixed width) then the topic id or name.
std::string key_of(bool by_id, const std::string& topic, const proto::Uuid& topic_id, int32_t partition) {
  std::string key(sizeof partition, '\0');
  std::memcpy(key.data(), &partition, sizeof partition);
  if (by_id) {
    key.append(reinterpret_cast<const char*>(topic_id.data()), topic_id.size());
  } else {
    key += topic;
  }
  return key;
}

std::string key_of(bool by_id, const CachedPartition& p) {
  return key_of(by_id, p.topic, p.topic_id, p.request.partition);
}

bool same_topic(bool by_id, const CachedPartition& a, const CachedPartition& b) {
  return by_id ? a.topic_id == b.topic_id : a.topic == b.topic;
}

std::unordered_map<std::string, size_t> index_of(const Session& s) {
  std::unordered_map<std::string, size_t> index;
  index.reserve(s.partitions.size());
  for (size_t i = 0; i < s.partitions.size(); ++i) index.emplace(key_of(s.uses_topic_ids, s.partitions[i]), i);
  return index;
}

// Kafka's rule for what an incremental response must carry; remembers what it tells the client.
bool must_respond(CachedPartition& cached, const proto::FetchResponse::PartitionData& p) {
  bool respond = !p.records.data.empty();
  if (cached.high_watermark != p.high_watermark) {
    respond = true;
    cached.high_watermark = p.high_watermark;
  }
  if (cached.log_start_offset != p.log_start_offset) {
    respond = true;
    cached.log_start_offset = p.log_start_offset;
  }
  if (cached.last_stable_offset != p.last_stable_offset) {
    respond = true;
    cached.last_stable_offset = p.last_stable_offset;
  }
  if (p.preferred_read_replica >= 0) respond = true;
  if (p.diverging_epoch.epoch >= 0 || p.diverging_epoch.end_offset >= 0) respond = true;
  if (p.error_code != 0) {
    cached.high_watermark = -1;  // so the partition is sent again once the error is gone
    respond = true;
  }
  return respond;
}

}  // namespace

int32_t FetchSessionContext::session_id() const { return session_ ? session_->id : 0; }

void FetchSessionContext::finish(proto::FetchResponse& resp, std::chrono::steady_clock::time_point now) {
  switch (kind_) {
    case Kind::error:
      resp.responses.clear();
      resp.error_code = error_;
      resp.session_id = 0;
      return;
    case Kind::sessionless:
      resp.session_id = 0;
      return;
    case Kind::full: {
      resp.session_id = 0;
      // The response has one entry per requested partition, in request order (fetch.cc's gather).
      if (resp.responses.size() != full_request_.size()) return;
      std::vector<CachedPartition> parts;
      std::unordered_map<std::string, size_t> seen;
      for (size_t t = 0; t < full_request_.size(); ++t) {
        const auto& ft = full_request_[t];
        const auto& rt = resp.responses[t];
        if (rt.partitions.size() != ft.partitions.size()) return;
        for (size_t i = 0; i < ft.partitions.size(); ++i) {
          CachedPartition cp;
          cp.topic = ft.topic;
          cp.topic_id = ft.topic_id;
          cp.request = ft.partitions[i];
          cp.high_watermark = rt.partitions[i].high_watermark;
          cp.last_stable_offset = rt.partitions[i].last_stable_offset;
          cp.log_start_offset = rt.partitions[i].log_start_offset;
          auto [it, added] = seen.emplace(key_of(uses_topic_ids_, cp), parts.size());
          if (added) {
            parts.push_back(std::move(cp));
          } else {
            parts[it->second] = std::move(cp);  // named twice: the last one counts, as in Kafka
          }
        }
      }
      if (parts.empty()) return;  // nothing to remember
      resp.session_id = cache_->create(privileged_, uses_topic_ids_, std::move(parts), now);
      return;
    }
    case Kind::incremental:
      break;
  }

  std::lock_guard lock(cache_->mu_);
  Session& s = *session_;
  resp.session_id = s.id;
  auto index = index_of(s);
  std::vector<bool> answered(s.partitions.size(), false);
  std::vector<size_t> answered_order;
  std::vector<proto::FetchResponse::FetchableTopicResponse> kept;
  for (auto& topic : resp.responses) {
    proto::FetchResponse::FetchableTopicResponse out;
    out.topic = topic.topic;
    out.topic_id = topic.topic_id;
    for (auto& p : topic.partitions) {
      auto it = index.find(key_of(s.uses_topic_ids, topic.topic, topic.topic_id, p.partition_index));
      if (it != index.end()) {
        if (!must_respond(s.partitions[it->second], p)) continue;
        if (!answered[it->second]) answered_order.push_back(it->second);
        answered[it->second] = true;
      }
      out.partitions.push_back(std::move(p));
    }
    if (!out.partitions.empty()) kept.push_back(std::move(out));
  }
  resp.responses = std::move(kept);
  // Fairness, as in Kafka: the partitions just answered go to the end of the session's fetch order.
  std::vector<CachedPartition> reordered;
  reordered.reserve(s.partitions.size());
  for (size_t i = 0; i < s.partitions.size(); ++i) {
    if (!answered[i]) reordered.push_back(std::move(s.partitions[i]));
  }
  for (size_t i : answered_order) reordered.push_back(std::move(s.partitions[i]));
  s.partitions = std::move(reordered);
}

FetchSessionCache::FetchSessionCache(FetchSessionConfig config) : config_(config), rng_(std::random_device{}()) {}

FetchSessionContext FetchSessionCache::open(proto::FetchRequest& req, int16_t version, Clock::time_point now) {
  FetchSessionContext ctx;
  ctx.cache_ = this;
  ctx.uses_topic_ids_ = version >= 13;
  ctx.privileged_ = req.replica_id >= 0 || req.replica_state.replica_id >= 0;
  const bool by_id = ctx.uses_topic_ids_;

  if (req.session_epoch == kInitialEpoch || req.session_epoch == kFinalEpoch) {  // a full fetch
    if (req.session_id != 0) {
      std::lock_guard lock(mu_);
      remove_locked(req.session_id);  // a full fetch closes the session it names
    }
    if (req.session_epoch == kFinalEpoch) {
      ctx.kind_ = FetchSessionContext::Kind::sessionless;
    } else {
      ctx.kind_ = FetchSessionContext::Kind::full;
      ctx.full_request_ = req.topics;
    }
    return ctx;
  }

  std::lock_guard lock(mu_);
  auto found = sessions_.find(req.session_id);
  if (found == sessions_.end()) {
    ctx.kind_ = FetchSessionContext::Kind::error;
    ctx.error_ = code(Errc::fetch_session_id_not_found);
    return ctx;
  }
  Session& s = *found->second;
  if (req.session_epoch != s.next_epoch) {
    ctx.kind_ = FetchSessionContext::Kind::error;
    ctx.error_ = code(Errc::invalid_fetch_session_epoch);
    return ctx;
  }
  if (s.uses_topic_ids != by_id) {
    ctx.kind_ = FetchSessionContext::Kind::error;
    ctx.error_ = code(Errc::fetch_session_topic_id_error);
    return ctx;
  }

  // Added and updated partitions, then forgotten ones (a partition both sent and forgotten leaves the session).
  const size_t size_before = s.partitions.size();
  auto index = index_of(s);
  for (const auto& ft : req.topics) {
    for (const auto& fp : ft.partitions) {
      auto key = key_of(by_id, ft.topic, ft.topic_id, fp.partition);
      auto it = index.find(key);
      if (it != index.end()) {
        s.partitions[it->second].request = fp;
        continue;
      }
      CachedPartition cp;
      cp.topic = ft.topic;
      cp.topic_id = ft.topic_id;
      cp.request = fp;
      index.emplace(std::move(key), s.partitions.size());
      s.partitions.push_back(std::move(cp));
    }
  }
  std::vector<bool> forgotten(s.partitions.size(), false);
  bool any_forgotten = false;
  for (const auto& gone : req.forgotten_topics_data) {
    for (int32_t partition : gone.partitions) {
      auto it = index.find(key_of(by_id, gone.topic, gone.topic_id, partition));
      if (it == index.end()) continue;
      forgotten[it->second] = true;
      any_forgotten = true;
    }
  }
  if (any_forgotten) {
    std::vector<CachedPartition> remaining;
    for (size_t i = 0; i < s.partitions.size(); ++i) {
      if (!forgotten[i]) remaining.push_back(std::move(s.partitions[i]));
    }
    s.partitions = std::move(remaining);
  }
  cached_partitions_ = cached_partitions_ - size_before + s.partitions.size();
  if (s.partitions.empty() || cached_partitions_ > config_.max_cached_partitions) {
    // Nothing left to fetch, or over the cache's bound: the session ends, the request is answered without one.
    remove_locked(s.id);
    ctx.kind_ = FetchSessionContext::Kind::sessionless;
    return ctx;
  }
  s.last_used = now;
  s.next_epoch = next_epoch(s.next_epoch);

  // The caller reads every partition of the session, grouped into topics as they come in the fetch order.
  req.topics.clear();
  for (size_t i = 0; i < s.partitions.size(); ++i) {
    const CachedPartition& cp = s.partitions[i];
    if (i == 0 || !same_topic(by_id, s.partitions[i - 1], cp)) {
      auto& ft = req.topics.emplace_back();
      ft.topic = cp.topic;
      ft.topic_id = cp.topic_id;
    }
    req.topics.back().partitions.push_back(cp.request);
  }
  ctx.kind_ = FetchSessionContext::Kind::incremental;
  ctx.session_ = found->second;
  return ctx;
}

int32_t FetchSessionCache::create(bool privileged, bool uses_topic_ids, std::vector<CachedPartition> partitions,
                                  Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (config_.max_slots == 0) return 0;
  if (cached_partitions_ + partitions.size() > config_.max_cached_partitions) return 0;
  if (sessions_.size() >= config_.max_slots && !try_evict_locked(privileged, partitions.size(), now)) return 0;
  auto s = std::make_shared<Session>();
  s->id = new_id_locked();
  s->privileged = privileged;
  s->uses_topic_ids = uses_topic_ids;
  s->created = now;
  s->last_used = now;
  s->partitions = std::move(partitions);
  cached_partitions_ += s->partitions.size();
  sessions_.emplace(s->id, s);
  return s->id;
}

bool FetchSessionCache::try_evict_locked(bool privileged, size_t size, Clock::time_point now) {
  // A stale session (idle for longer than min_eviction) goes first, the least recently used of them.
  const Session* oldest = nullptr;
  for (const auto& [id, s] : sessions_) {
    if (!oldest || s->last_used < oldest->last_used) oldest = s.get();
  }
  if (!oldest) return false;
  if (now - oldest->last_used > config_.min_eviction) {
    remove_locked(oldest->id);
    ++evictions_;
    return true;
  }
  // Else the least valuable evictable session, if the new one is worth more. A session younger than min_eviction
  // is evictable only for a privileged newcomer, and only when it is not privileged itself.
  const Session* victim = nullptr;
  auto value = [](const Session& s) { return std::make_tuple(s.privileged, s.partitions.size(), s.id); };
  for (const auto& [id, s] : sessions_) {
    const bool settled = now - s->created > config_.min_eviction;
    const bool evictable = settled || (privileged && !s->privileged);
    if (!evictable) continue;
    if (!victim || value(*s) < value(*victim)) victim = s.get();
  }
  if (!victim) return false;
  if (std::make_tuple(privileged, size) <= std::make_tuple(victim->privileged, victim->partitions.size())) {
    return false;
  }
  remove_locked(victim->id);
  ++evictions_;
  return true;
}

int32_t FetchSessionCache::new_id_locked() {
  std::uniform_int_distribution<int32_t> ids(1, std::numeric_limits<int32_t>::max());
  for (;;) {
    int32_t id = ids(rng_);
    if (!sessions_.contains(id)) return id;  // at most max_slots ids are taken out of 2^31 - 1
  }
}

void FetchSessionCache::remove_locked(int32_t session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  cached_partitions_ -= it->second->partitions.size();
  sessions_.erase(it);
}

size_t FetchSessionCache::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

bool FetchSessionCache::contains(int32_t session_id) const {
  std::lock_guard lock(mu_);
  return sessions_.contains(session_id);
}

size_t FetchSessionCache::cached_partitions() const {
  std::lock_guard lock(mu_);
  return cached_partitions_;
}

uint64_t FetchSessionCache::evictions() const {
  std::lock_guard lock(mu_);
  return evictions_;
}

}  // namespace floe::kafka
