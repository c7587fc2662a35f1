// Compaction (compaction.h) in StreamStore, for both WAL kinds: merged objects read back exactly, swaps that lose a
// compare change nothing, retention and the grace period after compaction, reads while compaction runs, and kill -9
// of a compacting process.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_future.hpp>
#include <random>
#include <thread>

#include "meta/meta_store.h"
#include "protocol/record/batch_view.h"
#include "stream/compaction.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {

using testing::make_batch;
using testing::WalKind;

class StreamCompaction : public testing::StreamStoreFixture, public ::testing::WithParamInterface<WalKind> {
 protected:
  StreamCompaction() : StreamStoreFixture(GetParam()) {}

  // Small objects and a small target so that a test's few KiB make several rounds' worth.
  StreamStoreConfig compacting_config() {
    StreamStoreConfig c = config();
    c.compaction_target_bytes = 8 << 10;
    c.compaction_min_objects = 2;
    c.compaction_block_bytes = 2 << 10;
    c.compaction_grace = std::chrono::milliseconds(0);
    return c;
  }

  size_t blocks_of_stream(uint64_t stream) {
    size_t n = 0;
    for (const auto& kv : meta_keys("objects/")) {
      auto ranges = decode_object_ranges(kv.key, kv.value);
      EXPECT_TRUE(ranges);
      for (const BlockInfo& b : ranges->blocks) n += b.stream_id == stream;
    }
    return n;
  }
  // Every committed object exists; every object under data/compacted/ is committed.
  void expect_no_orphans_and_nothing_missing() {
    std::set<std::string> committed;
    for (const auto& kv : meta_keys("objects/")) committed.insert(kv.key.substr(std::string("/floe/objects/").size()));
    for (const std::string& key : committed) {
      auto head = run(file_store_->head(key, objstore::Clock::now() + std::chrono::seconds(5)));
      EXPECT_TRUE(head.ok()) << "committed object " << key << " is missing";
    }
    auto page = run(file_store_->list("data/compacted/", "", 1000, objstore::Clock::now() + std::chrono::seconds(5)));
    ASSERT_TRUE(page.ok());
    for (const auto& o : page.value.objects) EXPECT_TRUE(committed.count(o.key)) << "orphan " << o.key;
  }
};

TEST_P(StreamCompaction, MergesSmallObjectsAndReadsBackTheSameBytes) {
  open_store(compacting_config());
  for (int i = 0; i < 24; ++i) append_committed(1 + static_cast<uint64_t>(i % 3), i, 1 + i % 4);
  const auto before = std::array{read_all(1), read_all(2), read_all(3)};
  const size_t keys_before = meta_keys("objects/").size();
  const size_t blocks_before = blocks_of_stream(1);
  ASSERT_EQ(keys_before, 24u);

  auto merged = run(store_->compact_once());
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(*merged, 24u);
  const size_t keys_after = meta_keys("objects/").size();
  std::printf("[figures] %s WAL: %zu objects/ keys -> %zu; stream 1: %zu blocks -> %zu\n", testing::wal_name(kind_),
              keys_before, keys_after, blocks_before, blocks_of_stream(1));
  EXPECT_LT(keys_after, 4u);
  EXPECT_LE(blocks_of_stream(1), 2u);
  for (uint64_t s = 1; s <= 3; ++s) {
    EXPECT_EQ(read_all(s), before[s - 1]) << "stream " << s << ", from the in-memory map after the swap";
  }
  const auto stats = store_->compaction_stats();
  EXPECT_EQ(stats.objects_merged, 24u);
  EXPECT_EQ(stats.objects_written, keys_after);
  EXPECT_GT(stats.bytes_rewritten, 0u);
  EXPECT_EQ(stats.gc_objects_deleted, 24u) << "grace 0: the replaced objects went in the same pass";
  EXPECT_TRUE(meta_keys("gc/").empty());
  expect_no_orphans_and_nothing_missing();

  // A reopened store loads the compacted metadata; appends continue at the same offsets.
  const int64_t end = store_->ends(1).durable;
  close_store();
  open_store(compacting_config());
  for (uint64_t s = 1; s <= 3; ++s) EXPECT_EQ(read_all(s), before[s - 1]);
  EXPECT_EQ(append(1, make_batch(99, 2)), end);
}

