#include "protocol/record/batch_builder.h"

#include <gtest/gtest.h>

#include "protocol/record/batch_view.h"
#include "protocol/record/crc32c.h"
#include "protocol/record/record_set.h"
#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

using test::bytes_of;
using test::string_of;

// Expected bytes written out by hand from the v2 layout (batch_header.h); the CRC comes from a bit-at-a-time
// reference CRC-32C over bytes 21..81. kafka-python 2.0.2's DefaultRecordBatchBuilder writes the same 82 bytes.
TEST(BatchBuilder, EncodesSmallBatchByteExact) {
  const Header headers[] = {{"h", bytes_of("x")}};
  BatchBuilder b({.partition_leader_epoch = 0});
  ASSERT_EQ(b.add({.key = bytes_of("k"), .value = bytes_of("v1"), .timestamp = 1000, .headers = headers}),
            RecordError::ok);
  ASSERT_EQ(b.add({.key = std::nullopt, .value = bytes_of(""), .timestamp = 995}), RecordError::ok);
  Result<Bytes> batch = b.build();
  ASSERT_TRUE(batch);

  const Bytes expected = test::from_hex(
      "0000000000000000"   // baseOffset 0
      "00000046"           // batchLength 70 = 82 - 12
      "00000000"           // partitionLeaderEpoch 0
      "02"                 // magic 2
      "3bdc9aeb"           // crc
      "0000"               // attributes: no compression, CreateTime, not transactional, not control
      "00000001"           // lastOffsetDelta 1
      "00000000000003e8"   // baseTimestamp 1000 (the first record's)
      "00000000000003e8"   // maxTimestamp 1000
      "ffffffffffffffff"   // producerId -1
      "ffff"               // producerEpoch -1
      "ffffffff"           // baseSequence -1
      "00000002"           // 2 records
      // record 0: length 13 (zig-zag 26), attributes 0, timestampDelta 0, offsetDelta 0,
      // key length 1 (2) "k", value length 2 (4) "v1", 1 header (2): key length 1 (2) "h", value length 1 (2) "x"
      "1a" "00" "00" "00" "026b" "047631" "02" "0268" "0278"
      // record 1: length 6 (12), attributes 0, timestampDelta -5 (9), offsetDelta 1 (2), null key (-1 -> 1),
      // empty value (0), no headers
      "0c" "00" "09" "02" "01" "00" "00");
  EXPECT_EQ(*batch, expected);
  EXPECT_EQ(crc32c(ByteSpan(expected).subspan(21)), 0x3bdc9aebu);
}

