// The fetch session cache's state machine (KIP-227): each (session id, epoch) case, the incremental response
// filter, adding / updating / forgetting partitions, names vs ids, and Kafka's eviction rules.
#include "kafka/fetch_sessions.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <utility>

#include "kafka/errors.h"

namespace floe::kafka {
namespace {

using Kind = FetchSessionContext::Kind;
using Clock = FetchSessionCache::Clock;
using namespace std::chrono_literals;

// What the "log" of a partition looks like to the fake gather below.
struct PartitionState {
  int64_t hw = 0;
  int64_t log_start = 0;
  int64_t lso = 0;
  int16_t error = 0;
};

// topic name (or the first byte of the id, for id sessions) and partition -> state
using Logs = std::map<std::pair<std::string, int32_t>, PartitionState>;

proto::Uuid id_of(char c) {
  proto::Uuid u{};
  u[0] = static_cast<uint8_t>(c);
  return u;
}

std::string name_of(const std::string& topic, const proto::Uuid& id) {
  return topic.empty() ? std::string(1, static_cast<char>(id[0])) : topic;
}

// What fetch.cc's gather does, in miniature: one answer per requested partition, in request order, with records
// when the fetch offset is below the high watermark.
proto::FetchResponse gather(const proto::FetchRequest& req, const Logs& logs) {
  proto::FetchResponse resp;
  for (const auto& ft : req.topics) {
    auto& rt = resp.responses.emplace_back();
    rt.topic = ft.topic;
    rt.topic_id = ft.topic_id;
    for (const auto& fp : ft.partitions) {
      auto& p = rt.partitions.emplace_back();
      p.partition_index = fp.partition;
      auto it = logs.find({name_of(ft.topic, ft.topic_id), fp.partition});
      if (it == logs.end()) {
        p.error_code = code(Errc::unknown_topic_or_partition);
        p.high_watermark = p.last_stable_offset = p.log_start_offset = -1;
        continue;
      }
      const PartitionState& s = it->second;
      p.error_code = s.error;
      p.high_watermark = s.hw;
      p.last_stable_offset = s.lso;
      p.log_start_offset = s.log_start;
      if (s.error == 0 && fp.fetch_offset < s.hw) {
        auto bytes = std::make_shared<proto::Bytes>(static_cast<size_t>(s.hw - fp.fetch_offset), uint8_t{7});
        p.records = proto::RecordsView::of(proto::ByteSpan(*bytes), bytes);
      }
    }
  }
  return resp;
}

proto::FetchRequest::FetchPartition part(int32_t partition, int64_t offset) {
  proto::FetchRequest::FetchPartition p;
  p.partition = partition;
  p.fetch_offset = offset;
  p.partition_max_bytes = 1 << 20;
  return p;
}

proto::FetchRequest request(int32_t session_id, int32_t epoch,
                            std::vector<std::pair<std::string, std::vector<proto::FetchRequest::FetchPartition>>> topics,
                            bool by_id = false) {
  proto::FetchRequest req;
  req.session_id = session_id;
  req.session_epoch = epoch;
  for (auto& [name, parts] : topics) {
    auto& ft = req.topics.emplace_back();
    if (by_id) {
      ft.topic_id = id_of(name[0]);
    } else {
      ft.topic = name;
    }
    ft.partitions = std::move(parts);
  }
  return req;
}

void forget(proto::FetchRequest& req, const std::string& topic, std::vector<int32_t> partitions, bool by_id = false) {
  auto& f = req.forgotten_topics_data.emplace_back();
  if (by_id) {
    f.topic_id = id_of(topic[0]);
  } else {
    f.topic = topic;
  }
  f.partitions = std::move(partitions);
}

// (topic, partition) pairs a request or response names, in order.
std::vector<std::pair<std::string, int32_t>> names(const proto::FetchRequest& req) {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) out.emplace_back(name_of(t.topic, t.topic_id), p.partition);
  }
  return out;
}
std::vector<std::pair<std::string, int32_t>> names(const proto::FetchResponse& resp) {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const auto& t : resp.responses) {
    for (const auto& p : t.partitions) out.emplace_back(name_of(t.topic, t.topic_id), p.partition_index);
  }
  return out;
}
using Names = std::vector<std::pair<std::string, int32_t>>;

