#include "protocol/record/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/record/tests/test_util.h"

namespace floe::record {
namespace {

class CodecTest : public ::testing::TestWithParam<Compression> {};

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::ValuesIn(test::kAllCodecs),
                         [](const auto& info) { return std::string(compression_name(info.param)); });

// The codecs that really compress (not Compression::none).
class CompressingCodecTest : public CodecTest {};

INSTANTIATE_TEST_SUITE_P(RealCodecs, CompressingCodecTest,
                         ::testing::Values(Compression::gzip, Compression::snappy, Compression::lz4, Compression::zstd),
                         [](const auto& info) { return std::string(compression_name(info.param)); });

TEST_P(CodecTest, RoundTripsManySizes) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{32 << 10}, size_t{(32 << 10) + 1}, size_t{300'000}}) {
    for (const Bytes& input : {test::text_bytes(n, n), test::random_bytes(n, n)}) {
      Bytes packed;
      ASSERT_EQ(compress(GetParam(), input, packed), RecordError::ok) << n;
      Bytes unpacked;
      ASSERT_EQ(decompress(GetParam(), packed, unpacked, input.size()), RecordError::ok) << n;
      EXPECT_EQ(unpacked, input) << n;
    }
  }
}

TEST_P(CodecTest, AppendsToExistingOutput) {
  const Bytes input = test::text_bytes(5000, 1);
  Bytes packed = {9, 9};
  ASSERT_EQ(compress(GetParam(), input, packed), RecordError::ok);
  ASSERT_EQ(packed[0], 9);
  Bytes unpacked = {7};
  ASSERT_EQ(decompress(GetParam(), ByteSpan(packed).subspan(2), unpacked), RecordError::ok);
  ASSERT_EQ(unpacked.size(), input.size() + 1);
  EXPECT_EQ(unpacked[0], 7);
  EXPECT_TRUE(std::equal(input.begin(), input.end(), unpacked.begin() + 1));
}

TEST_P(CompressingCodecTest, CompressesText) {
  const Bytes input = test::text_bytes(100'000, 2);
  Bytes packed;
  ASSERT_EQ(compress(GetParam(), input, packed), RecordError::ok);
  EXPECT_LT(packed.size(), input.size() / 2);
}

// A payload that inflates past the bound fails cleanly and leaves the output as it was.
TEST_P(CodecTest, BoundsDecompressedSize) {
  const Bytes zeros(10 << 20, 0);
  Bytes packed;
  ASSERT_EQ(compress(GetParam(), zeros, packed), RecordError::ok);
  Bytes out = {1, 2, 3};
  EXPECT_EQ(decompress(GetParam(), packed, out, 1 << 20), RecordError::decompressed_too_large);
  EXPECT_EQ(out, (Bytes{1, 2, 3}));
  EXPECT_LE(out.capacity(), size_t{4} << 20) << "the bound must also bound allocation";
  EXPECT_EQ(decompress(GetParam(), packed, out, zeros.size() - 1), RecordError::decompressed_too_large);
  out.clear();
  EXPECT_EQ(decompress(GetParam(), packed, out, zeros.size()), RecordError::ok);
  EXPECT_EQ(out.size(), zeros.size());
}

TEST_P(CompressingCodecTest, TruncatedInputFails) {
  const Bytes input = test::text_bytes(200'000, 3);
  Bytes packed;
  ASSERT_EQ(compress(GetParam(), input, packed), RecordError::ok);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{5}, packed.size() / 3, packed.size() / 2, packed.size() - 1}) {
    Bytes out;
    const RecordError e = decompress(GetParam(), ByteSpan(packed).first(cut), out);
    EXPECT_EQ(e, RecordError::decompress_failed) << "cut at " << cut;
    EXPECT_TRUE(out.empty());
  }
}

TEST_P(CodecTest, CorruptInputNeverCrashes) {
  const Bytes input = test::text_bytes(50'000, 4);
  Bytes packed;
  ASSERT_EQ(compress(GetParam(), input, packed), RecordError::ok);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 300; ++i) {
    Bytes bad = packed;
    for (int flips = 0; flips < 1 + i % 4; ++flips) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    Bytes out;
    const RecordError e = decompress(GetParam(), bad, out, 1 << 20);
    if (e != RecordError::ok) {
      EXPECT_TRUE(out.empty());
    }
    EXPECT_LE(out.size(), size_t{1} << 20);
  }
}

TEST(Compression, UnknownCodec) {
  Bytes out;
  EXPECT_EQ(compress(static_cast<Compression>(5), test::bytes_of("x"), out), RecordError::unknown_compression);
  EXPECT_EQ(decompress(static_cast<Compression>(7), test::bytes_of("x"), out), RecordError::unknown_compression);
}