TEST_P(StreamCompaction, ReplacedObjectsLiveUntilTheGraceIsOver) {
  StreamStoreConfig c = compacting_config();
  c.compaction_grace = std::chrono::milliseconds(400);
  open_store(c);
  for (int i = 0; i < 6; ++i) append_committed(1, i, 2);
  std::vector<std::string> inputs;
  for (const auto& kv : meta_keys("objects/")) inputs.push_back(kv.key.substr(std::string("/floe/objects/").size()));
  ASSERT_EQ(inputs.size(), 6u);
  auto existing = [&] {
    size_t n = 0;
    for (const std::string& key : inputs) {
      n += run(file_store_->head(key, objstore::Clock::now() + std::chrono::seconds(5))).ok();
    }
    return n;
  };
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().objects_merged, 6u);
  EXPECT_EQ(existing(), 6u) << "within the grace: nothing deleted";
  EXPECT_EQ(meta_keys("gc/").size(), 1u);
  ASSERT_TRUE(run(store_->compact_once()));  // a pass within the grace deletes nothing either
  EXPECT_EQ(store_->compaction_stats().gc_objects_deleted, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().gc_objects_deleted, 6u);
  EXPECT_EQ(existing(), 0u);
  EXPECT_TRUE(meta_keys("gc/").empty());
  expect_no_orphans_and_nothing_missing();
  EXPECT_EQ(read_all(1).size(), 6u);
}

TEST_P(StreamCompaction, ASwapThatLosesItsCompareChangesNothing) {
  StreamStoreConfig c = compacting_config();
  c.compaction_max_rounds = 1;  // no second plan after the lost round
  open_store(c);
  for (int i = 0; i < 5; ++i) append_committed(2, i, 3);
  const auto before = read_all(2);
  // Slow GETs: the test rewrites one input's key (same value, new mod revision) while the compactor reads.
  faults_->set_config(
      objstore::FaultConfig{}.delay(objstore::Op::get, objstore::Latency::constant(std::chrono::milliseconds(100))));
  const auto keys_before = meta_keys("objects/");
  auto pass = asio::co_spawn(io_, store_->compact_once(), asio::use_future);
  io_.restart();
  auto touch = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io_, std::chrono::milliseconds(50));
    co_await t.async_wait(asio::use_awaitable);
    meta::PutRequest put;
    put.key = keys_before.front().key;
    put.value = keys_before.front().value;
    (void)co_await meta_->put(put);
  };
  asio::co_spawn(io_, touch(), asio::detached);
  for (int i = 0; i < 600 && pass.wait_for(std::chrono::seconds(0)) != std::future_status::ready; ++i) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(pass.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  faults_->set_config(objstore::FaultConfig{});
  const auto stats = store_->compaction_stats();
  EXPECT_EQ(stats.conflicts, 1u);
  EXPECT_EQ(stats.swaps, 0u);
  // Metadata as before (but the touched key's revision), no outputs left, no gc record.
  const auto keys_after = meta_keys("objects/");
  ASSERT_EQ(keys_after.size(), keys_before.size());
  for (size_t i = 0; i < keys_after.size(); ++i) {
    EXPECT_EQ(keys_after[i].key, keys_before[i].key);
    EXPECT_EQ(keys_after[i].value, keys_before[i].value);
  }
  EXPECT_EQ(count_objects("data/compacted/"), 0u) << "the lost round's outputs were deleted";
  EXPECT_TRUE(meta_keys("gc/").empty());
  EXPECT_EQ(read_all(2), before);
  expect_no_orphans_and_nothing_missing();
}

