// StreamStore on real parts: the file:// object store and the embedded metadata store, in a temporary directory.
#include "stream/stream_store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "meta/embedded_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "stream/errc.h"
#include "stream_crash_util.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {


using testing::batches_of;
using testing::make_batch;
using testing::WalKind;

// The file WAL's own tests.
class StreamStoreTest : public testing::StreamStoreFixture {};

// Behaviour both WAL kinds share.
class StreamStoreBothWals : public testing::StreamStoreFixture, public ::testing::WithParamInterface<WalKind> {
 protected:
  StreamStoreBothWals() : StreamStoreFixture(GetParam()) {}
};

TEST_P(StreamStoreBothWals, AppendsGetDenseOffsetsPerStream) {
  open_store(config());
  EXPECT_EQ(append(1, make_batch(0, 3)), 0);
  EXPECT_EQ(append(2, make_batch(1, 5)), 0);
  EXPECT_EQ(append(1, make_batch(2, 2)), 3);
  EXPECT_EQ(store_->ends(1).durable, 5);
  EXPECT_EQ(store_->ends(2).durable, 5);
  if (kind_ == WalKind::file) {
    EXPECT_EQ(store_->ends(1).committed, 0) << "committed only by an upload";
  }
  auto r = run(store_->read(1, 0, 1 << 20));
  ASSERT_TRUE(r);
  // From the cache, both batches; from a committed object (object WAL, no cache), the block holding offset 0.
  const auto first_read = batches_of(r->batches);
  ASSERT_FALSE(first_read.empty());
  EXPECT_EQ(first_read.front(), (std::pair<int64_t, int>{0, 3}));
  if (kind_ == WalKind::file) {
    EXPECT_EQ(first_read, (std::vector<std::pair<int64_t, int>>{{0, 3}, {3, 2}}));
  }
  EXPECT_EQ(r->high_watermark, 5);
  auto tail = run(store_->read(1, 4, 1 << 20));  // the batch holding offset 4 starts at 3
  EXPECT_EQ(store_->cache_stats().cache_reads + store_->cache_stats().object_reads, 2u);  // each read counted once
  ASSERT_TRUE(tail);
  EXPECT_EQ(batches_of(tail->batches), (std::vector<std::pair<int64_t, int>>{{3, 2}}));
  auto at_end = run(store_->read(1, 5, 1 << 20));
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->batches.empty());
  EXPECT_FALSE(run(store_->read(1, 6, 1 << 20))) << "past the high watermark";
}

// The durable listener (Kafka's parked fetches are woken from it): called with each new durable end, on the WAL's
// thread, before the append's own completion reaches its caller; not called after it is reset.
TEST_P(StreamStoreBothWals, TheDurableListenerHearsEachNewEndBeforeTheAppendCompletes) {
  open_store(config());
  struct Heard {
    uint64_t stream;
    int64_t end;
    bool append_completed;
    bool on_test_thread;
  };
  std::mutex mu;
  std::vector<Heard> heard;
  std::atomic<int> completed{0};
  const auto test_thread = std::this_thread::get_id();
  store_->set_durable_listener([&](uint64_t stream, int64_t end) {
    std::lock_guard lock(mu);
    heard.push_back({stream, end, completed.load() > static_cast<int>(heard.size()),
                     std::this_thread::get_id() == test_thread});
  });
  EXPECT_EQ(append(1, make_batch(0, 3)), 0);
  ++completed;
  EXPECT_EQ(append(2, make_batch(1, 5)), 0);
  ++completed;
  EXPECT_EQ(append(1, make_batch(2, 2)), 3);
  ++completed;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(heard.size(), 3u);
    const std::pair<uint64_t, int64_t> want[] = {{1, 3}, {2, 5}, {1, 5}};
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(heard[i].stream, want[i].first) << i;
      EXPECT_EQ(heard[i].end, want[i].second) << i;
      EXPECT_FALSE(heard[i].append_completed) << i << ": heard only after the append had completed";
      // The file WAL calls it on the flusher that synced the entry, not after a hop to the io thread.
      if (kind_ == WalKind::file) {
        EXPECT_FALSE(heard[i].on_test_thread) << i;
      }
    }
  }
  store_->set_durable_listener({});
  EXPECT_EQ(append(1, make_batch(3, 1)), 5);
  std::lock_guard lock(mu);
  EXPECT_EQ(heard.size(), 3u) << "called after it was reset";
}

