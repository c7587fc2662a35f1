#include "protocol/wire.h"

#include <gtest/gtest.h>

#include <limits>

namespace floe::proto {
namespace {

Bytes encode(auto&& fn) {
  Bytes out;
  Writer w(out);
  fn(w);
  return out;
}

TEST(Wire, FixedWidthIsBigEndian) {
  auto b = encode([](Writer& w) {
    w.i16(0x0102);
    w.i32(0x03040506);
    w.i64(-2);
  });
  EXPECT_EQ(b, (Bytes{1, 2, 3, 4, 5, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  Reader r(b);
  EXPECT_EQ(r.i16(), 0x0102);
  EXPECT_EQ(r.i32(), 0x03040506);
  EXPECT_EQ(r.i64(), -2);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(Wire, VarintsMatchKafkaExamples) {
  // Zig-zag: 0 -> 0, -1 -> 1, 1 -> 2, -64 -> 127, 64 -> 128 (two bytes).
  EXPECT_EQ(encode([](Writer& w) { w.varint(0); }), (Bytes{0x00}));
  EXPECT_EQ(encode([](Writer& w) { w.varint(-1); }), (Bytes{0x01}));
  EXPECT_EQ(encode([](Writer& w) { w.varint(1); }), (Bytes{0x02}));
  EXPECT_EQ(encode([](Writer& w) { w.varint(-64); }), (Bytes{0x7f}));
  EXPECT_EQ(encode([](Writer& w) { w.varint(64); }), (Bytes{0x80, 0x01}));
  EXPECT_EQ(encode([](Writer& w) { w.uvarint(300); }), (Bytes{0xac, 0x02}));
  for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max(), int64_t{1} << 40}) {
    auto b = encode([&](Writer& w) { w.varlong(v); });
    Reader r(b);
    EXPECT_EQ(r.varlong(), v);
    EXPECT_TRUE(r.at_end());
  }
  for (int32_t v : {0, -1, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}) {
    auto b = encode([&](Writer& w) { w.varint(v); });
    Reader r(b);
    EXPECT_EQ(r.varint(), v);
    EXPECT_TRUE(r.ok());
  }
}

TEST(Wire, OverlongVarintFails) {
  Bytes six{0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  Reader r(six);
  r.uvarint();
  EXPECT_FALSE(r.ok());
  Bytes too_big{0xff, 0xff, 0xff, 0xff, 0x7f};  // 35 bits
  Reader r2(too_big);
  r2.uvarint();
  EXPECT_FALSE(r2.ok());
}

TEST(Wire, StringsClassicAndCompact) {
  auto classic = encode([](Writer& w) {
    w.string("ab", false);
    w.nullable_string(std::nullopt, false);
  });
  EXPECT_EQ(classic, (Bytes{0, 2, 'a', 'b', 0xff, 0xff}));
  auto compact = encode([](Writer& w) {
    w.string("ab", true);
    w.nullable_string(std::nullopt, true);
  });
  EXPECT_EQ(compact, (Bytes{3, 'a', 'b', 0}));
  Reader r(compact);
  EXPECT_EQ(r.string(true), "ab");
  EXPECT_EQ(r.nullable_string(true), std::nullopt);
  EXPECT_TRUE(r.ok());
}

TEST(Wire, LengthsPastTheEndFailWithoutReading) {
  Bytes b{0x7f, 0xff, 'x'};  // string of 32767 bytes, 1 present
  Reader r(b);
  EXPECT_EQ(r.string(false), "");
  EXPECT_FALSE(r.ok());
  Bytes arr{0x7f, 0xff, 0xff, 0xff};  // array of 2^31-1 elements, nothing present
  Reader r2(arr);
  EXPECT_EQ(r2.array_length(false, 4), -1);
  EXPECT_FALSE(r2.ok());
  Bytes neg{0xff, 0xfe};  // -2 is not a valid string length
  Reader r3(neg);
  r3.nullable_string(false);
  EXPECT_FALSE(r3.ok());
}

TEST(Wire, TaggedFieldsKeepUnknownAndSortOnWrite) {
  std::vector<UnknownTag> tags{{7, {1, 2}}, {3, {}}};
  auto b = encode([&](Writer& w) { write_tagged_fields(w, tags); });
  EXPECT_EQ(b, (Bytes{2, 3, 0, 7, 2, 1, 2}));
  Reader r(b);
  UnknownTags unknown;
  read_tagged_fields(r, unknown, [](uint32_t tag, Reader& sub) { return false; });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].tag, 3u);
  EXPECT_EQ(unknown[1].data, (Bytes{1, 2}));
}

TEST(Wire, TaggedFieldMustConsumeExactlyItsBytes) {
  Bytes b{1, 0, 2, 0xaa, 0xbb};
  Reader r(b);
  UnknownTags unknown;
  read_tagged_fields(r, unknown, [](uint32_t, Reader& sub) {
    sub.i8();  // reads 1 of 2 bytes
    return true;
  });
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace floe::proto
