// ObjectIndexCache and read_committed_objects_cached: a second read of the same committed objects reads and
// decodes nothing again; new, rewritten and deleted records are seen; the byte bound holds.
#include "stream/object_index_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "stream/committed_objects.h"
#include "stream_store_fixture.h"

namespace floe::stream {
namespace {

class ObjectIndexCacheTest : public testing::StreamStoreFixture {
 protected:
  // (meta::Result has no empty state for the fixture's run())
  static asio::awaitable<bool> put_ok(meta::MetaStore& meta, meta::PutRequest put) {
    auto r = co_await meta.put(std::move(put));
    co_return r.ok();
  }
  static asio::awaitable<bool> del_ok(meta::MetaStore& meta, meta::DeleteRequest del) {
    auto r = co_await meta.del(std::move(del));
    co_return r.ok();
  }
  // objects/<key>: one block for each stream in [first_stream, first_stream + streams).
  static std::string record(const std::string& key, uint64_t first_stream, int streams, int64_t offset = 0) {
    ObjectRanges r;
    r.key = key;
    r.object_size = 1000;
    for (int i = 0; i < streams; ++i) {
      BlockInfo b;
      b.stream_id = first_stream + i;
      b.first_offset = offset;
      b.last_offset = offset + 1;
      b.position = i * 10;
      b.size = 10;
      r.blocks.push_back(b);
    }
    return encode_object_ranges(r);
  }
  static std::string key_of(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "data/wal/1/%06d", i);
    return buf;
  }
  void put_object(const std::string& key, const std::string& value) {
    open_meta();
    meta::PutRequest put;
    put.key = "/floe/objects/" + key;
    put.value = value;
    ASSERT_TRUE(run(put_ok(*meta_, std::move(put))));
  }
  // One cached read: the visited objects' keys (in order) and blocks.
  struct Seen {
    std::vector<std::string> keys;
    size_t blocks = 0;
    int64_t first_offset_of_last = -1;
  };
  Seen read(ObjectIndexCache& cache) {
    open_meta();
    Seen seen;
    std::function<Status(const ObjectRanges&)> visit = [&](const ObjectRanges& o) {
      seen.keys.push_back(o.key);
      seen.blocks += o.blocks.size();
      seen.first_offset_of_last = o.blocks.empty() ? -1 : o.blocks.back().first_offset;
      return ok_status();
    };
    auto rev = run(read_committed_objects_cached(*meta_, "/floe/", cache, visit, "test"));
    EXPECT_TRUE(rev) << rev.error().message;
    return seen;
  }
};

TEST_F(ObjectIndexCacheTest, ASecondReadDecodesOnlyWhatChanged) {
  constexpr int kObjects = 620;  // two listing pages; more misses than one txn of point reads
  for (int i = 0; i < kObjects; ++i) put_object(key_of(i), record(key_of(i), 1 + i % 7, 30));
  ObjectIndexCache cache(64u << 20);

  Seen first = read(cache);
  ASSERT_EQ(first.keys.size(), static_cast<size_t>(kObjects));
  EXPECT_TRUE(std::is_sorted(first.keys.begin(), first.keys.end()));
  EXPECT_EQ(first.blocks, static_cast<size_t>(kObjects * 30));
  ObjectIndexCache::Stats s = cache.stats();
  EXPECT_EQ(s.decodes, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.entries, static_cast<size_t>(kObjects));
  const uint64_t value_bytes = s.value_bytes;

  // The next wave: nothing read or decoded again.
  Seen second = read(cache);
  EXPECT_EQ(second.keys, first.keys);
  EXPECT_EQ(second.blocks, first.blocks);
  s = cache.stats();
  EXPECT_EQ(s.decodes, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(s.hits, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(s.value_bytes, value_bytes);

  // Three new objects (point reads in one txn), one rewritten in place (a new mod revision), one deleted.
  for (int i = kObjects; i < kObjects + 3; ++i) put_object(key_of(i), record(key_of(i), 100, 2));
  put_object(key_of(kObjects + 2), record(key_of(kObjects + 2), 100, 2, 42));
  meta::DeleteRequest del;
  del.key = "/floe/objects/" + key_of(5);
  ASSERT_TRUE(run(del_ok(*meta_, std::move(del))));
  Seen third = read(cache);
  ASSERT_EQ(third.keys.size(), static_cast<size_t>(kObjects + 2));
  EXPECT_EQ(third.first_offset_of_last, 42) << "the rewritten record, not the cached one";
  s = cache.stats();
  EXPECT_EQ(s.decodes, static_cast<uint64_t>(kObjects + 3));
  EXPECT_EQ(s.entries, static_cast<size_t>(kObjects + 2)) << "the deleted object's entry is dropped";
}

TEST_F(ObjectIndexCacheTest, TheByteBoundHolds) {
  constexpr int kObjects = 50;
  for (int i = 0; i < kObjects; ++i) put_object(key_of(i), record(key_of(i), 1, 100));
  ObjectRanges sample;
  sample.key = key_of(0);
  sample.blocks.resize(100);
  const size_t one = ObjectIndexCache::entry_bytes(sample);
  ObjectIndexCache cache(10 * one + one / 2);  // room for 10
  Seen first = read(cache);
  EXPECT_EQ(first.keys.size(), static_cast<size_t>(kObjects)) << "every object visited whatever the bound";
  ObjectIndexCache::Stats s = cache.stats();
  EXPECT_LE(s.bytes, s.max_bytes);
  EXPECT_EQ(s.entries, 10u);
  // The 10 kept are the last read: those hit, the rest are read again.
  read(cache);
  s = cache.stats();
  EXPECT_EQ(s.decodes + s.hits, static_cast<uint64_t>(2 * kObjects));
  EXPECT_LE(s.bytes, s.max_bytes);

  ObjectIndexCache none(0);
  EXPECT_EQ(read(none).keys.size(), static_cast<size_t>(kObjects));
  EXPECT_EQ(none.stats().entries, 0u);
}

}  // namespace
}  // namespace floe::stream