class FetchSessionsTest : public ::testing::Test {
 protected:
  // One request through the cache the way fetch.cc runs it: open, gather, finish.
  proto::FetchResponse fetch(proto::FetchRequest req, int16_t version = 12, Clock::time_point now = Clock::now(),
                             Kind* kind = nullptr, Names* read = nullptr) {
    FetchSessionContext ctx = cache.open(req, version, now);
    if (kind) *kind = ctx.kind();
    proto::FetchResponse resp;
    if (ctx.kind() != Kind::error) resp = gather(req, logs);
    if (read) *read = names(req);
    ctx.finish(resp, now);
    return resp;
  }

  // A session on topic "a" partitions 0 and 1, both at offset 0 with nothing in them.
  int32_t new_session(Clock::time_point now = Clock::now()) {
    logs[{"a", 0}] = {};
    logs[{"a", 1}] = {};
    auto resp = fetch(request(0, 0, {{"a", {part(0, 0), part(1, 0)}}}), 12, now);
    return resp.session_id;
  }

  FetchSessionCache cache{FetchSessionConfig{}};
  Logs logs;
};

TEST_F(FetchSessionsTest, SessionlessFullFetchMakesNoSession) {
  logs[{"a", 0}] = {5, 0, 5, 0};
  Kind kind{};
  auto resp = fetch(request(0, -1, {{"a", {part(0, 0)}}}), 12, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::sessionless);
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(resp.error_code, 0);
  EXPECT_EQ(names(resp), (Names{{"a", 0}}));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FetchSessionsTest, FullFetchCreatesSessionAndAnswersEveryPartition) {
  logs[{"a", 0}] = {};
  logs[{"a", 1}] = {3, 0, 3, 0};
  Kind kind{};
  auto resp = fetch(request(0, 0, {{"a", {part(0, 0), part(1, 0)}}}), 12, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::full);
  EXPECT_GT(resp.session_id, 0);
  EXPECT_EQ(names(resp), (Names{{"a", 0}, {"a", 1}}));  // a full response carries every partition
  EXPECT_TRUE(cache.contains(resp.session_id));
  EXPECT_EQ(cache.cached_partitions(), 2u);
}

TEST_F(FetchSessionsTest, EmptyFullFetchMakesNoSession) {
  auto resp = fetch(request(0, 0, {}));
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FetchSessionsTest, IncrementalWithoutChangesAnswersNoPartitionsButReadsThemAll) {
  int32_t id = new_session();
  ASSERT_GT(id, 0);
  Kind kind{};
  Names read;
  auto resp = fetch(request(id, 1, {}), 12, Clock::now(), &kind, &read);
  EXPECT_EQ(kind, Kind::incremental);
  EXPECT_EQ(resp.session_id, id);
  EXPECT_EQ(resp.error_code, 0);
  EXPECT_TRUE(resp.responses.empty());
  EXPECT_EQ(read, (Names{{"a", 0}, {"a", 1}}));  // the session's partitions were read all the same
}

TEST_F(FetchSessionsTest, IncrementalAnswersPartitionsWithNewRecords) {
  int32_t id = new_session();
  logs[{"a", 1}] = {4, 0, 4, 0};  // produced to partition 1
  auto resp = fetch(request(id, 1, {}));
  ASSERT_EQ(names(resp), (Names{{"a", 1}}));
  const auto& p = resp.responses[0].partitions[0];
  EXPECT_EQ(p.high_watermark, 4);
  EXPECT_EQ(p.records.data.size(), 4u);
  // The client moved its position to 4: nothing new after that.
  auto req = request(id, 2, {{"a", {part(1, 4)}}});
  resp = fetch(req);
  EXPECT_TRUE(resp.responses.empty());
  // Until more arrives.
  logs[{"a", 1}].hw = 6;
  logs[{"a", 1}].lso = 6;
  resp = fetch(request(id, 3, {}));
  ASSERT_EQ(names(resp), (Names{{"a", 1}}));
  EXPECT_EQ(resp.responses[0].partitions[0].records.data.size(), 2u);  // from the client's offset 4, not 0
}

