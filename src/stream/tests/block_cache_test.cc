// The block cache (block_cache.h), read-ahead cursors (block_reader.h) and StreamStore reads of committed blocks
// through them: hits and misses, the byte bound, window growth and reset, identical reads with and without the
// cache, bounded read-ahead, concurrent readers on several threads, and objects that go missing (404).
#include "stream/block_cache.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>
#include <future>

#include "stream/block_buffers.h"
#include "stream/block_reader.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {

using testing::make_batch;

std::shared_ptr<const std::string> bytes_of(size_t n, char c) { return std::make_shared<const std::string>(n, c); }

BlockInfo block_at(uint64_t position, uint32_t size, uint32_t crc = 7) {
  BlockInfo b;
  b.position = position;
  b.size = size;
  b.crc = crc;
  return b;
}

TEST(BlockCache, CountsHitsAndMissesAndEvictsTheLeastRecentlyUsedWithinTheBound) {
  BlockCache cache(10 * 1024);
  EXPECT_EQ(cache.find("a", block_at(0, 4096)), nullptr);
  cache.insert("a", block_at(0, 4096), bytes_of(4096, 'x'));
  cache.insert("a", block_at(4096, 4096), bytes_of(4096, 'y'));
  auto hit = cache.find("a", block_at(0, 4096));  // block 0 is now the most recently used
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ((*hit)[0], 'x');
  cache.insert("b", block_at(0, 4096), bytes_of(4096, 'z'));  // 12 KiB > 10 KiB: the LRU block (a@4096) goes
  BlockCache::Stats s = cache.stats();
  EXPECT_EQ(s.bytes, 8192u);
  EXPECT_EQ(s.blocks, 2u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_TRUE(cache.contains("a", block_at(0, 4096)));
  EXPECT_FALSE(cache.contains("a", block_at(4096, 4096)));
  EXPECT_TRUE(cache.contains("b", block_at(0, 4096)));
  for (uint64_t i = 0; i < 100; ++i) {
    cache.insert("c", block_at(i * 1000, 1000), bytes_of(1000, 'c'));
    ASSERT_LE(cache.stats().bytes, cache.capacity());
  }
}

TEST(BlockCache, AnEntryMustMatchTheBlockMapsSizeAndCrc) {
  BlockCache cache(1 << 20);
  cache.insert("a", block_at(0, 100, 1), bytes_of(100, 'x'));
  EXPECT_EQ(cache.find("a", block_at(0, 100, 2)), nullptr) << "another CRC: not the same block";
  EXPECT_EQ(cache.find("a", block_at(0, 50, 1)), nullptr) << "another size";
  EXPECT_NE(cache.find("a", block_at(0, 100, 1)), nullptr);
  cache.insert("a", block_at(200, 100), bytes_of(99, 'x'));  // the bytes do not match the block: not cached
  EXPECT_FALSE(cache.contains("a", block_at(200, 100)));
}

TEST(BlockCache, OversizedBlocksAndAZeroBoundCacheNothing) {
  BlockCache small(1000);
  small.insert("a", block_at(0, 1001), bytes_of(1001, 'x'));
  EXPECT_EQ(small.stats().bytes, 0u);
  BlockCache none(0);
  none.insert("a", block_at(0, 1), bytes_of(1, 'x'));
  EXPECT_EQ(none.stats().blocks, 0u);
}

TEST(BlockCache, EraseObjectDropsOnlyThatObjectsBlocks) {
  BlockCache cache(1 << 20);
  cache.insert("a", block_at(0, 10), bytes_of(10, 'a'));
  cache.insert("a", block_at(10, 10), bytes_of(10, 'a'));
  cache.insert("ab", block_at(0, 10), bytes_of(10, 'b'));
  cache.erase_object("a");
  EXPECT_FALSE(cache.contains("a", block_at(0, 10)));
  EXPECT_FALSE(cache.contains("a", block_at(10, 10)));
  EXPECT_TRUE(cache.contains("ab", block_at(0, 10)));
  EXPECT_EQ(cache.stats().bytes, 10u);
}

// Read-ahead windows need no I/O: plan() and served() only move cursors.
class ReadAheadCursors : public ::testing::Test {
 protected:
  asio::io_context io_;
  std::shared_ptr<objstore::ObjectStore> store_ = [] {
    auto s = objstore::FileStore::open(::testing::TempDir() + "/floe-readahead-unused");
    return std::shared_ptr<objstore::ObjectStore>(std::move(s.value));
  }();
};

TEST_F(ReadAheadCursors, TheWindowDoublesForSequentialReadsUpToItsCeilingAndResetsOnAJump) {
  BlockReaderConfig c;
  c.cache_bytes = 64u << 20;
  c.read_ahead_max_bytes = 8u << 20;
  BlockReader reader(io_.get_executor(), *store_, c);
  EXPECT_EQ(reader.plan(1, 0), 0u) << "a first read is not sequential yet";
  reader.served(1, 0, 100);
  std::vector<size_t> windows;
  for (int64_t at = 100; at < 700; at += 100) {
    windows.push_back(reader.plan(1, at));
    reader.served(1, at, at + 100);
  }
  EXPECT_EQ(windows, (std::vector<size_t>{1u << 20, 2u << 20, 4u << 20, 8u << 20, 8u << 20, 8u << 20}));
  EXPECT_EQ(reader.plan(1, 5000), 0u) << "random access: no read-ahead";
  reader.served(1, 5000, 5100);
  EXPECT_EQ(reader.plan(1, 5100), 1u << 20) << "sequential again: starts over at the initial window";
}

TEST_F(ReadAheadCursors, ReadersOfOneStreamKeepTheirOwnWindowsAndTheCeilingFollowsTheCache) {
  BlockReaderConfig c;
  c.cache_bytes = 4u << 20;  // window ceiling: half the cache
  c.read_ahead_max_bytes = 16u << 20;
  BlockReader reader(io_.get_executor(), *store_, c);
  EXPECT_EQ(reader.stats().window_max, 2u << 20);
  reader.plan(1, 0);
  reader.served(1, 0, 10);
  reader.plan(1, 1000);
  reader.served(1, 1000, 1010);
  for (int i = 0; i < 3; ++i) {  // two interleaved sequential readers
    EXPECT_GT(reader.plan(1, 10 + i * 10), 0u);
    reader.served(1, 10 + i * 10, 20 + i * 10);
    EXPECT_GT(reader.plan(1, 1010 + i * 10), 0u);
    reader.served(1, 1010 + i * 10, 1020 + i * 10);
  }
  EXPECT_EQ(reader.plan(1, 1040), 2u << 20);
  BlockReaderConfig off;
  off.cache_bytes = 0;
  BlockReader none(io_.get_executor(), *store_, off);
  none.plan(1, 0);
  none.served(1, 0, 10);
  EXPECT_EQ(none.plan(1, 10), 0u) << "no cache: no read-ahead";
}

TEST(BlockBuffers, TakeGivesTheSmallestKeptBufferThatFitsElseAFreshOneWithSlack) {
  auto buffers = BlockBuffers::create(1u << 20);
  std::string fresh = buffers->take(100000);
  EXPECT_TRUE(fresh.empty());
  EXPECT_GE(fresh.capacity(), 100000u + 100000u / 16);
  std::string small(200000, 's'), large(400000, 'l');
  const char* small_memory = small.data();
  const size_t both = small.capacity() + large.capacity();
  buffers->give_back(std::move(small));
  buffers->give_back(std::move(large));
  EXPECT_EQ(buffers->stats().kept_bytes, both);
  std::string got = buffers->take(150000);
  EXPECT_EQ(got.data(), small_memory) << "the smallest that fits";
  EXPECT_EQ(got.size(), 200000u) << "old contents stay (the GET overwrites them)";
  EXPECT_TRUE(buffers->take(500000).empty()) << "none fits: fresh";
  const auto s = buffers->stats();
  EXPECT_EQ(s.reused, 1u);
  EXPECT_EQ(s.fresh, 2u);
}

TEST(BlockBuffers, KeptMemoryStaysWithinTheBoundAndSharedBlocksComeBackOnTheirLastReference) {
  auto buffers = BlockBuffers::create(300000);
  std::string a(200000, 'a');
  const char* a_memory = a.data();
  auto block = buffers->share(std::move(a));
  auto second_reference = block;
  block.reset();
  EXPECT_EQ(buffers->stats().kept_bytes, 0u) << "still referenced";
  EXPECT_EQ(*second_reference, std::string(200000, 'a'));
  second_reference.reset();
  const size_t kept = buffers->stats().kept_bytes;
  EXPECT_GE(kept, 200000u);
  buffers->give_back(std::string(200000, 'b'));  // would pass the bound: freed
  EXPECT_EQ(buffers->stats().kept_bytes, kept);
  EXPECT_LE(buffers->stats().kept_bytes, buffers->stats().max_bytes);
  EXPECT_EQ(buffers->take(100).data(), a_memory);
  EXPECT_EQ(buffers->stats().kept_bytes, 0u);
}

// BlockReader on its own, over an object with many adjacent blocks of one stream (as compaction writes them).
class BlockReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/floe-block-reader-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto s = objstore::FileStore::open(dir_);
    ASSERT_TRUE(s.ok());
    store_ = std::shared_ptr<objstore::ObjectStore>(std::move(s.value));
    SegmentWriter w;
    for (int i = 0; i < 8; ++i) {  // 8 blocks of 300 KiB, each filled with its own byte
      std::string bytes(300u << 10, static_cast<char>('a' + i));
      ASSERT_TRUE(w.add(1, i * 100, i * 100 + 99, 0,
                        ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
    }
    for (const BlockInfo& b : w.blocks()) refs_.push_back(BlockRef{b, "data/compacted"});
    auto put = run(store_->put("data/compacted", w.finish_string(), objstore::Clock::now() + std::chrono::seconds(5)));
    ASSERT_TRUE(put.ok());
    SegmentWriter small;
    for (int i = 0; i < 24; ++i) {  // 24 blocks of 100 KiB (below kOwnGetBytes: adjacent ones share a GET)
      std::string bytes(kSmallBlock, static_cast<char>('A' + i));
      ASSERT_TRUE(small.add(1, i * 100, i * 100 + 99, 0,
                            ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
    }
    for (const BlockInfo& b : small.blocks()) small_.push_back(BlockRef{b, "data/small"});
    put = run(store_->put("data/small", small.finish_string(), objstore::Clock::now() + std::chrono::seconds(5)));
    ASSERT_TRUE(put.ok());
  }
  static constexpr size_t kSmallBlock = 100u << 10;
  static_assert(kSmallBlock < BlockReader::kOwnGetBytes && (300u << 10) >= BlockReader::kOwnGetBytes);
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <typename T>
  T run(asio::awaitable<T> op) {
    auto fut = asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("operation did not complete");
      io_.run_one_for(std::chrono::milliseconds(10));
    }
    return fut.get();
  }
  uint64_t gets() const { return store_->stats()[objstore::Op::get].requests; }

  asio::io_context io_;
  std::string dir_;
  std::shared_ptr<objstore::ObjectStore> store_;
  std::vector<BlockRef> refs_;   // 8 blocks of 300 KiB in data/compacted
  std::vector<BlockRef> small_;  // 24 blocks of 100 KiB in data/small
};

TEST_F(BlockReaderTest, AdjacentSmallBlocksOfOneObjectComeInTheReadsGetAndOneBackgroundGet) {
  BlockReader reader(io_.get_executor(), *store_, BlockReaderConfig{});
  std::vector<BlockRef> ahead(small_.begin() + 1, small_.end());
  auto got = run(reader.get(small_[0], ahead));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(**got, std::string(kSmallBlock, 'A'));
  run(reader.stop());  // waits for the background GET
  // The read's GET: its block and the next 19 (20 x 100 KiB <= 2 MiB); one background GET for the last 4.
  EXPECT_EQ(gets(), 2u);
  const auto s = reader.stats();
  EXPECT_EQ(s.gets, 1u);
  EXPECT_EQ(s.get_bytes, 20u * kSmallBlock);
  EXPECT_EQ(s.ahead_gets, 1u);
  EXPECT_EQ(s.ahead_bytes, 4u * kSmallBlock);
  for (size_t i = 0; i < small_.size(); ++i) {
    auto cached = reader.cached(small_[i]);
    ASSERT_NE(cached, nullptr) << "block " << i;
    EXPECT_EQ(*cached, std::string(kSmallBlock, static_cast<char>('A' + i))) << "block " << i;
  }
  auto again = run(reader.get(small_[23], {}));
  ASSERT_TRUE(again);
  EXPECT_EQ(gets(), 2u) << "a cached block needs no GET";
}

TEST_F(BlockReaderTest, LargeBlocksGetAGetEachAndAreCachedInTheirOwnGetBuffer) {
  BlockReader reader(io_.get_executor(), *store_, BlockReaderConfig{});
  std::vector<BlockRef> ahead(refs_.begin() + 1, refs_.end());
  auto got = run(reader.get(refs_[0], ahead));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(**got, std::string(300u << 10, 'a'));
  run(reader.stop());  // waits for the background GETs
  // 300 KiB >= kOwnGetBytes: the read's GET is its block alone, each following block has a background GET of its
  // own (in parallel, within the read-ahead bounds), and no block is copied out of a larger GET buffer.
  EXPECT_EQ(gets(), 8u);
  const auto s = reader.stats();
  EXPECT_EQ(s.gets, 1u);
  EXPECT_EQ(s.get_bytes, 300u << 10);
  EXPECT_EQ(s.ahead_gets, 7u);
  EXPECT_EQ(s.ahead_bytes, 7u * (300u << 10));
  EXPECT_EQ(s.buffers.fresh, 8u) << "one buffer per GET, no second buffer per block for a copy";
  for (int i = 0; i < 8; ++i) {
    auto cached = reader.cached(refs_[static_cast<size_t>(i)]);
    ASSERT_NE(cached, nullptr) << "block " << i;
    EXPECT_EQ(*cached, std::string(300u << 10, static_cast<char>('a' + i))) << "block " << i;
  }
}

TEST_F(BlockReaderTest, ReadingAgainAStreamALittleLargerThanTheCacheKeepsTheWindowCachedAndReadsAhead) {
  BlockReaderConfig config;
  config.cache_bytes = 7 * (300u << 10) + 1000;  // 7 of the 8 blocks
  BlockReader reader(io_.get_executor(), *store_, config);
  uint64_t own_gets[2] = {0, 0};
  for (int pass = 0; pass < 2; ++pass) {
    const uint64_t before = reader.stats().gets;
    for (size_t i = 0; i < refs_.size(); ++i) {
      std::vector<BlockRef> ahead(refs_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                  refs_.begin() + static_cast<std::ptrdiff_t>(std::min(i + 4, refs_.size())));
      auto got = run(reader.get(refs_[i], ahead));
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(**got, std::string(300u << 10, static_cast<char>('a' + i))) << "pass " << pass << " block " << i;
    }
    own_gets[pass] = reader.stats().gets - before;
  }
  run(reader.stop());
  // The second pass: block 0 was evicted (a GET of its own); its insert evicts a block past the window (the window's
  // cached blocks were touched), which read-ahead then fetches before the reader gets there. Without the touch, each
  // insert evicted the next block to read and every read of the pass made its own GET.
  EXPECT_LE(own_gets[1], 2u);
  EXPECT_LE(reader.stats().cache.bytes, config.cache_bytes);
}

TEST_F(BlockReaderTest, GetsReadIntoTheMemoryOfEvictedBlocksAndReturnTheSameBytes) {
  BlockReaderConfig config;
  config.cache_bytes = 2u << 20;  // 6 blocks of 300 KiB; up to 512 KiB of released memory kept (cache / 4)
  BlockReader reader(io_.get_executor(), *store_, config);
  for (int pass = 0; pass < 3; ++pass) {
    for (size_t i = 0; i < refs_.size(); ++i) {
      auto got = run(reader.get(refs_[i], {}));
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(**got, std::string(300u << 10, static_cast<char>('a' + i))) << "pass " << pass << " block " << i;
    }
  }
  run(reader.stop());
  const auto s = reader.stats();
  EXPECT_GT(s.cache.evictions, 0u);
  EXPECT_GT(s.buffers.reused, 0u) << "evicted blocks' memory was read into again";
  EXPECT_LE(s.buffers.kept_bytes, s.buffers.max_bytes);
  EXPECT_EQ(s.buffers.max_bytes, 512u << 10);
}

TEST_F(BlockReaderTest, ABlockThatFailsItsCrcIsAnErrorNamingTheObjectAndIsNotCached) {
  BlockReader reader(io_.get_executor(), *store_, BlockReaderConfig{});
  BlockRef bad = refs_[2];
  bad.block.crc ^= 1;  // what the block map says no longer matches the bytes
  auto got = run(reader.get(bad, {}));
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("data/compacted"), std::string::npos) << got.error().message;
  EXPECT_EQ(reader.cached(bad), nullptr);
  EXPECT_EQ(reader.stats().cache.blocks, 0u);
  run(reader.stop());
}

TEST_F(BlockReaderTest, AReaderJoinsTheGetAlreadyFetchingItsBlockAndAMissingObjectIsNotFound) {
  BlockReaderConfig c;
  BlockReader reader(io_.get_executor(), *store_, c);
  std::vector<BlockRef> ahead(refs_.begin() + 1, refs_.end());
  // Two reads of block 0 at once: one GET, the other read waits for it.
  auto first = asio::co_spawn(io_, reader.get(refs_[0], ahead), asio::use_future);
  auto second = asio::co_spawn(io_, reader.get(refs_[0], {}), asio::use_future);
  io_.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (first.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
         second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(**a, **b);
  EXPECT_EQ(reader.stats().joined, 1u);
  EXPECT_EQ(reader.stats().gets, 1u);

  BlockRef gone = refs_[0];
  gone.object = "data/deleted";
  auto missing = run(reader.get(gone, {}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, objstore::Errc::not_found);
  run(reader.stop());
}

// StreamStore reads through the block cache (file WAL: each flush commits one object, one block per stream).
class BlockCacheStoreTest : public testing::StreamStoreFixture {
 protected:
  // `objects` objects, each with one block of `batches` batches for streams 1 and 2.
  void fill(int objects, int batches) {
    int tag = 0;
    for (int o = 0; o < objects; ++o) {
      for (int b = 0; b < batches; ++b) {
        append(1, make_batch(tag++, 20));
        append(2, make_batch(tag++, 3));
      }
      ASSERT_TRUE(run(store_->flush()));
    }
  }
  // Every batch of the stream from its start, read `max_bytes` at a time, as raw bytes.
  Bytes read_bytes(uint64_t stream, size_t max_bytes) {
    Bytes out;
    int64_t next = store_->ends(stream).start;
    for (int reads = 0; next < store_->ends(stream).durable && reads < 100000; ++reads) {
      auto r = run(store_->read(stream, next, max_bytes));
      EXPECT_TRUE(r) << r.error().message;
      if (!r || r->batches.empty()) break;
      record::BatchSplitter split{ByteSpan(r->batches)};
      for (record::BatchView b; split.next(b);) {
        if (b.header().base_offset + b.header().last_offset_delta < next) continue;
        out.insert(out.end(), b.bytes().begin(), b.bytes().end());
        next = b.header().base_offset + b.header().last_offset_delta + 1;
      }
    }
    EXPECT_EQ(next, store_->ends(stream).durable);
    return out;
  }
};

TEST_F(BlockCacheStoreTest, ReadsAreIdenticalWithAndWithoutTheBlockCache) {
  StreamStoreConfig c = config();
  c.block_cache_bytes = 0;
  open_store(c);
  fill(6, 3);
  std::map<std::pair<uint64_t, size_t>, Bytes> uncached;
  for (uint64_t stream : {1, 2}) {
    for (size_t max : {size_t{1}, size_t{3000}, size_t{1} << 20}) uncached[{stream, max}] = read_bytes(stream, max);
  }
  EXPECT_EQ(store_->cache_stats().blocks.cache.hits, 0u);
  EXPECT_EQ(store_->cache_stats().blocks.ahead_gets, 0u);
  close_store();
  StreamStoreConfig cached = config();
  cached.block_cache_bytes = 8u << 20;
  open_store(cached);
  for (int pass = 0; pass < 2; ++pass) {
    for (uint64_t stream : {1, 2}) {
      for (size_t max : {size_t{1}, size_t{3000}, size_t{1} << 20}) {
        EXPECT_EQ(read_bytes(stream, max), (uncached[{stream, max}])) << "stream " << stream << " max " << max;
      }
    }
  }
  const auto s = store_->cache_stats().blocks;
  EXPECT_GT(s.cache.hits, s.cache.misses);
  EXPECT_LE(s.cache.bytes, s.cache.capacity);
}

TEST_F(BlockCacheStoreTest, SequentialReadsFetchAheadAndHitTheCacheRandomReadsDoNot) {
  StreamStoreConfig c = config();
  c.block_cache_bytes = 64u << 20;
  open_store(c);
  fill(30, 2);
  const uint64_t gets_before = faults_->stats()[objstore::Op::get].requests;
  const Bytes all = read_bytes(1, 1);  // one batch per read: many reads per block
  auto s = store_->cache_stats();
  EXPECT_GT(s.blocks.ahead_gets, 10u) << "sequential reads fetch the following objects ahead";
  EXPECT_GT(s.blocks.cache.hits, 30u);
  EXPECT_EQ(s.blocks.ahead_failures, 0u);
  const uint64_t gets = faults_->stats()[objstore::Op::get].requests - gets_before;
  EXPECT_LE(gets, 31u) << "each object's block is fetched once (by a read or ahead of it)";
  EXPECT_GT(s.object_read_bytes, 0u);

  // Random reads on a cold cache, never where an earlier read ended (a read ends at a batch's end, and batches
  // hold 20 records): no cursor continues, so nothing is fetched ahead.
  close_store();
  open_store(c);
  std::mt19937 rng(5);
  const int64_t end = store_->ends(1).durable;
  for (int i = 0; i < 40; ++i) {
    int64_t at = static_cast<int64_t>(rng() % static_cast<uint64_t>(end));
    if (at % 20 == 0) ++at;
    auto r = run(store_->read(1, at, 1));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_FALSE(r->batches.empty());
  }
  EXPECT_EQ(store_->cache_stats().blocks.ahead_gets, 0u);
  EXPECT_EQ(read_bytes(1, 1 << 20), all);
}

TEST_F(BlockCacheStoreTest, CacheAndReadAheadStayWithinTheirBounds) {
  StreamStoreConfig c = config();
  c.block_cache_bytes = 16u << 10;
  c.read_ahead_max_bytes = 16u << 20;  // the ceiling is half the cache: 8 KiB
  c.read_ahead_inflight_bytes = 6u << 10;
  open_store(c);
  fill(16, 8);  // blocks of stream 1: 8 batches of 20 records, ~2.7 KiB; ~43 KiB in all
  const Bytes first = read_bytes(1, 1);
  auto s = store_->cache_stats().blocks;
  EXPECT_LE(s.cache.bytes, 16u << 10);
  EXPECT_GT(s.cache.evictions, 0u);
  EXPECT_EQ(s.window_max, 8u << 10);
  EXPECT_GT(s.ahead_gets, 0u);
  EXPECT_GT(s.ahead_inflight_peak, 0u);
  EXPECT_LE(s.ahead_inflight_peak, 6u << 10);
  EXPECT_EQ(read_bytes(1, 1 << 20), first);
  EXPECT_LE(store_->cache_stats().blocks.cache.bytes, 16u << 10);
}

TEST_F(BlockCacheStoreTest, ReadAheadGetsInFlightAreBoundedInCount) {
  StreamStoreConfig c = config();
  open_store(c);
  fill(30, 1);  // 30 objects with one small block of stream 1 each: a 1 MiB window covers all of them
  read_bytes(1, 1);
  auto s = store_->cache_stats().blocks;
  EXPECT_GT(s.ahead_gets, 0u);
  // Each read-ahead GET here is one block of one object: the byte peak bounds the count in flight.
  ASSERT_GT(s.cache.blocks, 0u);
  const size_t block = s.cache.bytes / s.cache.blocks;  // blocks differ by a few bytes (their values' digits)
  EXPECT_LE(s.ahead_inflight_peak, 16 * (block + 64)) << "at most 16 read-ahead GETs at once";
}

TEST_F(BlockCacheStoreTest, ALookupByTimeGoesThroughTheBlockCache) {
  open_store(config());
  fill(2, 1);
  auto hit = run(store_->find_timestamp(1, 0));  // the first record: in the first object's block
  ASSERT_TRUE(hit);
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->offset, 0);
  EXPECT_EQ(store_->cache_stats().blocks.gets, 1u);
  auto r = run(store_->read(1, 0, 1 << 20));  // a consumer then reads from there: a cache hit, no GET
  ASSERT_TRUE(r);
  EXPECT_EQ(store_->cache_stats().blocks.gets, 1u);
  EXPECT_GE(store_->cache_stats().blocks.cache.hits, 1u);
}

TEST_F(BlockCacheStoreTest, ConcurrentReadersOnSeveralThreadsReadTheSameBytes) {
  StreamStoreConfig c = config();
  c.block_cache_bytes = 256u << 10;  // small: readers evict each other's blocks
  open_store(c);
  fill(20, 4);
  const Bytes want1 = read_bytes(1, 1 << 20);
  const Bytes want2 = read_bytes(2, 1 << 20);
  close_store();
  open_store(c);  // a cold cache
  asio::thread_pool pool(4);
  StreamStore* store = store_.get();
  auto reader = [store](uint64_t stream, size_t max_bytes, int64_t from) -> asio::awaitable<Bytes> {
    Bytes out;
    int64_t next = from;
    const int64_t end = store->ends(stream).durable;
    for (int reads = 0; next < end && reads < 20000; ++reads) {
      auto r = co_await store->read(stream, next, max_bytes);
      if (!r || r->batches.empty()) break;
      record::BatchSplitter split{ByteSpan(r->batches)};
      for (record::BatchView b; split.next(b);) {
        if (b.header().base_offset + b.header().last_offset_delta < next) continue;
        out.insert(out.end(), b.bytes().begin(), b.bytes().end());
        next = b.header().base_offset + b.header().last_offset_delta + 1;
      }
    }
    co_return out;
  };
  std::vector<std::future<Bytes>> results;
  std::vector<uint64_t> streams;
  for (int i = 0; i < 8; ++i) {
    const uint64_t stream = 1 + static_cast<uint64_t>(i % 2);
    streams.push_back(stream);
    auto op = reader(stream, i < 4 ? size_t{1} : size_t{5000}, 0);
    results.push_back(asio::co_spawn(pool, std::move(op), asio::use_future));
  }
  // Read-ahead GETs run on the store's executor (io_), pumped here while the pool's threads read.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (auto& f : results) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "readers did not finish";
      io_.restart();
      io_.run_one_for(std::chrono::milliseconds(10));
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].get(), streams[i] == 1 ? want1 : want2) << "reader " << i;
  }
  pool.join();
  auto s = store_->cache_stats().blocks;
  EXPECT_LE(s.cache.bytes, 256u << 10);
  EXPECT_GT(s.cache.hits, 0u);
}