struct Sample {
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::vector<Sample> samples(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Sample> out;
  for (size_t i = 0; i < n; ++i) {
    Sample s;
    if (rng() % 5) s.key = "key-" + std::to_string(rng() % 1000);
    if (rng() % 7) s.value = test::string_of(test::text_bytes(rng() % 3000, rng()));
    s.timestamp = 1'700'000'000'000 + static_cast<int64_t>(rng() % 10'000) - 5'000;  // not in order
    for (size_t h = rng() % 4; h > 0; --h)
      s.headers.emplace_back("hdr" + std::to_string(h), rng() % 3 ? std::optional<std::string>("v" + std::to_string(h))
                                                                  : std::nullopt);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<ByteSpan> view(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return bytes_of(*s);
}

Bytes build(const std::vector<Sample>& in, const BatchOptions& options) {
  BatchBuilder b(options);
  for (const Sample& s : in) {
    std::vector<Header> headers;
    for (const auto& [k, v] : s.headers) headers.push_back({k, view(v)});
    EXPECT_EQ(b.add({.key = view(s.key), .value = view(s.value), .timestamp = s.timestamp, .headers = headers}),
              RecordError::ok);
  }
  Bytes out;
  EXPECT_EQ(b.build(out), RecordError::ok);
  return out;
}

class BuilderCodecTest : public ::testing::TestWithParam<Compression> {};

INSTANTIATE_TEST_SUITE_P(AllCodecs, BuilderCodecTest, ::testing::ValuesIn(test::kAllCodecs),
                         [](const auto& info) { return std::string(compression_name(info.param)); });

TEST_P(BuilderCodecTest, RoundTripsRecordsAndHeaders) {
  const std::vector<Sample> in = samples(300, 1);
  const Bytes bytes = build(in, {.compression = GetParam(), .base_offset = 1000, .partition_leader_epoch = 7,
                                 .producer_id = 42, .producer_epoch = 3, .base_sequence = 100});
  Result<BatchView> batch = BatchView::parse(bytes);
  ASSERT_TRUE(batch);
  const BatchHeader& h = batch->header();
  EXPECT_EQ(h.compression(), GetParam());
  EXPECT_EQ(h.base_offset, 1000);
  EXPECT_EQ(h.partition_leader_epoch, 7);
  EXPECT_EQ(h.producer_id, 42);
  EXPECT_EQ(h.producer_epoch, 3);
  EXPECT_EQ(h.base_sequence, 100);
  EXPECT_EQ(h.records_count, 300);
  EXPECT_EQ(h.last_offset_delta, 299);
  EXPECT_EQ(h.base_timestamp, in[0].timestamp);
  int64_t max_ts = in[0].timestamp;
  for (const Sample& s : in) max_ts = std::max(max_ts, s.timestamp);
  EXPECT_EQ(h.max_timestamp, max_ts);
  EXPECT_EQ(h.total_size(), bytes.size());
  EXPECT_EQ(validate_batch(*batch), RecordError::ok);

  Result<RecordSet> set = RecordSet::open(*batch);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->decompressed(), GetParam() != Compression::none);
  RecordReader reader = set->reader();
  RecordView r;
  size_t i = 0;
  for (; reader.next(r); ++i) {
    ASSERT_LT(i, in.size());
    const Sample& s = in[i];
    EXPECT_EQ(r.offset(h), 1000 + static_cast<int64_t>(i));
    EXPECT_EQ(r.timestamp(h), s.timestamp);
    ASSERT_EQ(r.key.has_value(), s.key.has_value());
    if (s.key) {
      EXPECT_EQ(string_of(*r.key), *s.key);
    }
    ASSERT_EQ(r.value.has_value(), s.value.has_value());
    if (s.value) {
      EXPECT_EQ(string_of(*r.value), *s.value);
    }
    ASSERT_EQ(r.header_count, static_cast<int32_t>(s.headers.size()));
    size_t j = 0;
    for (const Header& hd : r.headers()) {
      ASSERT_LT(j, s.headers.size());
      EXPECT_EQ(hd.key, s.headers[j].first);
      ASSERT_EQ(hd.value.has_value(), s.headers[j].second.has_value());
      if (hd.value) {
        EXPECT_EQ(string_of(*hd.value), *s.headers[j].second);
      }
      ++j;
    }
    EXPECT_EQ(j, s.headers.size());
  }
  EXPECT_EQ(reader.error(), RecordError::ok);
  EXPECT_EQ(i, in.size());
}

TEST(BatchBuilder, FlagsAndLevels) {
  const std::vector<Sample> in = samples(10, 2);
  const Bytes bytes = build(in, {.compression = Compression::zstd, .compress_options = {.level = 19},
                                 .transactional = true, .control = true,
                                 .timestamp_type = TimestampType::log_append_time});
  Result<BatchView> batch = BatchView::parse(bytes);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->header().is_transactional());
  EXPECT_TRUE(batch->header().is_control());
  EXPECT_EQ(batch->header().timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(batch->header().attributes, 4 | 8 | 16 | 32);
  EXPECT_EQ(batch->verify_crc(), RecordError::ok);
}

TEST(BatchBuilder, OffsetGapsForCompactedBatches) {
  BatchBuilder b;
  ASSERT_EQ(b.add_at(0, {.value = bytes_of("a")}), RecordError::ok);
  ASSERT_EQ(b.add_at(5, {.value = bytes_of("b")}), RecordError::ok);
  EXPECT_EQ(b.add_at(5, {.value = bytes_of("c")}), RecordError::invalid_record);
  ASSERT_EQ(b.add({.value = bytes_of("d")}), RecordError::ok);  // delta 6
  Result<Bytes> bytes = b.build();
  ASSERT_TRUE(bytes);
  Result<BatchView> batch = BatchView::parse(*bytes);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->header().last_offset_delta, 6);
  EXPECT_EQ(batch->header().records_count, 3);
  EXPECT_EQ(validate_batch(*batch), RecordError::invalid_record);  // a producer may not send gaps
  EXPECT_EQ(validate_batch(*batch, {.contiguous_offsets = false}), RecordError::ok);
}

TEST(BatchBuilder, EmptyBatchIsRefusedAndBuildIsRepeatable) {
  BatchBuilder b;
  Bytes out = {1};
  EXPECT_EQ(b.build(out), RecordError::invalid_record);
  EXPECT_EQ(out, Bytes{1});
  ASSERT_EQ(b.add({.value = bytes_of("v"), .timestamp = 5}), RecordError::ok);
  Result<Bytes> first = b.build(), second = b.build();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
  b.clear();
  EXPECT_EQ(b.count(), 0);
  EXPECT_EQ(b.records_size(), 0u);
  EXPECT_FALSE(b.build());
}

TEST(BatchBuilder, ExtremeTimestampsRoundTrip) {
  BatchBuilder b;
  ASSERT_EQ(b.add({.timestamp = INT64_MAX}), RecordError::ok);
  ASSERT_EQ(b.add({.timestamp = INT64_MIN}), RecordError::ok);
  ASSERT_EQ(b.add({.timestamp = -1}), RecordError::ok);
  Result<Bytes> bytes = b.build();
  ASSERT_TRUE(bytes);
  Result<BatchView> batch = BatchView::parse(*bytes);
  ASSERT_TRUE(batch);
  Result<RecordSet> set = RecordSet::open(*batch);
  ASSERT_TRUE(set);
  RecordReader reader = set->reader();
  RecordView r;
  std::vector<int64_t> seen;
  while (reader.next(r)) seen.push_back(r.timestamp(batch->header()));
  EXPECT_EQ(seen, (std::vector<int64_t>{INT64_MAX, INT64_MIN, -1}));
  EXPECT_EQ(batch->header().max_timestamp, INT64_MAX);
}

TEST(BatchBuilder, EncodedRecordSizeMatchesOutput) {
  const Header headers[] = {{"key", bytes_of("value")}, {"n", std::nullopt}};
  const std::string value(300, 'v');
  const NewRecord record{.key = bytes_of("k"), .value = bytes_of(value), .timestamp = 9,
                         .headers = headers};
  BatchBuilder b;
  ASSERT_EQ(b.add(record), RecordError::ok);
  EXPECT_EQ(encoded_record_size(0, 0, record), b.records_size());
}

}  // namespace
}  // namespace floe::record