TEST_F(FetchSessionsTest, IncrementalAnswersChangedWatermarksAndLogStart) {
  int32_t id = new_session();
  int32_t epoch = 1;
  // The client's offset stays at the high watermark, so there are no records: only the offsets changed.
  logs[{"a", 0}] = {0, 0, 0, 0};
  auto at = [&](int64_t offset) { return request(id, epoch++, {{"a", {part(0, offset)}}}); };
  EXPECT_TRUE(fetch(at(0)).responses.empty());
  logs[{"a", 0}].log_start = 0;
  logs[{"a", 0}].hw = 2;
  logs[{"a", 0}].lso = 2;
  auto resp = fetch(at(2));
  ASSERT_EQ(names(resp), (Names{{"a", 0}}));  // high watermark changed
  EXPECT_TRUE(resp.responses[0].partitions[0].records.data.empty());
  logs[{"a", 0}].log_start = 1;
  ASSERT_EQ(names(fetch(at(2))), (Names{{"a", 0}}));  // log start changed
  EXPECT_TRUE(fetch(at(2)).responses.empty());
  logs[{"a", 0}].lso = 1;
  ASSERT_EQ(names(fetch(at(2))), (Names{{"a", 0}}));  // last stable offset changed
  EXPECT_TRUE(fetch(at(2)).responses.empty());
}

TEST_F(FetchSessionsTest, ErrorsAreAlwaysAnsweredAndThePartitionIsResentOnceTheyClear) {
  int32_t id = new_session();
  logs[{"a", 0}].error = code(Errc::not_leader_or_follower);
  EXPECT_EQ(names(fetch(request(id, 1, {}))), (Names{{"a", 0}}));
  EXPECT_EQ(names(fetch(request(id, 2, {}))), (Names{{"a", 0}}));  // still failing: still answered
  logs[{"a", 0}].error = 0;
  auto resp = fetch(request(id, 3, {}));
  ASSERT_EQ(names(resp), (Names{{"a", 0}}));  // the error is gone: its offsets are sent again
  EXPECT_EQ(resp.responses[0].partitions[0].error_code, 0);
  EXPECT_TRUE(fetch(request(id, 4, {})).responses.empty());
}

TEST_F(FetchSessionsTest, PreferredReplicaAndDivergingEpochAreAnswered) {
  int32_t id = new_session();
  auto req = request(id, 1, {});
  FetchSessionContext ctx = cache.open(req, 12);
  auto resp = gather(req, logs);
  resp.responses[0].partitions[0].preferred_read_replica = 3;
  resp.responses[0].partitions[1].diverging_epoch.epoch = 2;
  resp.responses[0].partitions[1].diverging_epoch.end_offset = 0;
  ctx.finish(resp);
  EXPECT_EQ(names(resp), (Names{{"a", 0}, {"a", 1}}));
}

TEST_F(FetchSessionsTest, EpochMustBeTheNextOne) {
  int32_t id = new_session();
  for (int32_t wrong : {0 + 2, 5, 1000}) {
    auto resp = fetch(request(id, wrong, {}));
    EXPECT_EQ(resp.error_code, code(Errc::invalid_fetch_session_epoch)) << wrong;
    EXPECT_EQ(resp.session_id, 0);
    EXPECT_TRUE(resp.responses.empty());
  }
  EXPECT_EQ(fetch(request(id, 1, {})).error_code, 0);  // a wrong epoch does not consume one
  EXPECT_EQ(fetch(request(id, 1, {})).error_code, code(Errc::invalid_fetch_session_epoch));  // a replay
  EXPECT_EQ(fetch(request(id, 2, {})).error_code, 0);
  EXPECT_TRUE(cache.contains(id));  // errors leave the session in place
}

