#include "protocol/record/batch_view.h"

#include <gtest/gtest.h>

#include "protocol/record/batch_builder.h"
#include "protocol/record/crc32c.h"
#include "protocol/record/record_set.h"
#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

using test::bytes_of;

Bytes make_batch(int records, Compression codec = Compression::none, int64_t base_offset = 0) {
  BatchBuilder b({.compression = codec, .base_offset = base_offset});
  for (int i = 0; i < records; ++i) {
    const std::string value = "value-" + std::to_string(i);
    EXPECT_EQ(b.add({.key = bytes_of("k"), .value = bytes_of(value), .timestamp = 1000 + i}), RecordError::ok);
  }
  Bytes out;
  EXPECT_EQ(b.build(out), RecordError::ok);
  return out;
}

// A message of format v0 or v1 (offset, size, crc, magic, attributes, [timestamp], null key, value "x").
Bytes legacy_message(int8_t magic) {
  Bytes m = test::from_hex("0000000000000005");
  const Bytes body = test::from_hex(magic == 0 ? "12345678" "00" "00" "ffffffff" "0000000178"
                                               : "12345678" "01" "00" "00000000000003e8" "ffffffff" "0000000178");
  const Bytes size = test::from_hex(magic == 0 ? "0000000f" : "00000017");
  m.insert(m.end(), size.begin(), size.end());
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

TEST(BatchView, ParsesHeaderOfBuiltBatch) {
  const Bytes bytes = make_batch(3, Compression::none, 77);
  Result<BatchView> v = BatchView::parse(bytes);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header().base_offset, 77);
  EXPECT_EQ(v->header().last_offset(), 79);
  EXPECT_EQ(v->header().next_offset(), 80);
  EXPECT_EQ(v->header().magic, 2);
  EXPECT_EQ(v->bytes().size(), bytes.size());
  EXPECT_EQ(v->records_bytes().size(), bytes.size() - 61);
  EXPECT_EQ(v->verify_crc(), RecordError::ok);
  EXPECT_EQ(v->compute_crc(), v->header().crc);
}

TEST(BatchView, MessageFormatV0AndV1AreUnsupportedNotCorrupt) {
  for (int8_t magic : {int8_t{0}, int8_t{1}}) {
    const Bytes m = legacy_message(magic);
    Result<BatchView> v = BatchView::parse(m);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), RecordError::unsupported_magic);
    EXPECT_EQ(kafka_error_code(v.error()), 43);
    BatchSplitter split(m);
    BatchView b;
    EXPECT_FALSE(split.next(b));
    EXPECT_EQ(split.error(), RecordError::unsupported_magic);
  }
}

TEST(BatchView, UnknownMagicIsCorrupt) {
  Bytes bytes = make_batch(1);
  for (uint8_t magic : {uint8_t{3}, uint8_t{0x80}, uint8_t{0xff}}) {
    bytes[16] = magic;
    Result<BatchView> v = BatchView::parse(bytes);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), RecordError::unknown_magic);
    EXPECT_EQ(kafka_error_code(v.error()), 2);
  }
}

TEST(BatchView, DetectsCorruptionAnywhereUnderTheCrc) {
  const Bytes good = make_batch(5, Compression::lz4);
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    Result<BatchView> v = BatchView::parse(bad);
    if (i >= layout::kCrcStart && v) {
      EXPECT_EQ(v->verify_crc(), RecordError::crc_mismatch) << "byte " << i;
      EXPECT_EQ(kafka_error_code(RecordError::crc_mismatch), 2);
    } else if (i >= layout::kPartitionLeaderEpoch && i < layout::kMagic) {
      ASSERT_TRUE(v);  // the leader epoch is outside the CRC on purpose
      EXPECT_EQ(v->verify_crc(), RecordError::ok);
    } else if (i >= layout::kMagic && i < layout::kCrcStart) {
      EXPECT_TRUE(!v || v->verify_crc() == RecordError::crc_mismatch) << "byte " << i;
    }
  }
}