TEST_F(StreamStoreTest, FlushCommitsAnObjectAndReadsComeBackFromIt) {
  open_store(config());
  append(7, make_batch(0, 4));
  append(8, make_batch(1, 1));
  append(7, make_batch(2, 6));
  ASSERT_TRUE(run(store_->flush()));
  EXPECT_EQ(store_->uploads(), 1u);
  EXPECT_EQ(store_->ends(7).committed, 10);
  EXPECT_EQ(store_->ends(8).committed, 1);
  // The log cache keeps no committed data here, so these reads are ranged GETs of the object.
  auto r = run(store_->read(7, 5, 1 << 20));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(batches_of(r->batches), (std::vector<std::pair<int64_t, int>>{{4, 6}}));
  const StreamStore::CacheStats stats = store_->cache_stats();
  EXPECT_EQ(stats.object_reads, 1u);
  EXPECT_GT(stats.object_read_bytes, 0u);
  EXPECT_EQ(stats.cache_reads, 0u);
  EXPECT_EQ(stats.uncommitted_bytes, 0u);
  auto objects = run(file_store_->list("data/", "", 100, objstore::Clock::now() + std::chrono::seconds(5)));
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(objects.value.objects.size(), 1u);
}

TEST_F(StreamStoreTest, OverlappingFlushesUploadEachEntryOnce) {
  open_store(config());
  append(3, make_batch(0, 4));
  append(3, make_batch(1, 4));
  auto first = asio::co_spawn(io_, store_->flush(), asio::use_future);
  auto second = asio::co_spawn(io_, store_->flush(), asio::use_future);
  io_.restart();
  for (int i = 0; i < 1000 && (first.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
                               second.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
       ++i) {
    io_.run_one_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(first.get());
  ASSERT_TRUE(second.get());
  EXPECT_EQ(store_->uploads(), 1u) << "the second flush found the entries taken by the first";
  EXPECT_EQ(store_->ends(3).committed, 8);
  auto objects = run(file_store_->list("data/", "", 100, objstore::Clock::now() + std::chrono::seconds(5)));
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(objects.value.objects.size(), 1u);
}

TEST_F(StreamStoreTest, ReopenReplaysTheWalBeyondTheCommittedEnd) {
  StreamStoreConfig fast_stop = config();
  fast_stop.upload_on_close = false;
  open_store(fast_stop);
  append(1, make_batch(0, 2));
  ASSERT_TRUE(run(store_->flush()));  // offsets 0-1 committed
  append(1, make_batch(1, 3));        // 2-4 only in the WAL
  close_store();

  open_store(config());
  StreamEnds e = store_->ends(1);
  EXPECT_EQ(e.committed, 2);
  EXPECT_EQ(e.durable, 5);
  auto r = run(store_->read(1, 0, 1 << 20));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(batches_of(r->batches), (std::vector<std::pair<int64_t, int>>{{0, 2}}));
  auto tail = run(store_->read(1, 2, 1 << 20));
  ASSERT_TRUE(tail);
  EXPECT_EQ(batches_of(tail->batches), (std::vector<std::pair<int64_t, int>>{{2, 3}}));
  EXPECT_EQ(append(1, make_batch(2, 1)), 5) << "offsets continue after the replayed tail";
  close_store();  // a clean close uploads the rest

  open_store(config());
  EXPECT_EQ(store_->ends(1).committed, 6);
  EXPECT_EQ(store_->ends(1).durable, 6);
  auto all = run(store_->read(1, 5, 1 << 20));
  ASSERT_TRUE(all);
  EXPECT_EQ(batches_of(all->batches), (std::vector<std::pair<int64_t, int>>{{5, 1}}));
}

TEST_P(StreamStoreBothWals, TrimMovesTheStartForwardDurably) {
  open_store(config());
  append(4, make_batch(0, 10));
  ASSERT_TRUE(run(store_->trim(4, 6)));
  ASSERT_TRUE(run(store_->trim(4, 2)));  // never backwards
  EXPECT_EQ(store_->ends(4).start, 6);
  EXPECT_FALSE(run(store_->read(4, 5, 1 << 20)));
  EXPECT_FALSE(run(store_->trim(4, 11))) << "past the high watermark";
  close_store();
  open_store(config());
  EXPECT_EQ(store_->ends(4).start, 6);
  EXPECT_EQ(store_->ends(4).durable, 10);
}

TEST_P(StreamStoreBothWals, LeaderEpochHistoryAnswersOffsetForLeaderEpoch) {
  StreamStoreConfig fast_stop = config();
  fast_stop.upload_on_close = false;
  open_store(fast_stop);
  EXPECT_EQ(store_->epoch_end_offset(1, 3), (std::pair<int32_t, int64_t>{-1, -1})) << "nothing known yet";
  ASSERT_EQ(run(store_->append(1, make_batch(0, 4), 3)).value(), 0);
  ASSERT_EQ(run(store_->append(1, make_batch(1, 2), 3)).value(), 4);
  ASSERT_EQ(run(store_->append(1, make_batch(2, 3), 5)).value(), 6);
  EXPECT_EQ(store_->epoch_end_offset(1, 2), (std::pair<int32_t, int64_t>{2, 0})) << "below the oldest epoch";
  EXPECT_EQ(store_->epoch_end_offset(1, 3), (std::pair<int32_t, int64_t>{3, 6}));
  EXPECT_EQ(store_->epoch_end_offset(1, 4), (std::pair<int32_t, int64_t>{3, 6})) << "epoch 4 never wrote: 3 ends at 6";
  EXPECT_EQ(store_->epoch_end_offset(1, 5), (std::pair<int32_t, int64_t>{5, 9})) << "the latest ends at the HWM";
  EXPECT_EQ(store_->epoch_end_offset(1, 9), (std::pair<int32_t, int64_t>{-1, -1})) << "above every known epoch";
  if (kind_ == WalKind::object) return;  // no replay: after a reopen the history comes from observe_epoch()
  close_store();
  open_store(fast_stop);  // the history of WAL-replayed data comes back from the batches' stamped epochs
  EXPECT_EQ(store_->epoch_end_offset(1, 3), (std::pair<int32_t, int64_t>{3, 6}));
  EXPECT_EQ(store_->epoch_end_offset(1, 5), (std::pair<int32_t, int64_t>{5, 9}));
}

TEST_P(StreamStoreBothWals, RetentionTrimsWholeCommittedBlocksAndGarbageIsCollected) {
  open_store(config());
  for (int round = 0; round < 3; ++round) {  // three objects of one block each
    append(1, make_batch(round, 5));
    ASSERT_TRUE(run(store_->flush()));
  }
  // File WAL: uncommitted, so never trimmed by retention. Object WAL: committed at once, so it is appended after.
  if (kind_ == WalKind::file) append(1, make_batch(9, 5));
  auto keys = [&] { return count_objects(data_prefix()); };
  ASSERT_EQ(keys(), 3u);
  // retention.ms: everything committed is "old" at a far future time, but the uncommitted tail stays.
  auto start = run(store_->apply_retention(1, 1000, -1, INT64_C(1) << 50));
  ASSERT_TRUE(start) << start.error().message;
  EXPECT_EQ(*start, 15);
  EXPECT_EQ(store_->ends(1).start, 15);
  if (kind_ == WalKind::object) {
    EXPECT_EQ(append(1, make_batch(9, 5)), 15);
  }
  EXPECT_EQ(store_->ends(1).durable, 20);
  // The unreferenced objects leave metadata (a guarded txn and a gc record) and, once the record is due (grace 0:
  // in the same pass), the bucket.
  ASSERT_EQ(run(store_->collect_garbage(std::chrono::milliseconds(0))).value(), 3u);
  ASSERT_EQ(run(store_->collect_garbage(std::chrono::milliseconds(0))).value(), 0u);
  EXPECT_EQ(keys(), kind_ == WalKind::file ? 0u : 1u) << "object WAL: the newest object is still referenced";
  auto tail = run(store_->read(1, 15, 1 << 20));
  ASSERT_TRUE(tail);
  EXPECT_EQ(batches_of(tail->batches), (std::vector<std::pair<int64_t, int>>{{15, 5}}));
  close_store();
  open_store(config());  // the deleted objects' metadata is gone too: the store opens without them
  EXPECT_EQ(store_->ends(1).start, 15);
  EXPECT_EQ(store_->ends(1).durable, 20);
}

TEST_P(StreamStoreBothWals, RetentionBytesKeepsTheNewestBlocks) {
  open_store(config());
  for (int round = 0; round < 4; ++round) {
    append(2, make_batch(round, 5));
    ASSERT_TRUE(run(store_->flush()));
  }
  const int64_t one_block = static_cast<int64_t>(make_batch(0, 5).size());
  auto start = run(store_->apply_retention(2, -1, 2 * one_block + 10, 0));
  ASSERT_TRUE(start);
  EXPECT_EQ(*start, 10) << "two newest blocks fit the budget";
}

TEST_P(StreamStoreBothWals, BadAppendsAreRefused) {
  open_store(config());
  EXPECT_FALSE(run(store_->append(1, Bytes{}, 0)));
  Bytes junk(100, 0x11);
  EXPECT_FALSE(run(store_->append(1, junk, 0)));
  EXPECT_EQ(store_->ends(1).durable, 0);
}

TEST_P(StreamStoreBothWals, FindTimestampInTheCacheAndInObjects) {
  open_store(config());
  append(1, make_batch(4, 2));  // timestamps 1004
  append(1, make_batch(2, 3));  // 1002: out of order
  append(1, make_batch(7, 1));  // 1007
  auto check = [&] {
    auto hit = run(store_->find_timestamp(1, 1003));
    ASSERT_TRUE(hit && *hit);
    EXPECT_EQ((*hit)->offset, 0);
    hit = run(store_->find_timestamp(1, 1005));
    ASSERT_TRUE(hit && *hit);
    EXPECT_EQ((*hit)->offset, 5);
    EXPECT_EQ((*hit)->timestamp, 1007);
    hit = run(store_->find_timestamp(1, StreamStore::kMaxTimestamp));
    ASSERT_TRUE(hit && *hit);
    EXPECT_EQ((*hit)->offset, 5);
    hit = run(store_->find_timestamp(1, 2000));
    ASSERT_TRUE(hit);
    EXPECT_FALSE(*hit);
  };
  check();
  ASSERT_TRUE(run(store_->flush()));
  close_store();
  open_store(config());  // log_cache_bytes 0: from objects now
  check();
}

TEST_P(StreamStoreBothWals, CloseAndReopenKeepsEveryAppendAndOffsetsContinue) {
  open_store(config());
  for (int i = 0; i < 10; ++i) append(1 + static_cast<uint64_t>(i % 2), make_batch(i, 1 + i % 3));
  const StreamEnds one = store_->ends(1);
  const StreamEnds two = store_->ends(2);
  close_store();
  for (int reopen = 0; reopen < 2; ++reopen) {
    open_store(config());
    EXPECT_EQ(store_->ends(1).durable, one.durable);
    EXPECT_EQ(store_->ends(2).durable, two.durable);
    EXPECT_EQ(store_->ends(1).committed, one.durable) << "a clean close commits everything";
    auto r = run(store_->read(2, 0, 1 << 20));
    ASSERT_TRUE(r) << r.error().message;
    auto got = batches_of(r->batches);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front().first, 0);
    close_store();
  }
  open_store(config());
  EXPECT_EQ(append(1, make_batch(50, 2)), one.durable);
  EXPECT_EQ(append(2, make_batch(51, 2)), two.durable);
}

INSTANTIATE_TEST_SUITE_P(Wal, StreamStoreBothWals, ::testing::Values(WalKind::file, WalKind::object),
                         [](const auto& info) { return std::string(testing::wal_name(info.param)); });

// kill -9 of a child that appends to three streams with eight appends in flight and uploads every 10 ms: after each
// of 100 crashes, every acknowledged batch is readable at its offset with its content, and offsets stay dense.
TEST_F(StreamStoreTest, KillNineNeverLosesAnAcknowledgedAppend) { kill_nine_rounds(100); }

}  // namespace
}  // namespace floe::stream