TEST_F(FetchSessionsTest, UnknownSessionIsNotFound) {
  int32_t id = new_session();
  int32_t other = id == 1 ? 2 : id - 1;
  Kind kind{};
  auto resp = fetch(request(other, 1, {}), 12, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::error);
  EXPECT_EQ(resp.error_code, code(Errc::fetch_session_id_not_found));
  EXPECT_EQ(fetch(request(0, 1, {})).error_code, code(Errc::fetch_session_id_not_found));  // incremental, no id
}

TEST_F(FetchSessionsTest, FinalEpochClosesTheSession) {
  int32_t id = new_session();
  logs[{"a", 0}].hw = 1;
  Kind kind{};
  auto resp = fetch(request(id, -1, {{"a", {part(0, 0)}}}), 12, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::sessionless);  // answered in full, without a session
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(names(resp), (Names{{"a", 0}}));
  EXPECT_FALSE(cache.contains(id));
  EXPECT_EQ(fetch(request(id, 1, {})).error_code, code(Errc::fetch_session_id_not_found));
}

TEST_F(FetchSessionsTest, InitialEpochWithAnIdReplacesTheSession) {
  int32_t id = new_session();
  auto resp = fetch(request(id, 0, {{"a", {part(1, 0)}}}));
  EXPECT_GT(resp.session_id, 0);
  EXPECT_NE(resp.session_id, id);
  EXPECT_FALSE(cache.contains(id));
  EXPECT_TRUE(cache.contains(resp.session_id));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.cached_partitions(), 1u);
}

TEST_F(FetchSessionsTest, IncrementalAddsUpdatesAndForgetsPartitions) {
  int32_t id = new_session();
  logs[{"b", 0}] = {2, 0, 2, 0};
  // Add b-0, update a-1's offset, forget a-0.
  auto req = request(id, 1, {{"b", {part(0, 0)}}, {"a", {part(1, 0)}}});
  forget(req, "a", {0, 7});  // a-7 was never in the session: ignored
  Names read;
  auto resp = fetch(req, 12, Clock::now(), nullptr, &read);
  EXPECT_EQ(read, (Names{{"a", 1}, {"b", 0}}));  // the session's order; the new partition last
  EXPECT_EQ(names(resp), (Names{{"b", 0}}));    // new: its records and offsets are news
  EXPECT_EQ(cache.cached_partitions(), 2u);
  // A partition both sent and forgotten leaves the session.
  req = request(id, 2, {{"a", {part(1, 0)}}});
  forget(req, "a", {1});
  fetch(req, 12, Clock::now(), nullptr, &read);
  EXPECT_EQ(read, (Names{{"b", 0}}));
}

TEST_F(FetchSessionsTest, ForgettingEveryPartitionClosesTheSession) {
  int32_t id = new_session();
  auto req = request(id, 1, {});
  forget(req, "a", {0, 1});
  Kind kind{};
  auto resp = fetch(req, 12, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::sessionless);
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_TRUE(resp.responses.empty());
  EXPECT_FALSE(cache.contains(id));
}

TEST_F(FetchSessionsTest, AnsweredPartitionsMoveToTheEndOfTheFetchOrder) {
  logs[{"a", 0}] = {};
  logs[{"a", 1}] = {};
  logs[{"a", 2}] = {};
  int32_t id = fetch(request(0, 0, {{"a", {part(0, 0), part(1, 0), part(2, 0)}}})).session_id;
  logs[{"a", 0}].hw = logs[{"a", 0}].lso = 1;
  EXPECT_EQ(names(fetch(request(id, 1, {}))), (Names{{"a", 0}}));
  Names read;
  fetch(request(id, 2, {{"a", {part(0, 1)}}}), 12, Clock::now(), nullptr, &read);
  EXPECT_EQ(read, (Names{{"a", 1}, {"a", 2}, {"a", 0}}));
}