TEST(BatchView, RejectsBadLengths) {
  Bytes bytes = make_batch(1);
  for (int32_t length : {-1, 0, 13, 14, 48, INT32_MIN}) {
    store_be32(bytes.data() + 8, static_cast<uint32_t>(length));
    Result<BatchView> v = BatchView::parse(bytes);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), RecordError::bad_batch_length) << length;
  }
  store_be32(bytes.data() + 8, 2000);
  EXPECT_EQ(BatchView::parse(bytes, 1999).error(), RecordError::bad_batch_length);
  EXPECT_EQ(BatchView::parse(bytes).error(), RecordError::truncated);  // longer than the buffer
}

TEST(BatchView, EveryTruncationIsDetected) {
  const Bytes bytes = make_batch(3);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<BatchView> v = BatchView::parse(ByteSpan(bytes).first(n));
    ASSERT_FALSE(v) << n;
    EXPECT_EQ(v.error(), RecordError::truncated) << n;
  }
  EXPECT_TRUE(BatchView::parse(bytes));
}

TEST(BatchView, UnknownCompressionAndNegativeCount) {
  Bytes bytes = make_batch(1);
  bytes[layout::kAttributes + 1] = 0x05;
  EXPECT_EQ(BatchView::parse(bytes).error(), RecordError::unknown_compression);
  bytes = make_batch(1);
  store_be32(bytes.data() + layout::kRecordsCount, 0xffffffff);
  EXPECT_EQ(BatchView::parse(bytes).error(), RecordError::invalid_record);
}

TEST(BatchSplitter, SplitsConcatenatedBatches) {
  Bytes blob;
  for (int i = 0; i < 3; ++i) {
    const Bytes b = make_batch(i + 1, test::kAllCodecs[i], i * 10);
    blob.insert(blob.end(), b.begin(), b.end());
  }
  BatchSplitter split(blob);
  BatchView batch;
  std::vector<int64_t> offsets;
  while (split.next(batch)) {
    offsets.push_back(batch.header().base_offset);
    EXPECT_EQ(batch.verify_crc(), RecordError::ok);
  }
  EXPECT_EQ(split.error(), RecordError::ok);
  EXPECT_FALSE(split.truncated_tail());
  EXPECT_EQ(split.position(), blob.size());
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 10, 20}));
  size_t count = 0;
  EXPECT_EQ(verify_batches(blob, &count), RecordError::ok);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(verify_batches({}), RecordError::truncated);
}

TEST(BatchSplitter, PartialLastBatchIsAnErrorInProduceAndTheEndInFetch) {
  const Bytes one = make_batch(2), two = make_batch(4);
  Bytes blob = one;
  blob.insert(blob.end(), two.begin(), two.end());
  for (size_t cut = one.size() + 1; cut < blob.size(); ++cut) {
    const ByteSpan partial = ByteSpan(blob).first(cut);
    BatchView batch;
    BatchSplitter produce(partial);
    EXPECT_TRUE(produce.next(batch));
    EXPECT_FALSE(produce.next(batch));
    EXPECT_EQ(produce.error(), RecordError::truncated);
    EXPECT_EQ(kafka_error_code(produce.error()), 2);

    BatchSplitter fetch(partial, BatchSplitter::Tail::allow_partial);
    int n = 0;
    while (fetch.next(batch)) ++n;
    EXPECT_EQ(n, 1);
    EXPECT_EQ(fetch.error(), RecordError::ok);
    EXPECT_TRUE(fetch.truncated_tail());
    EXPECT_EQ(fetch.position(), one.size());
  }
}

TEST(BatchEdits, FieldsOutsideTheCrcNeedNoCrcWork) {
  Bytes bytes = make_batch(3, Compression::gzip);
  const uint32_t crc = load_be32(bytes.data() + layout::kCrc);
  ASSERT_EQ(set_base_offset(bytes, 123456789), RecordError::ok);
  ASSERT_EQ(set_partition_leader_epoch(bytes, 17), RecordError::ok);
  Result<BatchView> v = BatchView::parse(bytes);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header().base_offset, 123456789);
  EXPECT_EQ(v->header().partition_leader_epoch, 17);
  EXPECT_EQ(v->header().crc, crc);
  EXPECT_EQ(v->verify_crc(), RecordError::ok);
  EXPECT_EQ(set_base_offset(MutableByteSpan(bytes).first(bytes.size() - 1), 1), RecordError::truncated);
}

