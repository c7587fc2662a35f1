// Hostile and random input: every path must end in an error value, never a crash, a hang, an out-of-bounds read
// (run under -fsanitize=address,undefined) or an allocation beyond the caller's bounds.
#include <gtest/gtest.h>

#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

using test::bytes_of;
using test::from_hex;

RecordError read_all(const Bytes& records, int32_t count) {
  RecordReader reader(records, count);
  for (RecordView r; reader.next(r);) {
  }
  return reader.error();
}

// Reads everything reachable from a blob the way a broker would, touching every byte of every view.
size_t consume_blob(ByteSpan blob, BatchSplitter::Tail tail) {
  size_t touched = 0;
  BatchSplitter split(blob, tail);
  for (BatchView batch; split.next(batch);) {
    (void)batch.verify_crc();
    (void)validate_batch(batch, {.max_decompressed = 1 << 20, .check_crc = false});
    Result<RecordSet> set = RecordSet::open(batch, 1 << 20);
    if (!set) continue;
    RecordReader reader = set->reader();
    for (RecordView r; reader.next(r);) {
      for (const auto& field : {r.key, r.value})
        if (field)
          for (uint8_t b : *field) touched += b;
      for (const Header& h : r.headers()) {
        for (char c : h.key) touched += static_cast<uint8_t>(c);
        if (h.value)
          for (uint8_t b : *h.value) touched += b;
      }
    }
  }
  return touched;
}

TEST(HostileInput, OverlongVarints) {
  // Record length as a 10-byte varint; as a 5-byte varint with more than 32 bits.
  EXPECT_EQ(read_all(from_hex("ffffffffffffffffff01" "00000001"), 1), RecordError::invalid_record);
  EXPECT_EQ(read_all(from_hex("ffffffff7f" "00000001"), 1), RecordError::invalid_record);
  // A timestampDelta varlong of 11 bytes inside an otherwise plausible record.
  EXPECT_EQ(read_all(from_hex("1e" "00" "ffffffffffffffffffff01" "00" "01" "01" "00"), 1), RecordError::invalid_record);
  // An unterminated varint at the very end of the buffer.
  EXPECT_EQ(read_all(from_hex("80"), 1), RecordError::invalid_record);
  EXPECT_EQ(read_all(from_hex("0c" "00" "00" "80"), 1), RecordError::invalid_record);
}

TEST(HostileInput, HugeLengthsAndCounts) {
  // Record length INT32_MAX (zig-zag fffffffe0f) with 4 bytes behind it.
  EXPECT_EQ(read_all(from_hex("feffffff0f" "00000000"), 1), RecordError::invalid_record);
  // Key length INT32_MAX inside a small record.
  EXPECT_EQ(read_all(from_hex("12" "00" "00" "00" "feffffff0f" "01" "00"), 1), RecordError::invalid_record);
  // Header count INT32_MAX.
  EXPECT_EQ(read_all(from_hex("12" "00" "00" "00" "01" "01" "feffffff0f"), 1), RecordError::invalid_record);
  // Record length INT32_MIN (zig-zag ffffffff0f).
  EXPECT_EQ(read_all(from_hex("ffffffff0f" "00"), 1), RecordError::invalid_record);
  // A batch that claims INT32_MAX records but holds one.
  BatchBuilder b;
  ASSERT_EQ(b.add({.value = bytes_of("v")}), RecordError::ok);
  Bytes batch = *b.build();
  store_be32(batch.data() + layout::kRecordsCount, INT32_MAX);
  store_be32(batch.data() + layout::kLastOffsetDelta, INT32_MAX - 1);
  ASSERT_EQ(rewrite_crc(batch), RecordError::ok);
  Result<BatchView> v = BatchView::parse(batch);
  ASSERT_TRUE(v);
  EXPECT_EQ(validate_batch(*v), RecordError::invalid_record);
  EXPECT_EQ(kafka_error_code(RecordError::invalid_record), 87);
}

TEST(HostileInput, ZipBombBatchIsRefusedWithinTheBound) {
  const Bytes zeros(8 << 20, 0);
  BatchBuilder b({.compression = Compression::zstd});
  ASSERT_EQ(b.add({.value = ByteSpan(zeros)}), RecordError::ok);
  const Bytes batch = *b.build();
  EXPECT_LT(batch.size(), 4096u);
  Result<BatchView> v = BatchView::parse(batch);
  ASSERT_TRUE(v);
  EXPECT_EQ(validate_batch(*v, {.max_decompressed = 1 << 20}), RecordError::decompressed_too_large);
  EXPECT_EQ(RecordSet::open(*v, 1 << 20).error(), RecordError::decompressed_too_large);
  EXPECT_EQ(validate_batch(*v, {.max_decompressed = 16 << 20}), RecordError::ok);
}

