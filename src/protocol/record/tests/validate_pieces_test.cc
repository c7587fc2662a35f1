// validate_batch on lz4 batches checks the records through a window of the decompressed output (PieceDecoder)
// instead of the whole decompressed batch. These tests hold it to the whole-buffer answer (RecordSet + RecordReader,
// the path the other codecs take) on valid batches whose records cross the window's edges, records larger than the
// window, several frames, the limit, and damaged, truncated and random payloads.
#include <gtest/gtest.h>

#include <random>

#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

// The whole-buffer answer: decompress everything, then walk the records (what validate_batch does for gzip).
RecordError whole_buffer_answer(const BatchView& batch, const ValidateOptions& options) {
  const BatchHeader& h = batch.header();
  if (options.check_crc)
    if (RecordError e = batch.verify_crc(); e != RecordError::ok) return e;
  if (h.last_offset_delta < h.records_count - 1) return RecordError::invalid_record;
  if (options.contiguous_offsets && (h.records_count == 0 || h.last_offset_delta != h.records_count - 1))
    return RecordError::invalid_record;
  Result<RecordSet> set = RecordSet::open(batch, options.max_decompressed);
  if (!set) return set.error();
  RecordReader reader = set->reader();
  int64_t previous = -1;
  for (RecordView r; reader.next(r);) {
    const bool in_order = options.contiguous_offsets ? r.offset_delta == previous + 1 : r.offset_delta > previous;
    if (!in_order || r.offset_delta > h.last_offset_delta) return RecordError::invalid_record;
    previous = r.offset_delta;
  }
  return reader.error();
}

// A batch whose records section is exactly `records` (uncompressed bytes, compressed here with lz4), claiming
// `count` records.
Bytes lz4_batch_of(ByteSpan records, int32_t count) {
  Bytes batch(layout::kHeaderSize);
  EXPECT_EQ(compress(Compression::lz4, records, batch), RecordError::ok);
  BatchHeader h;
  h.batch_length = static_cast<int32_t>(batch.size() - layout::kLogOverhead);
  h.attributes = static_cast<int16_t>(Compression::lz4);
  h.records_count = count;
  h.last_offset_delta = count - 1;
  write_batch_header(h, batch);
  EXPECT_EQ(rewrite_crc(batch), RecordError::ok);
  return batch;
}

// Records of random sizes up to `max_value` bytes, about `total` bytes in all; returns the encoded records section.
Bytes records_section(size_t total, size_t max_value, uint64_t seed, int32_t& count) {
  BatchBuilder b;
  std::mt19937_64 rng(seed);
  const Header headers[] = {{"trace", test::bytes_of("abc")}};
  while (b.records_size() < total) {
    const Bytes value = test::text_bytes(rng() % (max_value + 1), rng());
    EXPECT_EQ(b.add({.key = test::bytes_of("k"), .value = ByteSpan(value), .timestamp = 1, .headers = headers}),
              RecordError::ok);
  }
  count = b.count();
  Bytes batch = *b.build();
  return Bytes(batch.begin() + layout::kHeaderSize, batch.end());
}

RecordError check(const Bytes& batch, ValidateOptions options = {}) {
  Result<BatchView> v = BatchView::parse(batch);
  EXPECT_TRUE(v);
  if (!v) return RecordError::invalid_record;
  const RecordError windowed = validate_batch(*v, options);
  EXPECT_EQ(windowed, whole_buffer_answer(*v, options));
  return windowed;
}

TEST(ValidatePieces, ValidBatchesAcrossWindowEdges) {
  // From a few records to about 2.5 MiB (ten windows), records from empty to 3000 bytes: every kind of edge.
  for (size_t total : {100u, 70000u, 262144u, 700000u, 2600000u}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      int32_t count = 0;
      const Bytes records = records_section(total, 3000, seed * 7 + total, count);
      EXPECT_EQ(check(lz4_batch_of(records, count)), RecordError::ok) << total << " " << seed;
    }
  }
}

TEST(ValidatePieces, RecordLargerThanTheWindow) {
  BatchBuilder b({.compression = Compression::lz4});
  const Bytes small = test::text_bytes(100, 1);
  const Bytes big = test::text_bytes(900 << 10, 2);  // 900 KiB: several windows' worth
  ASSERT_EQ(b.add({.value = ByteSpan(small)}), RecordError::ok);
  ASSERT_EQ(b.add({.value = ByteSpan(big)}), RecordError::ok);
  ASSERT_EQ(b.add({.value = ByteSpan(small)}), RecordError::ok);
  const Bytes batch = *b.build();
  EXPECT_EQ(check(batch), RecordError::ok);
  // The same, through a reused scratch buffer holding leftovers of an earlier call.
  Bytes scratch = test::random_bytes(1000, 3);
  EXPECT_EQ(check(batch, {.scratch = &scratch}), RecordError::ok);
  EXPECT_EQ(check(batch, {.scratch = &scratch}), RecordError::ok);
  // A limit below the big record: refused as the whole-buffer path refuses it.
  EXPECT_EQ(check(batch, {.max_decompressed = 512 << 10}), RecordError::decompressed_too_large);
}

