// Garbage collection as cluster mode runs it (retire_unreferenced_objects: metadata-driven, guarded by compares on
// the objects/ keys, objects deleted by the gc sweep after the grace), the gc due time's steady-clock half, the
// image-lag gate on committed reads, and the cut of WAL runs into blocks of about block_bytes. Both WAL kinds.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <atomic>
#include <thread>

#include "meta/meta_store.h"
#include "stream/compaction.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {

using testing::make_batch;
using testing::WalKind;

// A live_streams_at hook for the collector that, while *victim names an object, rewrites that object's objects/ key
// (same value, new mod revision) as a concurrent commit or compaction would, keeping the key as read in *saved when
// given; it reports no deleted streams.
Compactor::LiveStreams rewrite_victim_key(meta::MetaStore** meta, const std::string* victim,
                                          std::optional<meta::KeyValue>* saved = nullptr) {
  return [meta, victim, saved](int64_t) -> asio::awaitable<Result<std::optional<std::set<uint64_t>>>> {
    if (!victim->empty()) {
      auto cur = co_await (*meta)->get("/floe/objects/" + *victim);
      EXPECT_TRUE(cur && *cur);
      if (saved != nullptr) *saved = **cur;
      meta::PutRequest put;
      put.key = "/floe/objects/" + *victim;
      put.value = (*cur)->value;
      EXPECT_TRUE(co_await (*meta)->put(put));
    }
    co_return std::optional<std::set<uint64_t>>();
  };
}

class StreamGc : public testing::StreamStoreFixture, public ::testing::WithParamInterface<WalKind> {
 protected:
  StreamGc() : StreamStoreFixture(GetParam()) {}

  // Cluster-mode garbage collection, no compaction (the trigger never holds).
  StreamStoreConfig gc_config(std::chrono::milliseconds grace) {
    StreamStoreConfig c = config();
    c.compaction_min_objects = 1000;
    c.compaction_max_age = std::chrono::hours(1);
    c.compaction_target_bytes = 64 << 10;
    c.compaction_grace = grace;
    c.retire_unreferenced_objects = true;
    return c;
  }
  // objects/ keys whose blocks are all of `stream`.
  std::set<std::string> objects_of(uint64_t stream) {
    std::set<std::string> out;
    for (const auto& kv : meta_keys("objects/")) {
      auto ranges = decode_object_ranges(kv.key.substr(std::string("/floe/objects/").size()), kv.value);
      EXPECT_TRUE(ranges);
      bool only = !ranges->blocks.empty();
      for (const BlockInfo& b : ranges->blocks) only = only && b.stream_id == stream;
      if (only) out.insert(ranges->key);
    }
    return out;
  }
  bool exists(const std::string& key) {
    return run(file_store_->head(key, objstore::Clock::now() + std::chrono::seconds(5))).ok();
  }
};

TEST_P(StreamGc, TrimmedObjectsLeaveMetadataThenTheBucketAfterTheGrace) {
  open_store(gc_config(std::chrono::milliseconds(600)));
  for (int i = 0; i < 6; ++i) append_committed(1, i, 3);  // stream 1: 6 objects of 3 records
  for (int i = 0; i < 3; ++i) append_committed(2, 100 + i, 2);
  const auto quiet = read_all(2);
  const std::set<std::string> before = objects_of(1);
  ASSERT_EQ(before.size(), 6u);
  ASSERT_TRUE(run(store_->trim(1, 9)));  // objects 0-2 (offsets 0-8) wholly below; object 3 holds 9-11

  ASSERT_TRUE(run(store_->compact_once()));
  const std::set<std::string> after = objects_of(1);
  EXPECT_EQ(after.size(), 3u) << "the three wholly trimmed objects left metadata";
  EXPECT_EQ(store_->compaction_stats().objects_retired, 3u);
  EXPECT_EQ(meta_keys("gc/").size(), 1u) << "one gc record names them";
  for (const std::string& key : before) EXPECT_TRUE(exists(key)) << key << " deleted within the grace";

  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_TRUE(run(store_->compact_once()));
  for (const std::string& key : before) {
    EXPECT_EQ(exists(key), after.count(key) > 0) << key;
  }
  EXPECT_EQ(meta_keys("gc/").size(), 0u);
  EXPECT_EQ(store_->compaction_stats().gc_objects_deleted, 3u);
  auto kept = read_all(1);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.begin()->first, 9) << "the batch holding the start is still readable";
  EXPECT_EQ(kept.rbegin()->first, 15);
  EXPECT_EQ(read_all(2), quiet);
}