TEST_P(StreamCompaction, TwoCompactorsRacingSwapOnce) {
  StreamStoreConfig c = compacting_config();
  c.block_cache_bytes = 0;  // every read GETs: the replaced objects' blocks are not served from memory
  open_store(c);
  for (int i = 0; i < 8; ++i) append_committed(1 + static_cast<uint64_t>(i % 2), i, 2);
  const auto before = std::array{read_all(1), read_all(2)};
  faults_->set_config(
      objstore::FaultConfig{}.delay(objstore::Op::put, objstore::Latency::constant(std::chrono::milliseconds(30))));
  CompactionOptions o;
  o.target_bytes = 8 << 10;
  o.small_object_bytes = 4 << 10;
  o.min_objects = 2;
  o.grace = std::chrono::milliseconds(0);
  Compactor a(o, *faults_, *meta_), b(o, *faults_, *meta_);  // two brokers' compactors
  auto ra = asio::co_spawn(io_, a.run_round(), asio::use_future);
  auto rb = asio::co_spawn(io_, b.run_round(), asio::use_future);
  io_.restart();
  for (int i = 0; i < 600 && (ra.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
                              rb.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
       ++i) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  faults_->set_config(objstore::FaultConfig{});
  auto first = ra.get();
  auto second = rb.get();
  const int won = (first && *first) + (second && *second);
  EXPECT_EQ(won, 1) << "the same inputs are swapped once";
  const auto& loser = (first && *first) ? second : first;
  ASSERT_FALSE(loser);
  EXPECT_EQ(loser.error().code, make_error_code(Errc::conflict));
  // The swap reached metadata but not this store's map: reads hit 404 after the sweep and re-read the metadata.
  auto swept = run(a.sweep_gc(INT64_MAX / 2));
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_EQ(read_all(1), before[0]);
  EXPECT_EQ(read_all(2), before[1]);
  EXPECT_GE(store_->compaction_stats().stale_block_refreshes, 1u);
  expect_no_orphans_and_nothing_missing();
}

TEST_P(StreamCompaction, RetentionAfterCompactionDeletesWhatItShouldAndNothingElse) {
  StreamStoreConfig c = compacting_config();
  c.compaction_target_bytes = 2 << 10;
  c.compaction_block_bytes = 512;
  open_store(c);
  for (int i = 0; i < 40; ++i) append_committed(i % 8 == 7 ? 2 : 1, i, 5);  // stream 1 busy, stream 2 quiet
  const auto quiet = read_all(2);
  ASSERT_TRUE(run(store_->compact_once()));
  const size_t after_compaction = meta_keys("objects/").size();
  ASSERT_GT(after_compaction, 2u) << "stream 1 needs several target-sized objects";
  // retention.bytes on stream 1 keeps its newest ~1 KiB.
  auto start = run(store_->apply_retention(1, -1, 1 << 10, 0));
  ASSERT_TRUE(start);
  ASSERT_GT(*start, 0);
  auto deleted = run(store_->collect_garbage(std::chrono::milliseconds(0)));
  ASSERT_TRUE(deleted);
  EXPECT_GT(*deleted, 0u);
  // What is left: every object holds a live block (of stream 1 at or above its start, or of stream 2).
  for (const auto& kv : meta_keys("objects/")) {
    auto ranges = decode_object_ranges(kv.key, kv.value);
    ASSERT_TRUE(ranges);
    bool live = false;
    for (const BlockInfo& b : ranges->blocks) live = live || b.stream_id == 2 || b.last_offset >= *start;
    EXPECT_TRUE(live) << kv.key << " is wholly trimmed but kept";
  }
  EXPECT_EQ(read_all(2), quiet) << "the quiet stream lost nothing";
  EXPECT_EQ(read_all(1).begin()->first, *start);
  expect_no_orphans_and_nothing_missing();
  // The next compaction drops the trimmed blocks that shared objects still carry.
  for (int i = 0; i < 4; ++i) append_committed(1, 100 + i, 5);
  ASSERT_TRUE(run(store_->compact_once()));
  for (const auto& kv : meta_keys("objects/")) {
    auto ranges = decode_object_ranges(kv.key, kv.value);
    for (const BlockInfo& b : ranges->blocks) {
      if (b.stream_id == 1 && ranges->object_size < (1u << 10)) {
        EXPECT_GE(b.last_offset, *start);
      }
    }
  }
  EXPECT_EQ(read_all(2), quiet);
}

// A large object (not small) that is less than half dead keeps its dead blocks only until they reach
// compaction_dead_bytes or have been dead for compaction_dead_max_age: then it is rewritten without them, its bytes
// are reclaimed, and the live records read back exactly.
TEST_P(StreamCompaction, PartlyDeadLargeObjectsAreReclaimedByAgeOrDeadBytes) {
  StreamStoreConfig c = compacting_config();  // target 8 KiB: objects of 4 KiB or more are not small
  c.compaction_dead_bytes = 1u << 30;
  c.compaction_dead_max_age = std::chrono::hours(1);
  open_store(c);
  for (int i = 0; i < 2; ++i) append_committed(1, i, 40);       // ~1.2 KiB of stream 1
  for (int i = 0; i < 9; ++i) append_committed(2, 10 + i, 40);  // ~5.6 KiB of stream 2
  ASSERT_TRUE(run(store_->compact_once()));
  auto only_object = [this]() {
    auto keys = meta_keys("objects/");
    EXPECT_EQ(keys.size(), 1u);
    auto ranges = decode_object_ranges(keys.at(0).key.substr(std::string("/floe/objects/").size()), keys.at(0).value);
    EXPECT_TRUE(ranges);
    return *ranges;
  };
  const ObjectRanges shared = only_object();
  uint64_t stream1_bytes = 0;
  for (const BlockInfo& b : shared.blocks) stream1_bytes += b.stream_id == 1 ? b.size : 0;
  ASSERT_GE(shared.object_size, 4096u) << "not a small object";
  ASSERT_GT(stream1_bytes, 0u);
  ASSERT_LT(stream1_bytes * 2, shared.object_size) << "less than half of it will be dead";
  const auto live = read_all(2);
  ASSERT_EQ(live.size(), 9u);

  // Stream 1 trimmed away: its blocks in the shared object are dead, less than half of it, far below dead_bytes.
  ASSERT_TRUE(run(store_->trim(1, store_->ends(1).durable)));
  const uint64_t swaps = store_->compaction_stats().swaps;
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().swaps, swaps) << "within both bounds: kept for now";
  EXPECT_EQ(only_object().key, shared.key);

  // The age bound: first seen dead by this process now, rewritten once it has been dead for 300 ms.
  close_store();
  c.compaction_dead_max_age = std::chrono::milliseconds(300);
  open_store(c);
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().swaps, 0u) << "dead for less than the age bound";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().swaps, 1u);
  const ObjectRanges rewritten = only_object();
  EXPECT_NE(rewritten.key, shared.key);
  for (const BlockInfo& b : rewritten.blocks) EXPECT_EQ(b.stream_id, 2u) << "a dead block was kept";
  EXPECT_LT(rewritten.object_size, shared.object_size - stream1_bytes / 2) << "the dead bytes were reclaimed";
  EXPECT_FALSE(run(file_store_->head(shared.key, objstore::Clock::now() + std::chrono::seconds(5))).ok())
      << "grace 0: the replaced object is deleted";
  EXPECT_EQ(read_all(2), live);
  expect_no_orphans_and_nothing_missing();

  // The dead-bytes bound: stream 2's first block trimmed (under 2 KiB dead, less than half of the object).
  close_store();
  c.compaction_dead_max_age = std::chrono::hours(1);
  c.compaction_dead_bytes = 1024;
  open_store(c);
  ASSERT_GE(rewritten.blocks.size(), 3u);
  const int64_t new_start = rewritten.blocks.front().last_offset + 1;
  ASSERT_TRUE(run(store_->trim(2, new_start)));
  const uint64_t dead_bytes = rewritten.blocks.front().size;
  ASSERT_GE(dead_bytes, 1024u);
  ASSERT_LT(dead_bytes * 2, rewritten.object_size);
  ASSERT_TRUE(run(store_->compact_once()));
  EXPECT_EQ(store_->compaction_stats().swaps, 1u) << "dead_bytes reached: rewritten at once";
  const ObjectRanges last = only_object();
  EXPECT_NE(last.key, rewritten.key);
  for (const BlockInfo& b : last.blocks) EXPECT_GE(b.last_offset, new_start) << "a trimmed block was kept";
  EXPECT_LT(last.object_size, rewritten.object_size);
  auto expected = live;
  expected.erase(expected.begin(), expected.find(new_start));
  EXPECT_EQ(read_all(2), expected);
  expect_no_orphans_and_nothing_missing();
}