TEST(ValidatePieces, LimitAtTheExactSize) {
  int32_t count = 0;
  const Bytes records = records_section(600000, 2000, 11, count);
  const Bytes batch = lz4_batch_of(records, count);
  EXPECT_EQ(check(batch, {.max_decompressed = records.size()}), RecordError::ok);
  EXPECT_EQ(check(batch, {.max_decompressed = records.size() - 1}), RecordError::decompressed_too_large);
  EXPECT_EQ(check(batch, {.max_decompressed = 1000}), RecordError::decompressed_too_large);
}

TEST(ValidatePieces, SeveralFrames) {
  int32_t count = 0;
  const Bytes records = records_section(400000, 1500, 5, count);
  // The same records as two lz4 frames, cut in the middle of a record.
  const size_t cut = records.size() / 2 + 3;
  Bytes batch(layout::kHeaderSize);
  ASSERT_EQ(compress(Compression::lz4, ByteSpan(records).first(cut), batch), RecordError::ok);
  ASSERT_EQ(compress(Compression::lz4, ByteSpan(records).subspan(cut), batch), RecordError::ok);
  BatchHeader h;
  h.batch_length = static_cast<int32_t>(batch.size() - layout::kLogOverhead);
  h.attributes = static_cast<int16_t>(Compression::lz4);
  h.records_count = count;
  h.last_offset_delta = count - 1;
  write_batch_header(h, batch);
  ASSERT_EQ(rewrite_crc(batch), RecordError::ok);
  EXPECT_EQ(check(batch), RecordError::ok);
}

TEST(ValidatePieces, WrongRecordsAreRefused) {
  int32_t count = 0;
  const Bytes records = records_section(500000, 2500, 9, count);
  // More records claimed than present, fewer claimed than present, bytes after the last record.
  EXPECT_EQ(check(lz4_batch_of(records, count + 1)), RecordError::invalid_record);
  EXPECT_EQ(check(lz4_batch_of(records, count - 1)), RecordError::invalid_record);
  Bytes trailing = records;
  trailing.push_back(0);
  EXPECT_EQ(check(lz4_batch_of(trailing, count)), RecordError::invalid_record);
  // The records cut inside the last one (the payload itself is a whole lz4 frame).
  EXPECT_EQ(check(lz4_batch_of(ByteSpan(records).first(records.size() - 10), count)), RecordError::invalid_record);
  // A record's length prefix damaged at every position around the first window edge (256 KiB).
  for (size_t at = (256u << 10) - 8; at < (256u << 10) + 8; ++at) {
    Bytes damaged = records;
    damaged[at] ^= 0x80;
    (void)check(lz4_batch_of(damaged, count));  // the answer must match the whole-buffer one
  }
  // Offsets with a gap: refused unless the caller allows gaps (compacted batches).
  BatchBuilder gaps({.compression = Compression::lz4});
  const Bytes value = test::text_bytes(300000, 4);
  ASSERT_EQ(gaps.add_at(0, {.value = ByteSpan(value)}), RecordError::ok);
  ASSERT_EQ(gaps.add_at(2, {.value = ByteSpan(value)}), RecordError::ok);
  const Bytes gap_batch = *gaps.build();
  EXPECT_EQ(check(gap_batch), RecordError::invalid_record);
  EXPECT_EQ(check(gap_batch, {.contiguous_offsets = false}), RecordError::ok);
}

TEST(ValidatePieces, TruncatedAndDamagedPayloads) {
  int32_t count = 0;
  const Bytes records = records_section(300000, 1200, 21, count);
  const Bytes batch = lz4_batch_of(records, count);
  const size_t payload = batch.size() - layout::kHeaderSize;
  // Cut the compressed payload (header fixed to the new length) at spread-out points.
  for (size_t keep = 0; keep < payload; keep += payload / 37 + 1) {
    Bytes cut(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(layout::kHeaderSize + keep));
    BatchHeader h = *parse_batch_header(cut);
    h.batch_length = static_cast<int32_t>(cut.size() - layout::kLogOverhead);
    write_batch_header(h, cut);
    EXPECT_NE(check(cut, {.check_crc = false}), RecordError::ok) << keep;
  }
  // Random byte flips in the payload: any answer, as long as it is the whole-buffer one.
  std::mt19937_64 rng(99);
  for (int round = 0; round < 300; ++round) {
    Bytes damaged = batch;
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      damaged[layout::kHeaderSize + rng() % payload] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    (void)check(damaged, {.max_decompressed = 1 << 20, .check_crc = false});
  }
}

}  // namespace
}  // namespace floe::record
