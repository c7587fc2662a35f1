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
#include <filesystem>
#include <map>
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

namespace floe::stream {
namespace {

namespace fs = std::filesystem;

// One batch of `count` records whose values name the batch: "b<tag>-<i>".
Bytes make_batch(int tag, int count) {
  record::BatchBuilder b;
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) values.push_back("b" + std::to_string(tag) + "-" + std::to_string(i));
  for (const auto& v : values) {
    record::NewRecord r;
    r.value = ByteSpan(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    r.timestamp = 1000 + tag;
    EXPECT_EQ(b.add(r), record::RecordError::ok);
  }
  auto out = b.build();
  EXPECT_TRUE(out.ok());
  return std::move(out).value();
}

// (base offset, record count) of every batch in a blob, checking each CRC.
std::vector<std::pair<int64_t, int>> batches_of(const Bytes& blob) {
  std::vector<std::pair<int64_t, int>> out;
  record::BatchSplitter split{ByteSpan(blob)};
  for (record::BatchView b; split.next(b);) {
    EXPECT_EQ(b.verify_crc(), record::RecordError::ok);
    out.emplace_back(b.header().base_offset, b.header().last_offset_delta + 1);
  }
  EXPECT_EQ(split.error(), record::RecordError::ok);
  return out;
}

class StreamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("floe-stream-" + std::to_string(getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto objects = objstore::FileStore::open((root_ / "bucket").string());
    ASSERT_TRUE(objects.ok());
    objects_ = std::move(objects.value);
  }
  void TearDown() override {
    close_store();
    fs::remove_all(root_);
  }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    // Bounded: an operation that never completes fails the test instead of hanging it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete in 60 s");
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return fut.get();
  }

  StreamStoreConfig config() {
    StreamStoreConfig c;
    c.wal_dir = (root_ / "wal").string();
    c.upload_interval = std::chrono::hours(1);  // uploads only when the test flushes
    c.log_cache_bytes = 0;                      // committed data is read back from objects
    return c;
  }