TEST_P(StreamCompaction, ReadsStayExactWhileCompactionRunsWithAppendsAndTrims) {
  StreamStoreConfig c = compacting_config();
  c.compaction_interval = std::chrono::milliseconds(5);  // the background task, as in serve
  open_store(c);
  std::mt19937 rng(5);
  std::map<uint64_t, std::map<int64_t, int>> tags;  // stream -> base offset -> tag
  int tag = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 300 && std::chrono::steady_clock::now() < deadline; ++i) {
    const uint64_t s = 1 + rng() % 3;
    const int64_t at = append(s, make_batch(++tag, 1 + static_cast<int>(rng() % 3)));
    ASSERT_GE(at, 0);
    tags[s][at] = tag;
    if (kind_ == WalKind::file && rng() % 3 == 0) {
      ASSERT_TRUE(run(store_->flush()));
    }
    if (rng() % 25 == 0) {  // trim a little
      const uint64_t t = 1 + rng() % 3;
      const StreamEnds e = store_->ends(t);
      auto to = tags[t].upper_bound(e.start);  // the next batch boundary
      if (to != tags[t].end() && to->first < e.committed) {
        ASSERT_TRUE(run(store_->trim(t, to->first)));
      }
    }
    // A random committed offset reads back its own batch.
    const uint64_t r = 1 + rng() % 3;
    const StreamEnds e = store_->ends(r);
    if (e.durable <= e.start) continue;
    const int64_t offset = e.start + static_cast<int64_t>(rng() % static_cast<uint64_t>(e.durable - e.start));
    auto got = run(store_->read(r, offset, 1));
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_FALSE(got->batches.empty()) << "empty read of committed data at " << offset;
    auto batches = testing::batches_of(got->batches);
    auto expect = std::prev(tags[r].upper_bound(offset));
    ASSERT_EQ(batches.front().first, expect->first);
    record::BatchSplitter split{ByteSpan(got->batches)};
    record::BatchView b;
    ASSERT_TRUE(split.next(b));
    auto set = record::RecordSet::open(b);
    ASSERT_TRUE(set);
    auto reader = set->reader();
    record::RecordView rec;
    ASSERT_TRUE(reader.next(rec));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(rec.value->data()), rec.value->size()),
              "b" + std::to_string(expect->second) + "-0");
  }
  ASSERT_TRUE(run(store_->flush()));
  const auto stats = store_->compaction_stats();
  std::printf(
      "[figures] %s WAL: %llu swaps, %llu objects merged, %llu written, %llu conflicts, %llu refreshes, "
      "%zu objects/ keys now\n",
      testing::wal_name(kind_), static_cast<unsigned long long>(stats.swaps),
      static_cast<unsigned long long>(stats.objects_merged), static_cast<unsigned long long>(stats.objects_written),
      static_cast<unsigned long long>(stats.conflicts), static_cast<unsigned long long>(stats.stale_block_refreshes),
      meta_keys("objects/").size());
  EXPECT_GT(stats.swaps, 0u);
  for (uint64_t s = 1; s <= 3; ++s) {
    auto all = read_all(s);
    for (const auto& [offset, values] : all) EXPECT_EQ(values.front(), "b" + std::to_string(tags[s][offset]) + "-0");
  }
}