TEST_F(FetchSessionsTest, SessionsByIdAndByNameDoNotMix) {
  logs[{"x", 0}] = {1, 0, 1, 0};
  // v13+: topics by id.
  auto resp = fetch(request(0, 0, {{"x", {part(0, 0)}}}, true), 13);
  int32_t by_id = resp.session_id;
  ASSERT_GT(by_id, 0);
  EXPECT_EQ(resp.responses[0].topic_id, id_of('x'));
  EXPECT_EQ(fetch(request(by_id, 1, {}), 12).error_code, code(Errc::fetch_session_topic_id_error));
  // The epoch was not consumed by the refused request; the id session works at v13 and forgets by id.
  auto req = request(by_id, 1, {}, true);
  forget(req, "x", {0}, true);
  Kind kind{};
  fetch(req, 13, Clock::now(), &kind);
  EXPECT_EQ(kind, Kind::sessionless);
  EXPECT_FALSE(cache.contains(by_id));

  int32_t by_name = new_session();
  EXPECT_EQ(fetch(request(by_name, 1, {}), 13).error_code, code(Errc::fetch_session_topic_id_error));
  EXPECT_EQ(fetch(request(by_name, 1, {}), 12).error_code, 0);
}

TEST_F(FetchSessionsTest, SessionsAreNotBoundToAConnectionButToTheBroker) {
  // The cache has no notion of connections: any request naming the session and its epoch continues it.
  int32_t id = new_session();
  FetchSessionCache& shared = cache;
  auto req = request(id, 1, {});
  EXPECT_EQ(shared.open(req, 12).kind(), Kind::incremental);
}

class FetchSessionEvictionTest : public FetchSessionsTest {
 protected:
  FetchSessionEvictionTest() { cache_ptr = std::make_unique<FetchSessionCache>(FetchSessionConfig{2, 100s}); }

  int32_t session_of(size_t partitions, Clock::time_point now, bool privileged = false) {
    std::vector<proto::FetchRequest::FetchPartition> parts;
    for (size_t i = 0; i < partitions; ++i) {
      logs[{"t", static_cast<int32_t>(i)}] = {};
      parts.push_back(part(static_cast<int32_t>(i), 0));
    }
    auto req = request(0, 0, {{"t", parts}});
    if (privileged) req.replica_id = 1;
    FetchSessionContext ctx = cache_ptr->open(req, 12, now);
    auto resp = gather(req, logs);
    ctx.finish(resp, now);
    return resp.session_id;
  }

  std::unique_ptr<FetchSessionCache> cache_ptr;
};

TEST_F(FetchSessionEvictionTest, FullCacheOfYoungSessionsMakesNoNewSession) {
  auto t0 = Clock::now();
  EXPECT_GT(session_of(1, t0), 0);
  EXPECT_GT(session_of(1, t0), 0);
  EXPECT_EQ(session_of(5, t0 + 1s), 0);  // bigger, but the others are younger than min_eviction
  EXPECT_EQ(cache_ptr->size(), 2u);
  EXPECT_EQ(cache_ptr->evictions(), 0u);
}

TEST_F(FetchSessionEvictionTest, IdleSessionIsEvictedFirst) {
  auto t0 = Clock::now();
  int32_t a = session_of(3, t0);
  int32_t b = session_of(3, t0 + 10s);
  int32_t c = session_of(1, t0 + 101s);  // a idle for 101 s > 100 s: it goes, whatever the sizes
  EXPECT_GT(c, 0);
  EXPECT_FALSE(cache_ptr->contains(a));
  EXPECT_TRUE(cache_ptr->contains(b));
  EXPECT_EQ(cache_ptr->evictions(), 1u);
}