TEST_F(BlockCacheStoreTest, AReadWhoseObjectIsDeletedMeanwhilePlansAgainAndNeverReturnsEmpty) {
  open_store(config());
  fill(3, 2);
  const int64_t first_end = 40;  // the first object's block of stream 1: offsets 0-39
  // Every GET takes 300 ms: the read below plans its GET of the first object, then retention and garbage
  // collection remove that object before the GET reaches the store.
  faults_->set_config(objstore::FaultConfig{}.delay(objstore::Op::get,
                                                    objstore::Latency::constant(std::chrono::milliseconds(300))));
  auto pending = asio::co_spawn(io_, store_->read(1, 0, 1 << 20), asio::use_future);
  ASSERT_TRUE(run(store_->trim(1, first_end)));
  ASSERT_TRUE(run(store_->trim(2, 6)));
  ASSERT_EQ(run(store_->collect_garbage(std::chrono::milliseconds(0))).value(), 1u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pending.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    io_.restart();
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  auto r = pending.get();
  ASSERT_FALSE(r) << "the data is gone: an error, never an empty answer";
  EXPECT_EQ(r.error().code, Errc::out_of_range) << r.error().message;
  faults_->set_config(objstore::FaultConfig{});
  auto tail = run(store_->read(1, first_end, 1 << 20));
  ASSERT_TRUE(tail) << tail.error().message;
  EXPECT_EQ(testing::batches_of(tail->batches).front().first, first_end);
}

TEST_F(BlockCacheStoreTest, AMissingObjectStillMappedIsAnErrorNamingItButItsCachedBlocksServe) {
  open_store(config());
  fill(2, 2);
  auto warm = run(store_->read(1, 0, 1 << 20));  // caches the first object's block of stream 1
  ASSERT_TRUE(warm);
  auto page = run(file_store_->list("data/", "", 10, objstore::Clock::now() + std::chrono::seconds(5)));
  ASSERT_EQ(page.value.objects.size(), 2u);
  for (const auto& o : page.value.objects) {
    ASSERT_FALSE(run(file_store_->remove(o.key, objstore::Clock::now() + std::chrono::seconds(5))));
  }
  // Metadata still maps offset 0 to the first object: its cached block holds exactly those bytes.
  auto again = run(store_->read(1, 0, 1 << 20));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->batches, warm->batches);
  // Stream 2's blocks were never read: the GET finds nothing, and the read says which object is missing.
  auto missing = run(store_->read(2, 0, 1 << 20));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io_error);
  EXPECT_NE(missing.error().message.find("data/"), std::string::npos) << missing.error().message;
}