// The records section of a compressed batch decompresses, but into garbage records.
TEST(HostileInput, CompressedGarbageRecords) {
  const Bytes garbage = test::random_bytes(5000, 1);
  for (Compression codec : {Compression::gzip, Compression::snappy, Compression::lz4, Compression::zstd}) {
    Bytes batch(layout::kHeaderSize);
    ASSERT_EQ(compress(codec, garbage, batch), RecordError::ok);
    BatchHeader h;
    h.batch_length = static_cast<int32_t>(batch.size() - layout::kLogOverhead);
    h.attributes = static_cast<int16_t>(codec);
    h.records_count = 3;
    h.last_offset_delta = 2;
    write_batch_header(h, batch);
    ASSERT_EQ(rewrite_crc(batch), RecordError::ok);
    Result<BatchView> v = BatchView::parse(batch);
    ASSERT_TRUE(v);
    EXPECT_EQ(validate_batch(*v), RecordError::invalid_record) << compression_name(codec);
  }
}

Bytes sample_blob(uint64_t seed) {
  Bytes blob;
  std::mt19937_64 rng(seed);
  for (Compression codec : test::kAllCodecs) {
    BatchBuilder b({.compression = codec, .producer_id = 1, .producer_epoch = 0, .base_sequence = 0});
    const Header headers[] = {{"a", bytes_of("b")}, {"c", std::nullopt}};
    for (int i = 0; i < 6; ++i) {
      const Bytes value = test::text_bytes(rng() % 200, rng());
      EXPECT_EQ(b.add({.key = bytes_of("key"), .value = ByteSpan(value), .timestamp = i,
                       .headers = std::span(headers).first(i % 3)}),
                RecordError::ok);
    }
    EXPECT_EQ(b.build(blob), RecordError::ok);
  }
  return blob;
}

TEST(HostileInput, RandomMutationsOfValidBatches) {
  const Bytes good = sample_blob(1);
  ASSERT_GT(consume_blob(good, BatchSplitter::Tail::reject), 0u);
  std::mt19937_64 rng(2);
  for (int i = 0; i < 3000; ++i) {
    Bytes bad = good;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
    // Half the time make every CRC right again so the mutations reach the record parser and the decompressors.
    if (i % 2) {
      BatchSplitter split(bad);
      size_t at = 0;
      for (BatchView batch; split.next(batch); at = split.position())
        (void)rewrite_crc(MutableByteSpan(bad).subspan(at, batch.bytes().size()));
    }
    const size_t cut = i % 3 == 0 ? rng() % bad.size() : bad.size();
    const ByteSpan input = ByteSpan(bad).first(cut);
    consume_blob(input, BatchSplitter::Tail::reject);
    consume_blob(input, BatchSplitter::Tail::allow_partial);
  }
}

// Mutations confined to the records of an uncompressed batch, with a correct CRC: the record parser sees them all.
TEST(HostileInput, RandomRecordSections) {
  BatchBuilder b;
  const Header headers[] = {{"h1", bytes_of("v1")}, {"h2", std::nullopt}};
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(b.add({.key = bytes_of("key"), .value = bytes_of("value"), .timestamp = i, .headers = headers}),
              RecordError::ok);
  const Bytes good = *b.build();
  std::mt19937_64 rng(3);
  int rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    Bytes bad = good;
    for (int f = 0; f < 1 + i % 3; ++f)
      bad[layout::kHeaderSize + rng() % (bad.size() - layout::kHeaderSize)] = static_cast<uint8_t>(rng());
    ASSERT_EQ(rewrite_crc(bad), RecordError::ok);
    consume_blob(bad, BatchSplitter::Tail::reject);
    rejected += validate_batch(*BatchView::parse(bad)) != RecordError::ok;
  }
  EXPECT_GT(rejected, 1000);
}

TEST(HostileInput, RandomGarbageBlobs) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 3000; ++i) {
    Bytes blob = test::random_bytes(rng() % 300, rng());
    // Often make it look like a v2 batch header so that more than the first check runs.
    if (blob.size() >= layout::kHeaderSize && i % 2) {
      store_be32(blob.data() + layout::kBatchLength, static_cast<uint32_t>(rng() % (blob.size() + 20)));
      blob[layout::kMagic] = 2;
      blob[layout::kAttributes] = 0;
      blob[layout::kAttributes + 1] = static_cast<uint8_t>(rng() % 5);
    }
    consume_blob(blob, BatchSplitter::Tail::reject);
    consume_blob(blob, BatchSplitter::Tail::allow_partial);
  }
}

}  // namespace
}  // namespace floe::record