TEST_F(FetchSessionEvictionTest, UsingASessionKeepsItFromBeingIdle) {
  auto t0 = Clock::now();
  int32_t a = session_of(1, t0);
  int32_t b = session_of(1, t0 + 10s);
  auto req = request(a, 1, {});
  cache_ptr->open(req, 12, t0 + 90s);  // a used at 90 s
  // At 105 s: a idle 15 s, b idle 95 s: neither stale; both settled (older than 100 s)? a yes, b no.
  // The newcomer (1 partition) is not bigger than a (1 partition): nothing is evicted.
  EXPECT_EQ(session_of(1, t0 + 105s), 0);
  // At 111 s b has been idle 101 s: it is the one evicted.
  EXPECT_GT(session_of(1, t0 + 111s), 0);
  EXPECT_TRUE(cache_ptr->contains(a));
  EXPECT_FALSE(cache_ptr->contains(b));
}

TEST_F(FetchSessionEvictionTest, BiggerSessionEvictsTheSmallestSettledOne) {
  auto t0 = Clock::now();
  int32_t small = session_of(1, t0);
  int32_t big = session_of(4, t0);
  // Keep both in use so neither is stale, while they become older than min_eviction.
  auto ra = request(small, 1, {});
  cache_ptr->open(ra, 12, t0 + 150s);
  auto rb = request(big, 1, {});
  cache_ptr->open(rb, 12, t0 + 150s);
  EXPECT_EQ(session_of(1, t0 + 160s), 0);  // same size as the smallest: not more valuable
  int32_t mid = session_of(2, t0 + 160s);
  EXPECT_GT(mid, 0);
  EXPECT_FALSE(cache_ptr->contains(small));
  EXPECT_TRUE(cache_ptr->contains(big));
}

TEST_F(FetchSessionEvictionTest, PrivilegedSessionEvictsAYoungUnprivilegedOne) {
  auto t0 = Clock::now();
  session_of(3, t0);
  session_of(3, t0);
  int32_t follower = session_of(1, t0 + 1s, true);
  EXPECT_GT(follower, 0);
  EXPECT_EQ(cache_ptr->evictions(), 1u);
}

TEST(FetchSessionCacheConfig, ZeroSlotsDisablesSessions) {
  FetchSessionCache cache(FetchSessionConfig{0, 120s});
  auto req = request(0, 0, {{"a", {part(0, 0)}}});
  FetchSessionContext ctx = cache.open(req, 12);
  EXPECT_EQ(ctx.kind(), Kind::full);
  Logs logs;
  logs[{"a", 0}] = {};
  auto resp = gather(req, logs);
  ctx.finish(resp);
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(names(resp), (Names{{"a", 0}}));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(FetchSessionCacheConfig, CachedPartitionBoundIsKept) {
  FetchSessionCache cache(FetchSessionConfig{10, 120s, 3});
  Logs logs;
  for (int32_t p = 0; p < 4; ++p) logs[{"a", p}] = {};
  auto run = [&](proto::FetchRequest req, Kind* kind = nullptr) {
    FetchSessionContext ctx = cache.open(req, 12);
    if (kind) *kind = ctx.kind();
    auto resp = ctx.kind() == Kind::error ? proto::FetchResponse{} : gather(req, logs);
    ctx.finish(resp);
    return resp;
  };
  int32_t id = run(request(0, 0, {{"a", {part(0, 0), part(1, 0)}}})).session_id;
  ASSERT_GT(id, 0);
  EXPECT_EQ(run(request(0, 0, {{"a", {part(2, 0), part(3, 0)}}})).session_id, 0);  // 2 + 2 > 3: no session
  EXPECT_EQ(cache.cached_partitions(), 2u);
  Kind kind{};
  auto resp = run(request(id, 1, {{"a", {part(2, 0), part(3, 0)}}}), &kind);  // would grow to 4
  EXPECT_EQ(kind, Kind::sessionless);
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(names(resp), (Names{{"a", 2}, {"a", 3}}));  // the request is still answered
  EXPECT_FALSE(cache.contains(id));
  EXPECT_EQ(cache.cached_partitions(), 0u);
}

}  // namespace
}  // namespace floe::kafka