// Opening many partitions at once (a failover): their logs sit in the same shared objects, and prefetch() reads
// each object once for all of them instead of once per stream (StreamStore::prefetch).
class PrefetchTest : public BlockCacheStoreTest {
 protected:
  static constexpr int kStreams = 40;
  static constexpr int kObjects = 3;
  // kObjects objects, each with one block of one batch for every stream 1..kStreams; then a fresh store (a new
  // broker: nothing cached) with a block cache of `cache_bytes`.
  void fill_and_reopen(size_t cache_bytes) {
    open_store(config());
    for (int o = 0; o < kObjects; ++o) {
      for (uint64_t stream = 1; stream <= kStreams; ++stream) append(stream, make_batch(o, 2));
      ASSERT_TRUE(run(store_->flush()));
    }
    close_store();
    StreamStoreConfig c = config();
    c.block_cache_bytes = cache_bytes;
    open_store(c);
  }
  uint64_t gets() const { return file_store_->stats()[objstore::Op::get].requests; }
  // Every stream read through from its start; checks the contents.
  void read_every_stream() {
    for (uint64_t stream = 1; stream <= kStreams; ++stream) {
      auto got = read_all(stream);
      ASSERT_EQ(got.size(), static_cast<size_t>(kObjects)) << "stream " << stream;
      for (int o = 0; o < kObjects; ++o) {
        EXPECT_EQ(got[o * 2], (std::vector<std::string>{"b" + std::to_string(o) + "-0", "b" + std::to_string(o) + "-1"}));
      }
    }
  }
  std::vector<StreamStore::PrefetchRange> every_stream(int64_t from) {
    std::vector<StreamStore::PrefetchRange> ranges;
    for (uint64_t stream = 1; stream <= kStreams; ++stream) {
      ranges.push_back({stream, from, store_->ends(stream).durable});
    }
    return ranges;
  }
};