  void open_store(StreamStoreConfig c) {
    meta::EmbeddedConfig mc;
    mc.dir = (root_ / "meta").string();
    auto m = meta::EmbeddedStore::open(io_.get_executor(), mc);
    ASSERT_TRUE(m) << m.error().message();
    meta_ = std::move(*m);
    auto s = run(StreamStore::open(io_.get_executor(), c, *objects_, *meta_));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  void close_store() {
    if (store_) run(store_->close());
    store_.reset();
    if (meta_) meta_->shutdown();
    meta_.reset();
  }

  int64_t append(uint64_t stream, Bytes batch) {
    auto r = run(store_->append(stream, std::move(batch), 3));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : -1;
  }

  fs::path root_;
  asio::io_context io_;
  std::unique_ptr<objstore::ObjectStore> objects_;
  std::unique_ptr<meta::MetaStore> meta_;
  std::unique_ptr<StreamStore> store_;
};

TEST_F(StreamStoreTest, AppendsGetDenseOffsetsPerStream) {
  open_store(config());
  EXPECT_EQ(append(1, make_batch(0, 3)), 0);
  EXPECT_EQ(append(2, make_batch(1, 5)), 0);
  EXPECT_EQ(append(1, make_batch(2, 2)), 3);
  EXPECT_EQ(store_->ends(1).durable, 5);
  EXPECT_EQ(store_->ends(2).durable, 5);
  EXPECT_EQ(store_->ends(1).committed, 0);
  auto r = run(store_->read(1, 0, 1 << 20));
  ASSERT_TRUE(r);
  EXPECT_EQ(batches_of(r->batches), (std::vector<std::pair<int64_t, int>>{{0, 3}, {3, 2}}));
  EXPECT_EQ(r->high_watermark, 5);
  auto tail = run(store_->read(1, 4, 1 << 20));  // the batch holding offset 4 starts at 3
  ASSERT_TRUE(tail);
  EXPECT_EQ(batches_of(tail->batches), (std::vector<std::pair<int64_t, int>>{{3, 2}}));
  auto at_end = run(store_->read(1, 5, 1 << 20));
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->batches.empty());
  EXPECT_FALSE(run(store_->read(1, 6, 1 << 20))) << "past the high watermark";
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
  auto objects = run(objects_->list("data/", "", 100, objstore::Clock::now() + std::chrono::seconds(5)));
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
  auto objects = run(objects_->list("data/", "", 100, objstore::Clock::now() + std::chrono::seconds(5)));
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

TEST_F(StreamStoreTest, TrimMovesTheStartForwardDurably) {
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

TEST_F(StreamStoreTest, LeaderEpochHistoryAnswersOffsetForLeaderEpoch) {
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
  close_store();
  open_store(fast_stop);  // the history of WAL-replayed data comes back from the batches' stamped epochs
  EXPECT_EQ(store_->epoch_end_offset(1, 3), (std::pair<int32_t, int64_t>{3, 6}));
  EXPECT_EQ(store_->epoch_end_offset(1, 5), (std::pair<int32_t, int64_t>{5, 9}));
}

TEST_F(StreamStoreTest, RetentionTrimsWholeCommittedBlocksAndGarbageIsCollected) {
  open_store(config());
  for (int round = 0; round < 3; ++round) {  // three objects of one block each
    append(1, make_batch(round, 5));
    ASSERT_TRUE(run(store_->flush()));
  }
  append(1, make_batch(9, 5));  // uncommitted: never trimmed by retention
  auto keys = [&] {
    auto page = run(objects_->list("data/", "", 100, objstore::Clock::now() + std::chrono::seconds(5)));
    EXPECT_TRUE(page.ok());
    return page.value.objects.size();
  };
  ASSERT_EQ(keys(), 3u);
  // retention.ms: everything committed is "old" at a far future time, but the uncommitted tail stays.
  auto start = run(store_->apply_retention(1, 1000, -1, INT64_C(1) << 50));
  ASSERT_TRUE(start) << start.error().message;
  EXPECT_EQ(*start, 15);
  EXPECT_EQ(store_->ends(1).start, 15);
  EXPECT_EQ(store_->ends(1).durable, 20);
  // First pass marks the unreferenced objects, a pass after the grace deletes them (metadata, then objects).
  ASSERT_EQ(run(store_->collect_garbage(std::chrono::milliseconds(0))).value(), 0u);
  ASSERT_EQ(run(store_->collect_garbage(std::chrono::milliseconds(0))).value(), 3u);
  EXPECT_EQ(keys(), 0u);
  auto tail = run(store_->read(1, 15, 1 << 20));
  ASSERT_TRUE(tail);
  EXPECT_EQ(batches_of(tail->batches), (std::vector<std::pair<int64_t, int>>{{15, 5}}));
  close_store();
  open_store(config());  // the deleted objects' metadata is gone too: the store opens without them
  EXPECT_EQ(store_->ends(1).start, 15);
  EXPECT_EQ(store_->ends(1).durable, 20);
}

TEST_F(StreamStoreTest, RetentionBytesKeepsTheNewestBlocks) {
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

TEST_F(StreamStoreTest, BadAppendsAreRefused) {
  open_store(config());
  EXPECT_FALSE(run(store_->append(1, Bytes{}, 0)));
  Bytes junk(100, 0x11);
  EXPECT_FALSE(run(store_->append(1, junk, 0)));
  EXPECT_EQ(store_->ends(1).durable, 0);
}

// kill -9 of a child that appends to three streams with eight appends in flight and uploads every 10 ms: after each
// of 100 crashes, every acknowledged batch is readable at its offset with its content, and offsets stay dense.
TEST_F(StreamStoreTest, KillNineNeverLosesAnAcknowledgedAppend) {
  std::mt19937_64 rng(777);
  std::map<uint64_t, int64_t> verified_end;  // per stream: offsets below are checked dense
  size_t acks = 0;
  bool committed_any = false;
  for (int round = 0; round < 100; ++round) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      std::string r = std::to_string(round);
      ::execl(FLOE_STREAM_CRASH_CHILD, FLOE_STREAM_CRASH_CHILD, root_.c_str(), r.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // Kill at a random moment after the child started appending (its first ack), whatever the machine's load.
    std::string text;
    char buf[8192];
    const auto started_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < started_by) {
      pollfd pfd{out[0], POLLIN, 0};
      if (::poll(&pfd, 1, 100) > 0) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself, status " << status;
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    ::close(out[0]);

    StreamStoreConfig c = testing::crash_config(root_.string());
    c.upload_on_close = false;  // leave the store exactly as the crash did
    open_store(c);
    ASSERT_TRUE(store_) << "round " << round;
    // Everything written since the last round, once: offsets must be dense; keep each batch's values.
    std::map<std::pair<uint64_t, int64_t>, std::vector<std::string>> batches;
    for (uint64_t stream = 1; stream <= 3; ++stream) {
      int64_t next = verified_end[stream];
      const int64_t end = store_->ends(stream).durable;
      while (next < end) {
        auto r = run(store_->read(stream, next, 1 << 20));
        ASSERT_TRUE(r) << r.error().message;
        record::BatchSplitter split{ByteSpan(r->batches)};
        size_t n = 0;
        for (record::BatchView b; split.next(b); ++n) {
          if (b.header().base_offset + b.header().last_offset_delta < next) continue;
          ASSERT_EQ(b.header().base_offset, next) << "round " << round << ": stream " << stream << " has a gap";
          auto set = record::RecordSet::open(b);
          ASSERT_TRUE(set);
          auto& values = batches[{stream, next}];
          auto reader = set->reader();
          for (record::RecordView rec; reader.next(rec);) {
            values.emplace_back(reinterpret_cast<const char*>(rec.value->data()), rec.value->size());
          }
          ASSERT_EQ(values.size(), static_cast<size_t>(b.header().last_offset_delta + 1));
          next += b.header().last_offset_delta + 1;
        }
        ASSERT_GT(n, 0u);
      }
      verified_end[stream] = end;
    }
    // Every acknowledged batch is there, at its offset, with its content.
    size_t pos = 0;
    for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      unsigned long long stream = 0;
      long long offset = 0, tag = 0;
      int count = 0;
      if (std::sscanf(text.c_str() + pos, "ack %llu %lld %lld %d", &stream, &offset, &tag, &count) != 4) continue;
      ++acks;
      auto it = batches.find({stream, offset});
      ASSERT_NE(it, batches.end()) << "round " << round << ": acked batch " << stream << "@" << offset << " lost";
      ASSERT_EQ(it->second.size(), static_cast<size_t>(count)) << "round " << round;
      for (int i = 0; i < count; ++i) {
        ASSERT_EQ(it->second[static_cast<size_t>(i)], testing::crash_value(stream, tag, i))
            << "round " << round << ": acked batch " << stream << "@" << offset << " has other content";
      }
    }
    committed_any = committed_any || store_->ends(1).committed > 0;
    close_store();
  }
  EXPECT_GT(acks, 1000u) << "the children acknowledged too little for the test to mean anything";
  EXPECT_TRUE(committed_any) << "nothing was ever committed to objects";
}

}  // namespace
}  // namespace floe::stream