TEST_P(StreamGc, DeletedStreamsAreCollectedOnlyWhenTheLiveSetIsKnown) {
  StreamStoreConfig c = gc_config(std::chrono::milliseconds(0));
  std::atomic<int> mode{0};  // 0: live set unknown, 1: only stream 2 lives
  std::atomic<int64_t> asked_revision{0};
  c.live_streams_at = [&mode, &asked_revision](int64_t revision)
      -> asio::awaitable<Result<std::optional<std::set<uint64_t>>>> {
    asked_revision = revision;
    if (mode.load() == 0) co_return std::optional<std::set<uint64_t>>();
    co_return std::optional<std::set<uint64_t>>(std::set<uint64_t>{2});
  };
  open_store(c);
  for (int i = 0; i < 4; ++i) append_committed(1, i, 2);
  for (int i = 0; i < 2; ++i) append_committed(2, 100 + i, 2);
  const auto quiet = read_all(2);
  const std::set<std::string> deleted_topic = objects_of(1);
  ASSERT_EQ(deleted_topic.size(), 4u);

  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_GT(asked_revision.load(), 0) << "the live set is asked at the read's revision";
  EXPECT_EQ(objects_of(1).size(), 4u) << "live set unknown: no stream counts as deleted";

  mode = 1;
  ASSERT_TRUE(run(store_->compact_once()));  // retires (grace 0: the same pass's sweep deletes)
  EXPECT_TRUE(objects_of(1).empty());
  for (const std::string& key : deleted_topic) EXPECT_FALSE(exists(key)) << key;
  EXPECT_EQ(read_all(2), quiet);
  EXPECT_EQ(objects_of(2).size(), 2u);
}

// A deleted topic's blocks inside objects shared with a live stream: compaction rewrites those objects without
// them (a dirty object triggers a round by itself), and the old objects go after the grace.
TEST_P(StreamGc, DeletedStreamsInSharedObjectsAreDroppedByCompaction) {
  StreamStoreConfig c = gc_config(std::chrono::milliseconds(0));
  c.wal_flush_interval = std::chrono::milliseconds(100);  // the object WAL puts both appends in one object
  c.wal_flush_eager = false;                              // (not the first one at once)
  std::atomic<bool> deleted{false};
  c.live_streams_at = [&deleted](int64_t) -> asio::awaitable<Result<std::optional<std::set<uint64_t>>>> {
    std::set<uint64_t> live{2};
    if (!deleted.load()) live.insert(1);
    co_return std::optional<std::set<uint64_t>>(std::move(live));
  };
  open_store(c);
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> done{0};
    for (uint64_t stream : {1, 2}) {
      Bytes batch = make_batch(round * 10 + static_cast<int>(stream), 3);
      asio::co_spawn(io_, [this, stream, batch = std::move(batch), &done]() mutable -> asio::awaitable<void> {
        EXPECT_TRUE(co_await store_->append(stream, std::move(batch), 3));
        ++done;
      }, asio::detached);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (done.load() < 2 && std::chrono::steady_clock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(20));
    ASSERT_EQ(done.load(), 2);
    ASSERT_TRUE(run(store_->flush()));
  }
  std::set<std::string> shared;
  for (const auto& kv : meta_keys("objects/")) shared.insert(kv.key.substr(std::string("/floe/objects/").size()));
  ASSERT_FALSE(shared.empty());
  ASSERT_TRUE(objects_of(1).empty() && objects_of(2).empty()) << "every object holds both streams";
  const auto live = read_all(2);
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().swaps, 0u) << "nothing dead yet, and too few objects to compact";

  deleted = true;
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_GE(store_->compaction_stats().swaps, 1u);
  for (const auto& kv : meta_keys("objects/")) {
    auto ranges = decode_object_ranges(kv.key.substr(std::string("/floe/objects/").size()), kv.value);
    ASSERT_TRUE(ranges);
    for (const BlockInfo& b : ranges->blocks) EXPECT_EQ(b.stream_id, 2u) << "a deleted stream's block kept";
  }
  for (const std::string& key : shared) EXPECT_FALSE(exists(key)) << key << " (grace 0)";
  EXPECT_EQ(read_all(2), live);
}