// Objects that each hold many streams (metadata values of ~72 KB): every round's swap must stay within etcd's
// limits (the embedded store enforces 128 ops and 1.5 MiB per txn, as etcd), so rounds take fewer inputs.
TEST_P(StreamCompaction, WideObjectsAreCompactedInRoundsThatFitEtcdLimits) {
  if (kind_ == WalKind::object) GTEST_SKIP() << "synthetic committed objects: the WAL kind plays no part";
  open_meta();
  constexpr int kObjects = 40;
  constexpr uint64_t kStreams = 1500;
  const Bytes one = make_batch(0, 1);
  for (int o = 0; o < kObjects; ++o) {
    SegmentWriter writer;
    for (uint64_t s = 1; s <= kStreams; ++s) {
      Bytes batch = one;
      ASSERT_EQ(record::set_base_offset(record::MutableByteSpan(batch.data(), batch.size()), o),
                record::RecordError::ok);
      ASSERT_TRUE(writer.add(s, o, o, 1000, ByteSpan(batch)));
    }
    ObjectRanges ranges;
    ranges.key = "data/wide-" + std::to_string(o);
    ranges.blocks = writer.blocks();
    std::string object = writer.finish_string();
    ranges.object_size = object.size();
    ASSERT_TRUE(run(file_store_->put(ranges.key, std::move(object), objstore::Clock::now() + std::chrono::seconds(5))));
    auto commit = [&]() -> asio::awaitable<bool> {
      meta::PutRequest put;
      put.key = "/floe/objects/" + ranges.key;
      put.value = encode_object_ranges(ranges);
      co_return static_cast<bool>(co_await meta_->put(put));
    };
    ASSERT_TRUE(run(commit()));
  }
  CompactionOptions o;
  o.grace = std::chrono::milliseconds(0);
  Compactor compactor(o, *faults_, *meta_);
  size_t rounds = 0, merged = 0;
  for (; rounds < 20; ++rounds) {
    auto r = run(compactor.run_round());
    ASSERT_TRUE(r) << r.error().message;
    if (!*r) break;
    EXPECT_LT((*r)->removed.size(), static_cast<size_t>(kObjects)) << "one round cannot take every wide object";
    merged += (*r)->removed.size();
  }
  std::printf("[figures] %d objects x %llu streams: %zu rounds, %zu objects merged, %zu objects/ keys now\n", kObjects,
              static_cast<unsigned long long>(kStreams), rounds, merged, meta_keys("objects/").size());
  EXPECT_GT(rounds, 1u);
  EXPECT_LT(meta_keys("objects/").size(), 4u);
  ASSERT_TRUE(run(compactor.sweep_gc(INT64_MAX / 2)));
  open_store(config());
  for (uint64_t s : {uint64_t{1}, uint64_t{777}, kStreams}) {
    auto all = read_all(s);
    ASSERT_EQ(all.size(), static_cast<size_t>(kObjects)) << "stream " << s;
    EXPECT_EQ(all.rbegin()->first, kObjects - 1);
  }
  expect_no_orphans_and_nothing_missing();
}

