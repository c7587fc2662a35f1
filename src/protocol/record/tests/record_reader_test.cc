#include "protocol/record/record_reader.h"

#include <gtest/gtest.h>

#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

using test::from_hex;
using test::string_of;

// Reads all records of a records section; the error, or ok.
RecordError read_all(const Bytes& records, int32_t count, std::vector<RecordView>* out = nullptr) {
  RecordReader reader(records, count);
  RecordView r;
  while (reader.next(r))
    if (out != nullptr) out->push_back(r);
  return reader.error();
}

TEST(RecordReader, ReadsFieldsAndHeaders) {
  // length 18: attributes 0, timestampDelta 3 (6), offsetDelta 2 (4), empty key (0), value "ab" (4 'a' 'b'),
  // 3 headers (6): "x" -> "1", "" -> null (-1 = 1), "yz" -> "" ; all as views into `records`.
  const Bytes records = from_hex("24" "00" "06" "04" "00" "046162" "06" "0278" "0231" "00" "01" "04797a" "00");
  std::vector<RecordView> got;
  ASSERT_EQ(read_all(records, 1, &got), RecordError::ok);
  ASSERT_EQ(got.size(), 1u);
  const RecordView& r = got[0];
  EXPECT_EQ(r.timestamp_delta, 3);
  EXPECT_EQ(r.offset_delta, 2);
  ASSERT_TRUE(r.key.has_value());
  EXPECT_TRUE(r.key->empty());
  EXPECT_EQ(string_of(*r.value), "ab");
  EXPECT_EQ(r.value->data(), records.data() + 6) << "values are views, not copies";
  EXPECT_EQ(r.bytes.size(), records.size());

  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  for (const Header& h : r.headers())
    headers.emplace_back(std::string(h.key), h.value ? std::optional(string_of(*h.value)) : std::nullopt);
  using H = decltype(headers);
  EXPECT_EQ(headers, (H{{"x", "1"}, {"", std::nullopt}, {"yz", ""}}));
  EXPECT_EQ(r.headers().size(), 3);

  BatchHeader batch;
  batch.base_offset = 100;
  batch.base_timestamp = 5000;
  batch.max_timestamp = 9999;
  EXPECT_EQ(r.offset(batch), 102);
  EXPECT_EQ(r.timestamp(batch), 5003);
  batch.attributes = attr::kTimestampType;
  EXPECT_EQ(r.timestamp(batch), 9999);
}

TEST(RecordReader, AnyNegativeLengthIsNullAsInKafka) {
  // key length -2 (3), value length -1 (1), no headers: Kafka reads both as null.
  const Bytes records = from_hex("0c" "00" "00" "00" "03" "01" "00");
  std::vector<RecordView> got;
  ASSERT_EQ(read_all(records, 1, &got), RecordError::ok);
  EXPECT_FALSE(got[0].key.has_value());
  EXPECT_FALSE(got[0].value.has_value());
}

TEST(RecordReader, CountMustMatchTheBytes) {
  const Bytes one = from_hex("0c" "00" "00" "00" "01" "01" "00");
  Bytes two = one;
  two.insert(two.end(), one.begin(), one.end());
  EXPECT_EQ(read_all(two, 2), RecordError::ok);
  EXPECT_EQ(read_all(two, 1), RecordError::invalid_record);  // bytes left after the declared records
  EXPECT_EQ(read_all(two, 3), RecordError::invalid_record);  // fewer records than declared
  EXPECT_EQ(read_all(two, -1), RecordError::invalid_record);
  EXPECT_EQ(read_all({}, 0), RecordError::ok);
}

TEST(RecordReader, RecordMustUseExactlyItsLength) {
  // Declared length 7 but the fields take 6, then 5.
  EXPECT_EQ(read_all(from_hex("0e" "00" "00" "00" "01" "01" "00" "00"), 1), RecordError::invalid_record);
  EXPECT_EQ(read_all(from_hex("0a" "00" "00" "00" "01" "01" "00"), 1), RecordError::invalid_record);
  // A value running past the record's end (but inside the buffer).
  EXPECT_EQ(read_all(from_hex("0c" "00" "00" "00" "01" "08" "00" "61626364"), 1), RecordError::invalid_record);
}

TEST(RecordReader, RejectsMalformedHeaders) {
  // Negative header count (-1 = 1).
  EXPECT_EQ(read_all(from_hex("0c" "00" "00" "00" "01" "01" "01"), 1), RecordError::invalid_record);
  // Null header key (-1).
  EXPECT_EQ(read_all(from_hex("10" "00" "00" "00" "01" "01" "02" "01" "01"), 1), RecordError::invalid_record);
  // Header count 1 but no header bytes.
  EXPECT_EQ(read_all(from_hex("0c" "00" "00" "00" "01" "01" "02"), 1), RecordError::invalid_record);
}

TEST(RecordReader, ReadRecordConsumesOneRecord) {
  Bytes two = from_hex("0c" "00" "00" "00" "01" "01" "00" "0c" "00" "00" "02" "01" "01" "00");
  ByteSpan rest = two;
  RecordView r;
  ASSERT_EQ(read_record(rest, r), RecordError::ok);
  EXPECT_EQ(rest.size(), 7u);
  ASSERT_EQ(read_record(rest, r), RecordError::ok);
  EXPECT_EQ(r.offset_delta, 1);
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(read_record(rest, r), RecordError::invalid_record);
}

}  // namespace
}  // namespace floe::record