TEST(Compression, FormatsAreTheStandardOnes) {
  const Bytes input = test::text_bytes(1000, 6);
  Bytes gz, lz, zs, sn;
  ASSERT_EQ(compress(Compression::gzip, input, gz), RecordError::ok);
  ASSERT_EQ(compress(Compression::lz4, input, lz), RecordError::ok);
  ASSERT_EQ(compress(Compression::zstd, input, zs), RecordError::ok);
  ASSERT_EQ(compress(Compression::snappy, input, sn), RecordError::ok);
  EXPECT_EQ(Bytes(gz.begin(), gz.begin() + 2), (Bytes{0x1f, 0x8b}));
  EXPECT_EQ(Bytes(lz.begin(), lz.begin() + 4), (Bytes{0x04, 0x22, 0x4d, 0x18}));
  EXPECT_EQ(Bytes(zs.begin(), zs.begin() + 4), (Bytes{0x28, 0xb5, 0x2f, 0xfd}));
  // xerial: magic, version 1, compatible version 1, then [int32 length][block].
  EXPECT_EQ(Bytes(sn.begin(), sn.begin() + 16), test::from_hex("82534e41505059000000000100000001"));
  EXPECT_EQ(load_be32(sn.data() + 16), sn.size() - 20);
}

TEST(Compression, SnappyRawAndXerialBothDecode) {
  const Bytes input = test::text_bytes(100'000, 7);  // several xerial blocks
  Bytes framed, raw;
  ASSERT_EQ(compress(Compression::snappy, input, framed), RecordError::ok);
  ASSERT_EQ(compress(Compression::snappy, input, raw, {.snappy_xerial = false}), RecordError::ok);
  EXPECT_NE(framed, raw);
  for (const Bytes& packed : {framed, raw}) {
    Bytes out;
    ASSERT_EQ(decompress(Compression::snappy, packed, out), RecordError::ok);
    EXPECT_EQ(out, input);
  }
  // A xerial stream holding only its header is an empty payload; a cut block length is an error.
  Bytes out;
  EXPECT_EQ(decompress(Compression::snappy, ByteSpan(framed).first(16), out), RecordError::ok);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(decompress(Compression::snappy, ByteSpan(framed).first(18), out), RecordError::decompress_failed);
  EXPECT_EQ(decompress(Compression::snappy, ByteSpan(framed).first(12), out), RecordError::decompress_failed);
}

TEST(Compression, ConcatenatedGzipMembersAndZstdFrames) {
  const Bytes a = test::text_bytes(3000, 8), b = test::text_bytes(5000, 9);
  Bytes both = a;
  both.insert(both.end(), b.begin(), b.end());
  for (Compression codec : {Compression::gzip, Compression::zstd, Compression::lz4}) {
    Bytes packed;
    ASSERT_EQ(compress(codec, a, packed), RecordError::ok);
    ASSERT_EQ(compress(codec, b, packed), RecordError::ok);
    Bytes out;
    ASSERT_EQ(decompress(codec, packed, out), RecordError::ok) << compression_name(codec);
    EXPECT_EQ(out, both);
    packed.push_back(0);  // trailing garbage is not a stream
    out.clear();
    EXPECT_EQ(decompress(codec, packed, out), RecordError::decompress_failed) << compression_name(codec);
  }
}

// Streaming zstd writers (librdkafka, zstd-jni streams) do not declare the content size.
TEST(Compression, ZstdFrameWithoutContentSize) {
  const Bytes input = test::text_bytes(300'000, 10);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  Bytes packed(ZSTD_compressBound(input.size()) + 64);
  ZSTD_outBuffer output{packed.data(), packed.size(), 0};
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(cctx, &output, &in, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cctx);
  packed.resize(output.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(packed.data(), packed.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Bytes out;
  ASSERT_EQ(decompress(Compression::zstd, packed, out), RecordError::ok);
  EXPECT_EQ(out, input);
  out.clear();
  EXPECT_EQ(decompress(Compression::zstd, packed, out, 1000), RecordError::decompressed_too_large);
}

TEST(Compression, ZstdDeclaredSizeAboveBoundFailsEarly) {
  const Bytes input(2 << 20, 'a');
  Bytes packed;
  ASSERT_EQ(compress(Compression::zstd, input, packed), RecordError::ok);
  Bytes out;
  EXPECT_EQ(decompress(Compression::zstd, packed, out, 1 << 20), RecordError::decompressed_too_large);
  EXPECT_EQ(out.capacity(), 0u);
}

TEST(Compression, GzipFromZlibDirectly) {
  // An independent writer: zlib's compress with a gzip wrapper through deflateInit2, as other clients do.
  const Bytes input = test::text_bytes(20'000, 11);
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_FILTERED), Z_OK);
  Bytes packed(deflateBound(&zs, input.size()));
  zs.next_in = const_cast<Bytef*>(input.data());
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = packed.data();
  zs.avail_out = static_cast<uInt>(packed.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  packed.resize(zs.total_out);
  deflateEnd(&zs);
  Bytes out;
  ASSERT_EQ(decompress(Compression::gzip, packed, out), RecordError::ok);
  EXPECT_EQ(out, input);
}

TEST(Compression, LevelsAreHonouredAndClamped) {
  const Bytes input = test::text_bytes(200'000, 12);
  for (Compression codec : {Compression::gzip, Compression::lz4, Compression::zstd}) {
    for (int level : {-100, 1, 9, 100}) {
      Bytes packed, out;
      ASSERT_EQ(compress(codec, input, packed, {.level = level}), RecordError::ok) << compression_name(codec) << level;
      ASSERT_EQ(decompress(codec, packed, out), RecordError::ok);
      EXPECT_EQ(out, input);
    }
  }
}

}  // namespace
}  // namespace floe::record