#ifdef FLOE_STREAM_CRASH_CHILD
// kill -9 of a child that appends and compacts in the background (every 5 ms, grace 0), 40 times: every acked
// batch stays readable (kill_nine_rounds checks), and afterwards one pass leaves no orphan and no missing object.
TEST_P(StreamCompaction, KillNineMidCompactionLosesNothingAndLeavesNoOrphans) {
  kill_nine_rounds(40, /*compact=*/true);
  const size_t keys_before = meta_keys("objects/").size();
  StreamStoreConfig c = testing::crash_config(root_.string(), kind_, 1000);
  testing::crash_compaction(c);
  c.compaction_interval = std::chrono::milliseconds(0);
  open_store(c);
  const size_t compacted = count_objects("data/compacted/");
  EXPECT_GT(compacted + meta_keys("gc/").size(), 0u) << "the children never compacted";
  auto first = run(store_->compact_once());  // sweeps the killed passes' gc records (due: grace 0)
  ASSERT_TRUE(first) << first.error().message;
  auto second = run(store_->compact_once());
  ASSERT_TRUE(second) << second.error().message;
  std::printf("[figures] %s WAL after 40 kills: %zu objects/ keys -> %zu, %llu objects swept\n",
              testing::wal_name(kind_), keys_before, meta_keys("objects/").size(),
              static_cast<unsigned long long>(store_->compaction_stats().gc_objects_deleted));
  EXPECT_TRUE(meta_keys("gc/").empty());
  expect_no_orphans_and_nothing_missing();
  for (uint64_t s = 1; s <= 3; ++s) {
    const StreamEnds e = store_->ends(s);
    EXPECT_EQ(e.durable, e.committed);
  }
}
#endif

INSTANTIATE_TEST_SUITE_P(Wal, StreamCompaction, ::testing::Values(WalKind::file, WalKind::object),
                         [](const auto& info) { return std::string(testing::wal_name(info.param)); });

}  // namespace
}  // namespace floe::stream