TEST_P(StreamGc, ARetireThatLosesItsCompareChangesNothing) {
  StreamStoreConfig c = gc_config(std::chrono::milliseconds(0));
  meta::MetaStore* meta = nullptr;
  std::string victim;
  // Between the plan's read and the retire txn, the object's key changes (as a concurrent compaction would).
  c.live_streams_at = rewrite_victim_key(&meta, &victim);
  open_store(c);
  meta = meta_.get();
  for (int i = 0; i < 2; ++i) append_committed(1, i, 2);
  const std::set<std::string> objects = objects_of(1);
  ASSERT_EQ(objects.size(), 2u);
  victim = *objects.begin();
  ASSERT_TRUE(run(store_->trim(1, 4)));
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(objects_of(1), objects) << "the batch holding the changed key retired nothing";
  EXPECT_GE(store_->compaction_stats().conflicts, 1u);
  for (const std::string& key : objects) EXPECT_TRUE(exists(key));
  victim.clear();
  ASSERT_TRUE(run(store_->compact_once()));  // planned again: now both go
  EXPECT_TRUE(objects_of(1).empty());
  for (const std::string& key : objects) EXPECT_FALSE(exists(key));
}

// Embedded mode's collect_garbage takes the same guarded path: a commit that rewrites the objects/ key of an
// object between the collector's read and its retire txn makes the txn fail (nothing retired, nothing deleted),
// and an objects/ key that names a retired object again before its grace is over keeps it in the bucket.
TEST_P(StreamGc, EmbeddedCollectionLosesToACommitNamingTheObject) {
  StreamStoreConfig c = config();  // embedded: no retirement inside compaction passes
  meta::MetaStore* meta = nullptr;
  std::string victim;
  std::optional<meta::KeyValue> saved;  // the victim's committed key, as a commit naming it would write it
  // Between the collector's read and its txn: a commit rewrites the victim's key.
  c.live_streams_at = rewrite_victim_key(&meta, &victim, &saved);
  open_store(c);
  meta = meta_.get();
  for (int i = 0; i < 3; ++i) append_committed(1, i, 2);
  const std::set<std::string> objects = objects_of(1);
  ASSERT_EQ(objects.size(), 3u);
  victim = *objects.begin();
  const std::string victim_key = victim;
  ASSERT_TRUE(run(store_->trim(1, 6)));
  auto first = run(store_->collect_garbage(std::chrono::milliseconds(0)));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 0u) << "the batch holding the rewritten key retired nothing";
  EXPECT_EQ(objects_of(1), objects);
  EXPECT_GE(store_->compaction_stats().conflicts, 1u);
  for (const std::string& key : objects) EXPECT_TRUE(exists(key));

  // Planned again: all three retire; before their grace is over, a commit names the victim again (its ranges
  // for a live stream, as a recovery committing the object would).
  victim.clear();
  const std::chrono::milliseconds grace(300);
  auto second = run(store_->collect_garbage(grace));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, 0u) << "retired, not yet due";
  EXPECT_TRUE(objects_of(1).empty());
  EXPECT_EQ(store_->compaction_stats().objects_retired, 3u);
  ASSERT_TRUE(saved);
  auto ranges = decode_object_ranges(victim_key, saved->value);
  ASSERT_TRUE(ranges);
  for (BlockInfo& b : ranges->blocks) b.stream_id = 7;  // a stream with all its data live
  auto name_again = [this, key = saved->key, value = encode_object_ranges(*ranges)]() -> asio::awaitable<bool> {
    meta::PutRequest put;
    put.key = key;
    put.value = value;
    auto r = co_await meta_->put(put);
    co_return r.ok();
  };
  ASSERT_TRUE(run(name_again()));
  std::this_thread::sleep_for(grace + std::chrono::milliseconds(100));
  auto third = run(store_->collect_garbage(grace));
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(*third, 2u);
  for (const std::string& key : objects) {
    EXPECT_EQ(exists(key), key == *objects.begin()) << key << ": deleted exactly when no committed key names it";
  }
  EXPECT_TRUE(meta_keys("gc/").empty()) << "the records are done";
}

