#include "stream/segment_object.h"

#include <gtest/gtest.h>

#include "stream/errc.h"

namespace floe::stream {
namespace {

Bytes fill(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 31);
  return b;
}

Bytes sample_object(SegmentWriter& w) {
  EXPECT_TRUE(w.add(1, 0, 9, 1000, fill(100, 1)));
  EXPECT_TRUE(w.add(1, 10, 19, 2000, fill(50, 2)));
  EXPECT_TRUE(w.add(7, 100, 100, 500, fill(10, 3)));
  return w.finish();
}

TEST(SegmentObject, RoundTrip) {
  SegmentWriter w;
  Bytes obj = sample_object(w);
  EXPECT_EQ(obj.size(), 160 + 3 * kSegmentIndexEntrySize + kSegmentFooterSize);
  auto idx = SegmentIndex::parse_object(obj, "wal/1/2/3");
  ASSERT_TRUE(idx) << idx.error().message;
  ASSERT_EQ(idx->blocks().size(), 3u);
  EXPECT_EQ(idx->data_size(), 160u);
  EXPECT_EQ(idx->blocks()[1].position, 100u);
  EXPECT_EQ(idx->blocks()[1].max_timestamp, 2000);
  EXPECT_EQ(idx->blocks_of(1).size(), 2u);
  EXPECT_EQ(idx->blocks_of(7).size(), 1u);
  EXPECT_TRUE(idx->blocks_of(3).empty());
  ASSERT_NE(idx->find(1, 12), nullptr);
  EXPECT_EQ(idx->find(1, 12)->first_offset, 10);
  EXPECT_EQ(idx->find(7, 0)->first_offset, 100);  // first block after the offset
  EXPECT_EQ(idx->find(1, 20), nullptr);
  const BlockInfo& b = idx->blocks()[2];
  EXPECT_TRUE(verify_block(b, ByteSpan(obj).subspan(b.position, b.size), "x"));
}

// Built by reference (the uploader's way: the blocks are the log cache's batches), the object's bytes are exactly
// those of the same object built by copy; a writer refuses to mix the two ways.
TEST(SegmentObject, ByReferenceGivesTheSameBytes) {
  SegmentWriter copy;
  const Bytes expected = sample_object(copy);
  const Bytes first_block = fill(100, 1), c = fill(50, 2), d = fill(10, 3);  // the sample's blocks
  SegmentWriter w;
  const ByteSpan p1[] = {ByteSpan(first_block).first(60), ByteSpan(first_block).subspan(60)};
  const ByteSpan p2[] = {ByteSpan(c)};
  const ByteSpan p3[] = {ByteSpan(d), ByteSpan()};
  ASSERT_TRUE(w.add_parts_by_reference(1, 0, 9, 1000, p1));
  ASSERT_TRUE(w.add_parts_by_reference(1, 10, 19, 2000, p2));
  EXPECT_FALSE(w.add(5, 0, 0, 0, fill(5, 0)));  // by copy into an object built by reference
  ASSERT_TRUE(w.add_parts_by_reference(7, 100, 100, 500, p3));
  EXPECT_FALSE(w.add_parts_by_reference(7, 50, 60, 0, p2));  // out of order, as by copy
  SegmentWriter::Pieces pieces = w.finish_pieces();
  Bytes got;
  for (ByteSpan piece : pieces.blocks) got.insert(got.end(), piece.begin(), piece.end());
  got.insert(got.end(), pieces.tail.begin(), pieces.tail.end());
  EXPECT_EQ(pieces.size, got.size());
  EXPECT_EQ(got, expected);
  // The writer is empty again: a copy-built object may follow.
  ASSERT_TRUE(w.add(1, 0, 9, 1000, fill(100, 1)));
  SegmentWriter mixed;
  ASSERT_TRUE(mixed.add(1, 0, 0, 0, fill(5, 0)));
  EXPECT_FALSE(mixed.add_parts_by_reference(1, 1, 1, 0, p2));
}

TEST(SegmentObject, FooterThenIndexFromTheTail) {
  SegmentWriter w;
  Bytes obj = sample_object(w);
  auto footer = SegmentIndex::parse_footer(ByteSpan(obj).last(kSegmentFooterSize), obj.size(), "o");
  ASSERT_TRUE(footer);
  EXPECT_EQ(footer->index_position, 160u);
  size_t tail = footer->index_length + kSegmentFooterSize;
  auto idx = SegmentIndex::parse_tail(ByteSpan(obj).last(tail), obj.size(), "o");
  ASSERT_TRUE(idx) << idx.error().message;
  EXPECT_EQ(idx->blocks().size(), 3u);
}

TEST(SegmentObject, WriterRefusesOutOfOrderAndEmptyBlocks) {
  SegmentWriter w;
  ASSERT_TRUE(w.add(2, 10, 19, 0, fill(5, 0)));
  EXPECT_FALSE(w.add(2, 15, 30, 0, fill(5, 0)));  // overlaps
  EXPECT_FALSE(w.add(1, 0, 5, 0, fill(5, 0)));    // lower stream
  EXPECT_FALSE(w.add(3, 5, 4, 0, fill(5, 0)));    // last < first
  EXPECT_FALSE(w.add(3, 0, 0, 0, {}));            // empty
  EXPECT_EQ(w.block_count(), 1u);
}

TEST(SegmentObject, EmptyObjectIsValid) {
  SegmentWriter w;
  Bytes obj = w.finish();
  auto idx = SegmentIndex::parse_object(obj, "empty");
  ASSERT_TRUE(idx);
  EXPECT_TRUE(idx->blocks().empty());
}

// Every byte is covered by a checksum or a structural check: flipping any one bit is caught, and the error names
// the object.
TEST(SegmentObject, EverySingleBitFlipIsDetected) {
  SegmentWriter w;
  Bytes obj = sample_object(w);
  for (size_t i = 0; i < obj.size(); ++i) {
    for (int bit : {0, 7}) {
      Bytes bad = obj;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      auto idx = SegmentIndex::parse_object(bad, "wal/9/9/00000000000000000042");
      ASSERT_FALSE(idx) << "byte " << i << " bit " << bit;
      EXPECT_EQ(idx.error().code, make_error_code(Errc::corrupt_object));
      EXPECT_NE(idx.error().message.find("wal/9/9/00000000000000000042"), std::string::npos);
    }
  }
}

TEST(SegmentObject, TruncatedAndForeignObjectsAreRejected) {
  SegmentWriter w;
  Bytes obj = sample_object(w);
  for (size_t n : {size_t{0}, size_t{10}, size_t{31}, obj.size() - 1}) {
    EXPECT_FALSE(SegmentIndex::parse_object(ByteSpan(obj).first(n), "t")) << n;
  }
  Bytes foreign(64, 0x41);
  auto r = SegmentIndex::parse_object(foreign, "not-ours");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bad magic"), std::string::npos);
}

}  // namespace
}  // namespace floe::stream
