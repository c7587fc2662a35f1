#include "protocol/record/crc32c.h"

#include <gtest/gtest.h>

#include <numeric>

#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

using test::bytes_of;

// Expected values are the published CRC-32C check value and the iSCSI vectors of RFC 3720, B.4.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(bytes_of("")), 0u);
  Bytes zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  std::iota(up.begin(), up.end(), uint8_t{0});
  for (size_t i = 0; i < 32; ++i) down[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(crc32c_software(bytes_of("123456789").data(), 9), 0xE3069283u);
}

TEST(Crc32c, HardwareMatchesSoftwareOnRandomLengthsAndAlignments) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  const Bytes data = test::random_bytes(200'000, 1);
  std::mt19937_64 rng(2);
  // Lengths around the block sizes of the three-stream path, then random ones.
  std::vector<size_t> lengths = {0, 1, 7, 8, 9, 767, 768, 769, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 768,
                                 100'000, 199'000};
  for (int i = 0; i < 300; ++i) lengths.push_back(rng() % 199'000);
  for (size_t length : lengths) {
    for (size_t align : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{13}}) {
      const uint8_t* p = data.data() + align;
      const uint32_t start = static_cast<uint32_t>(rng());
      ASSERT_EQ(crc32c_hardware(p, length, start), crc32c_software(p, length, start))
          << "length " << length << " align " << align;
    }
  }
}

TEST(Crc32c, DispatchMatchesSoftware) {
  const Bytes data = test::random_bytes(1 << 20, 3);
  EXPECT_EQ(crc32c(data), crc32c_software(data.data(), data.size()));
}

TEST(Crc32c, IncrementalUpdateEqualsOneShot) {
  const Bytes data = test::random_bytes(100'000, 4);
  const uint32_t whole = crc32c(data);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100; ++i) {
    const size_t cut = rng() % data.size();
    const uint32_t first = crc32c(data.data(), cut);
    EXPECT_EQ(crc32c(data.data() + cut, data.size() - cut, first), whole) << "cut at " << cut;
    EXPECT_EQ(crc32c_software(data.data() + cut, data.size() - cut, crc32c_software(data.data(), cut)), whole);
  }
  // Byte by byte.
  uint32_t crc = 0;
  for (size_t i = 0; i < 1000; ++i) crc = crc32c(&data[i], 1, crc);
  EXPECT_EQ(crc, crc32c(data.data(), 1000));
}

TEST(Crc32c, Combine) {
  const Bytes data = test::random_bytes(50'000, 6);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{4096}, size_t{33'333}, data.size()}) {
    const uint32_t a = crc32c(data.data(), cut);
    const uint32_t b = crc32c(data.data() + cut, data.size() - cut);
    EXPECT_EQ(crc32c_combine(a, b, data.size() - cut), crc32c(data)) << "cut at " << cut;
  }
}

TEST(Crc32c, DetectsSingleBitFlips) {
  Bytes data = test::random_bytes(4096, 7);
  const uint32_t good = crc32c(data);
  for (size_t bit = 0; bit < data.size() * 8; bit += 97) {
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(crc32c(data), good);
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace floe::record