TEST_F(PrefetchTest, OpeningManyStreamsWhoseLogsShareObjectsGetsEachObjectOnce) {
  fill_and_reopen(8u << 20);
  const uint64_t before = gets();
  const StreamStore::PrefetchPlan plan = store_->prefetch(every_stream(0));
  EXPECT_EQ(plan.objects, static_cast<size_t>(kObjects));
  EXPECT_EQ(plan.gets, static_cast<size_t>(kObjects));
  EXPECT_EQ(plan.blocks, static_cast<size_t>(kObjects * kStreams));
  EXPECT_EQ(plan.blocks_left_out, 0u);
  read_every_stream();  // reads that start while a prefetch GET runs join it
  EXPECT_EQ(gets() - before, static_cast<uint64_t>(kObjects)) << "one GET per object, not per stream and object";
  EXPECT_EQ(store_->cache_stats().blocks.prefetch_blocks, static_cast<uint64_t>(kObjects * kStreams));

  // The same without the prefetch: a GET per stream and object.
  close_store();
  open_store(config());
  const uint64_t unprefetched = gets();
  read_every_stream();
  EXPECT_EQ(gets() - unprefetched, static_cast<uint64_t>(kObjects * kStreams));
}

TEST_F(PrefetchTest, OnlyTheWantedRangesWithinTheBoundAreFetched) {
  fill_and_reopen(8u << 20);
  // From offset 4: only the last object is wanted.
  StreamStore::PrefetchPlan plan = store_->prefetch(every_stream(4));
  EXPECT_EQ(plan.objects, 1u);
  EXPECT_EQ(plan.gets, 1u);
  EXPECT_EQ(plan.blocks, static_cast<size_t>(kStreams));
  const uint64_t before = gets();
  for (uint64_t stream = 1; stream <= kStreams; ++stream) ASSERT_TRUE(run(store_->read(stream, 4, 1 << 20)));
  EXPECT_EQ(gets() - before, 1u);

  // A bound smaller than one object's wanted blocks: nothing planned, every read still right.
  close_store();
  StreamStoreConfig c = config();
  c.block_cache_bytes = 8u << 20;
  c.prefetch_max_bytes = 64;
  open_store(c);
  plan = store_->prefetch(every_stream(0));
  EXPECT_EQ(plan.objects, 0u);
  EXPECT_EQ(plan.blocks_left_out, static_cast<size_t>(kObjects * kStreams));
  read_every_stream();
  // No block cache: no prefetch.
  close_store();
  StreamStoreConfig none = config();
  none.block_cache_bytes = 0;
  open_store(none);
  EXPECT_EQ(store_->prefetch(every_stream(0)).gets, 0u);
  read_every_stream();
}

}  // namespace
}  // namespace floe::stream