// A gc record is due only after the grace on this process's steady clock too: a wall clock far ahead (a jump, or
// a sweeper whose clock runs fast) deletes nothing early, and a new sweeper (a new controller) waits a grace of
// its own.
TEST_P(StreamGc, AClockJumpNeverDeletesEarly) {
  open_store(gc_config(std::chrono::milliseconds(0)));
  for (int i = 0; i < 2; ++i) append_committed(1, i, 2);
  const std::set<std::string> objects = objects_of(1);
  ASSERT_TRUE(run(store_->trim(1, 4)));
  CompactionOptions o;
  o.grace = std::chrono::milliseconds(800);
  Compactor first(o, *faults_, *meta_);
  auto retired = run(first.retire_unreferenced({}));
  ASSERT_TRUE(retired);
  ASSERT_EQ(retired->keys, objects);
  const int64_t far_future = INT64_MAX / 2;  // the wall clock jumped years ahead
  EXPECT_EQ(run(first.sweep_gc(far_future)).value(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  Compactor second(o, *faults_, *meta_);  // a sweeper that starts now
  EXPECT_EQ(run(second.sweep_gc(far_future)).value(), 0u);
  for (const std::string& key : objects) EXPECT_TRUE(exists(key));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(run(second.sweep_gc(far_future)).value(), 0u) << "the second has seen the record for 500 ms only";
  EXPECT_EQ(run(first.sweep_gc(far_future)).value(), 2u) << "the first has seen it for the whole grace";
  for (const std::string& key : objects) EXPECT_FALSE(exists(key));
}

TEST_P(StreamGc, CommittedReadsWaitWhileTheImageLags) {
  StreamStoreConfig c = config();
  std::atomic<bool> fresh{false};
  c.committed_reads_allowed = [&fresh] { return fresh.load(); };
  open_store(c);
  for (int i = 0; i < 3; ++i) {
    append(1, make_batch(i, 2));
    ASSERT_TRUE(run(store_->flush()));
  }
  auto refused = run(store_->read_for_client(1, 0, 1 << 20));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::image_lagging);
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 1u);
  auto own = run(store_->read(1, 0, 1 << 20));  // the broker's own reads (replays) run on a fresh block map
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 1u);
  fresh = true;
  auto ok = run(store_->read_for_client(1, 0, 1 << 20));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(ok->batches.empty());
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 1u);
}

// ListOffsets by time (find_timestamp_for_client) follows the same rule: the committed ranges' max timestamps
// decide the answer, so a lookup that consults them waits; the broker's own find_timestamp does not.
TEST_P(StreamGc, TimestampLookupsOfCommittedRangesWaitWhileTheImageLags) {
  StreamStoreConfig c = config();
  std::atomic<bool> fresh{false};
  c.committed_reads_allowed = [&fresh] { return fresh.load(); };
  open_store(c);
  for (int i = 0; i < 3; ++i) {  // make_batch(i, 2): offsets 2i, 2i+1, timestamp 1000 + i
    append(1, make_batch(i, 2));
    ASSERT_TRUE(run(store_->flush()));
  }
  for (int64_t ts : {int64_t{1002}, StreamStore::kMaxTimestamp, int64_t{1000}}) {
    auto refused = run(store_->find_timestamp_for_client(1, ts));
    ASSERT_FALSE(refused) << ts;
    EXPECT_EQ(refused.error().code, Errc::image_lagging) << ts;
  }
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 3u);
  auto own = run(store_->find_timestamp(1, 1002));
  ASSERT_TRUE(own) << own.error().message;
  ASSERT_TRUE(own->has_value());
  EXPECT_EQ((*own)->offset, 4);
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 3u);
  fresh = true;
  auto ok = run(store_->find_timestamp_for_client(1, 1002));
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->offset, (*own)->offset);
  EXPECT_EQ((*ok)->timestamp, (*own)->timestamp);
  // Trimmed past every committed block: the committed ranges take no part any more, the lookup is answered.
  fresh = false;
  const int64_t end = store_->ends(1).durable;
  ASSERT_TRUE(run(store_->trim(1, end)));
  auto none = run(store_->find_timestamp_for_client(1, 1002));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(store_->compaction_stats().committed_reads_refused, 3u);
}

