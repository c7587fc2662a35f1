// Incremental fetch sessions (KIP-227): a broker remembers, per session, the partitions a consumer fetches and what
// it last told it about each, so the consumer's later fetches name only the partitions whose fetch position changed
// and the answers carry only the partitions with something new.
//
// What a Fetch request's (session_id, session_epoch) means, as in Kafka:
//
//   session_id  session_epoch  meaning
//   0           -1             full fetch, no session (every client before v7, librdkafka, kafkajs)
//   0            0             full fetch that creates a session; the response carries its id (0 if none was made)
//   N            0             full fetch that closes session N and creates a new one
//   N           -1             full fetch that closes session N, without a new one
//   N           >0             incremental fetch in session N: the request's partitions are added to the session
//                              (or update its fetch offset / max bytes), forgotten_topics_data leaves it; every
//                              partition of the session is read; the response carries only those with new records,
//                              a changed high watermark, log start or last stable offset, an error, a preferred
//                              read replica or a diverging epoch
//   0           >0             FETCH_SESSION_ID_NOT_FOUND (incremental without a session)
//
// Errors of an incremental fetch (top-level error code, session id 0, no partitions): FETCH_SESSION_ID_NOT_FOUND
// (unknown or evicted session), INVALID_FETCH_SESSION_EPOCH (not the epoch the session expects next: 1 after the
// full fetch that created it, then +1 per incremental fetch, wrapping to 1), FETCH_SESSION_TOPIC_ID_ERROR (a v13+
// request, which names topics by id, in a session made by a v7-12 request, which names them by name, or the other
// way round). An incremental fetch that leaves the session empty closes it and answers without a session.
//
// Sessions belong to the broker, not to a connection: a consumer may use its session over a new connection. The
// cache holds at most `max_slots` sessions (max.incremental.fetch.session.cache.slots, 0 disables sessions). When it
// is full, a new session takes the slot of, in Kafka's order of preference: the least recently used session if it
// has been idle longer than `min_eviction` (min.incremental.fetch.session.eviction.ms); else the least valuable
// evictable session — ordered by (privileged, partition count, id) — if the new one is more valuable. A session
// younger than `min_eviction` can only be evicted for a privileged (follower) session, and only if it is not
// privileged itself. Otherwise no session is made (the response has session id 0: the client keeps fetching in
// full). Floe has no followers, so in practice every session is unprivileged. Floe also bounds the partitions
// remembered over all sessions (FetchSessionConfig::max_cached_partitions).
//
// Threads: the cache is shared by every connection of the broker; one mutex guards it and every session in it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "protocol/msg/fetch.h"

namespace floe::kafka {

struct FetchSessionConfig {
  size_t max_slots = 1000;                          // max.incremental.fetch.session.cache.slots
  std::chrono::milliseconds min_eviction{120000};  // min.incremental.fetch.session.eviction.ms
  // Partitions remembered over all sessions (Floe's bound on the cache's memory, about 150 bytes each). A full fetch
  // that would pass it gets no session; an incremental fetch that would, ends its session (answered sessionless,
  // so the client goes back to full fetches).
  size_t max_cached_partitions = 200000;
};

class FetchSessionCache;

namespace fetch_session_detail {

// A partition as a session remembers it: what the client last asked for and what the broker last answered.
struct CachedPartition {
  std::string topic;     // sessions by name (v7-12)
  proto::Uuid topic_id;  // sessions by id (v13+)
  proto::FetchRequest::FetchPartition request;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
};

struct Session {
  int32_t id = 0;
  bool privileged = false;
  bool uses_topic_ids = false;
  int32_t next_epoch = 1;  // what the next incremental fetch must carry
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point last_used;
  std::vector<CachedPartition> partitions;  // fetch order: partitions just answered move to the end (fairness)
};

}  // namespace fetch_session_detail

// One Fetch request's session: made by FetchSessionCache::open() before the partitions are read, finished with the
// response once they are. Movable, not copyable; holds the session alive (an eviction meanwhile is harmless).
class FetchSessionContext {
 public:
  enum class Kind { sessionless, full, incremental, error };

  FetchSessionContext() = default;
  FetchSessionContext(FetchSessionContext&&) = default;
  FetchSessionContext& operator=(FetchSessionContext&&) = default;
  FetchSessionContext(const FetchSessionContext&) = delete;
  FetchSessionContext& operator=(const FetchSessionContext&) = delete;

  Kind kind() const { return kind_; }
  // The top-level error for a Kind::error context (the response carries nothing else).
  int16_t error() const { return error_; }
  int32_t session_id() const;

  // Shapes the response gathered for the request: sets its session id; a full fetch creates its session here (from
  // the request's partitions and the answers just gathered); an incremental fetch keeps only the partitions with
  // something new and remembers what it answered.
  void finish(proto::FetchResponse& resp,
              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  friend class FetchSessionCache;
  Kind kind_ = Kind::sessionless;
  int16_t error_ = 0;
  FetchSessionCache* cache_ = nullptr;
  std::shared_ptr<fetch_session_detail::Session> session_;  // incremental: the session
  std::vector<proto::FetchRequest::FetchTopic> full_request_;  // full: the partitions to create the session with
  bool uses_topic_ids_ = false;
  bool privileged_ = false;
};

class FetchSessionCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit FetchSessionCache(FetchSessionConfig config = {});

  // Reads the request's session fields (see the table above). For an incremental fetch it applies the request to
  // the session and rewrites req.topics to every partition of the session (in the session's fetch order, with the
  // fetch offsets the client last sent), so the caller reads them as it would a full request. `version` decides
  // names or ids (v13+).
  FetchSessionContext open(proto::FetchRequest& req, int16_t version, Clock::time_point now = Clock::now());

  size_t size() const;
  bool contains(int32_t session_id) const;
  size_t cached_partitions() const;  // over every session
  uint64_t evictions() const;

 private:
  friend class FetchSessionContext;
  using Session = fetch_session_detail::Session;

  // Creates a session (evicting one if the cache is full and Kafka's rules allow); 0 when none was made.
  int32_t create(bool privileged, bool uses_topic_ids, std::vector<fetch_session_detail::CachedPartition> partitions,
                 Clock::time_point now);
  bool try_evict_locked(bool privileged, size_t size, Clock::time_point now);
  int32_t new_id_locked();
  void remove_locked(int32_t session_id);

  FetchSessionConfig config_;
  mutable std::mutex mu_;
  std::map<int32_t, std::shared_ptr<Session>> sessions_;
  size_t cached_partitions_ = 0;
  uint64_t evictions_ = 0;
  std::mt19937 rng_;
};

}  // namespace floe::kafka