TEST(BatchEdits, LogAppendTimeUpdatesTheCrc) {
  for (Compression codec : test::kAllCodecs) {
    Bytes bytes = make_batch(20, codec);
    ASSERT_EQ(set_max_timestamp(bytes, TimestampType::log_append_time, 1'700'000'123'456), RecordError::ok);
    Result<BatchView> v = BatchView::parse(bytes);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->header().timestamp_type(), TimestampType::log_append_time);
    EXPECT_EQ(v->header().max_timestamp, 1'700'000'123'456);
    EXPECT_EQ(v->header().compression(), codec);
    EXPECT_EQ(v->verify_crc(), RecordError::ok) << compression_name(codec);
    Result<RecordSet> set = RecordSet::open(*v);
    ASSERT_TRUE(set);
    RecordReader reader = set->reader();
    for (RecordView r; reader.next(r);) EXPECT_EQ(r.timestamp(v->header()), 1'700'000'123'456);
    // And back to CreateTime.
    ASSERT_EQ(set_max_timestamp(bytes, TimestampType::create_time, 1019), RecordError::ok);
    EXPECT_EQ(BatchView::parse(bytes)->verify_crc(), RecordError::ok);
    EXPECT_EQ(bytes, make_batch(20, codec));
  }
}

TEST(BatchEdits, CrcUpdateDoesNotLaunderCorruption) {
  Bytes bytes = make_batch(3);
  bytes.back() ^= 0x40;
  ASSERT_EQ(set_max_timestamp(bytes, TimestampType::log_append_time, 5), RecordError::ok);
  EXPECT_EQ(BatchView::parse(bytes)->verify_crc(), RecordError::crc_mismatch);
  ASSERT_EQ(rewrite_crc(bytes), RecordError::ok);
  EXPECT_EQ(BatchView::parse(bytes)->verify_crc(), RecordError::ok);
}

// Written by kafka-python 2.0.2 (DefaultRecordBatchBuilder, gzip, producer id 42, epoch 3, sequence 7): five
// records key<i> / "value-<i> " x 20, timestamps 1700000000000 + i, odd ones with headers trace=abc and n=null.
TEST(BatchView, DecodesGzipBatchFromAnotherImplementation) {
  const Bytes bytes = test::from_hex(
      "0000000000000000000000a60000000002436414670001000000040000018bcfe568000000018bcfe56804000000000000002a00030000"
      "0007000000051f8b08009f6a096b02ffbbc6c4c0c0c0919d5a697080a92c31a73455d74061b0d20c1f98189898408e358439d65061b0d2"
      "2c5c254589c9a96c8949c94c798cd798185858402e3782b9dc4861b0d2a06066630339d618e6586385c14a6304330707c8e52630979b28"
      "0c569a01002d98a0db7b030000");
  Result<BatchView> v = BatchView::parse(bytes);
  ASSERT_TRUE(v);
  EXPECT_EQ(validate_batch(*v), RecordError::ok);
  EXPECT_EQ(v->header().producer_id, 42);
  EXPECT_EQ(v->header().base_sequence, 7);
  Result<RecordSet> set = RecordSet::open(*v);
  ASSERT_TRUE(set);
  RecordReader reader = set->reader();
  int i = 0;
  for (RecordView r; reader.next(r); ++i) {
    EXPECT_EQ(test::string_of(*r.key), "key" + std::to_string(i));
    std::string value;
    for (int k = 0; k < 20; ++k) value += "value-" + std::to_string(i) + " ";
    EXPECT_EQ(test::string_of(*r.value), value);
    EXPECT_EQ(r.timestamp(v->header()), 1'700'000'000'000 + i);
    EXPECT_EQ(r.header_count, i % 2 ? 2 : 0);
    if (i % 2) {
      auto it = r.headers().begin();
      EXPECT_EQ(it->key, "trace");
      EXPECT_EQ(test::string_of(*it->value), "abc");
      ++it;
      EXPECT_EQ(it->key, "n");
      EXPECT_FALSE(it->value.has_value());
    }
  }
  EXPECT_EQ(i, 5);
  EXPECT_EQ(reader.error(), RecordError::ok);
}

}  // namespace
}  // namespace floe::record