TEST_P(StreamGc, TheUncommittedTailIsServedWhileTheImageLags) {
  if (GetParam() == WalKind::object) GTEST_SKIP() << "the object WAL commits every acked append";
  StreamStoreConfig c = config();
  c.committed_reads_allowed = [] { return false; };
  open_store(c);
  append(1, make_batch(1, 2));  // durable in the file WAL, not uploaded (the test never flushes)
  auto r = run(store_->read_for_client(1, 0, 1 << 20));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->batches.empty());
  auto hit = run(store_->find_timestamp_for_client(1, StreamStore::kMaxTimestamp));  // from the log cache alone
  ASSERT_TRUE(hit) << hit.error().message;
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->offset, 0);
}

// Many appends of one stream in one object become blocks of about block_bytes (cut between appends), so one read
// is one ranged GET of about that much; a single append larger than block_bytes stays one block.
TEST_P(StreamGc, WalRunsAreCutIntoBlocksOfAboutBlockBytes) {
  StreamStoreConfig c = config();
  c.block_bytes = 8 << 10;
  c.wal_flush_interval = std::chrono::milliseconds(300);  // the object WAL gathers the appends in one object
  c.wal_flush_eager = false;                              // (not the first one at once)
  c.wal_batch_bytes = 4 << 20;
  open_store(c);
  // 40 appends of ~600 bytes, all in flight at once, then one huge append (~13 KiB).
  std::atomic<int> done{0};
  for (int i = 0; i < 40; ++i) {
    Bytes batch = make_batch(i, 40);
    asio::co_spawn(io_, [this, batch = std::move(batch), &done]() mutable -> asio::awaitable<void> {
      auto r = co_await store_->append(1, std::move(batch), 3);
      EXPECT_TRUE(r);
      ++done;
    }, asio::detached);
  }
  Bytes huge = make_batch(1000, 800);  // ~24 KiB, one batch
  const size_t huge_size = huge.size();
  asio::co_spawn(io_, [this, huge = std::move(huge), &done]() mutable -> asio::awaitable<void> {
    auto r = co_await store_->append(1, std::move(huge), 3);
    EXPECT_TRUE(r);
    ++done;
  }, asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done.load() < 41 && std::chrono::steady_clock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(20));
  ASSERT_EQ(done.load(), 41);
  ASSERT_TRUE(run(store_->flush()));
  size_t blocks = 0, big = 0;
  for (const auto& kv : meta_keys("objects/")) {
    auto ranges = decode_object_ranges(kv.key.substr(std::string("/floe/objects/").size()), kv.value);
    ASSERT_TRUE(ranges);
    for (const BlockInfo& b : ranges->blocks) {
      ++blocks;
      if (b.size > (8u << 10)) {
        ++big;
        EXPECT_EQ(b.size, huge_size) << "only the single huge append may exceed block_bytes";
        EXPECT_EQ(b.first_offset, b.last_offset - 799);
      }
    }
  }
  EXPECT_GE(blocks, 4u) << "~24 KiB of small appends make several blocks";
  EXPECT_EQ(big, 1u);
  auto all = read_all(1);
  EXPECT_EQ(all.size(), 41u);
}

INSTANTIATE_TEST_SUITE_P(BothWals, StreamGc, ::testing::Values(WalKind::file, WalKind::object),
                         [](const ::testing::TestParamInfo<WalKind>& i) { return testing::wal_name(i.param); });

}  // namespace
}  // namespace floe::stream
