// StreamStore on real parts: the file:// object store and the embedded metadata store, in a temporary directory.
#include "stream/stream_store.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <filesystem>

#include "meta/embedded_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "stream/errc.h"

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
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      io_.run_one_for(std::chrono::milliseconds(50));
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

TEST_F(StreamStoreTest, BadAppendsAreRefused) {
  open_store(config());
  EXPECT_FALSE(run(store_->append(1, Bytes{}, 0)));
  Bytes junk(100, 0x11);
  EXPECT_FALSE(run(store_->append(1, junk, 0)));
  EXPECT_EQ(store_->ends(1).durable, 0);
}

}  // namespace
}  // namespace floe::stream
