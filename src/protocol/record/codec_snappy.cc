// snappy: xerial framing (Java clients) and raw blocks.
#include <snappy.h>

#include <cstring>
#include <optional>

#include "protocol/record/codecs.h"

namespace floe::record::detail {

namespace {

constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;  // magic, int32 version, int32 compatible version
constexpr uint32_t kXerialVersion = 1;
constexpr size_t kXerialBlockInput = 32 << 10;  // the Java writer's default block size

// Uncompressed length of one raw snappy block, from its varint preamble; nullopt when unreadable.
std::optional<size_t> block_length(ByteSpan block) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(block.data()), block.size(), &length))
    return std::nullopt;
  return length;
}

// Splits a xerial stream into its blocks (after checking the framing); false when the framing is broken.
template <typename OnBlock>
bool for_each_xerial_block(ByteSpan in, OnBlock&& on_block) {
  if (in.size() < kXerialHeaderSize) return false;
  // Versions are not checked: every xerial version so far uses this block layout.
  for (size_t pos = kXerialHeaderSize; pos < in.size();) {
    if (in.size() - pos < 4) return false;
    const uint32_t length = load_be32(in.data() + pos);
    pos += 4;
    if (length > in.size() - pos) return false;
    if (!on_block(in.subspan(pos, length))) return false;
    pos += length;
  }
  return true;
}

}  // namespace

RecordError snappy_compress(ByteSpan in, Bytes& out, bool xerial) {
  const char* src = reinterpret_cast<const char*>(in.data());
  if (!xerial) {
    const size_t at = out.size();
    out.resize(at + snappy::MaxCompressedLength(in.size()));
    size_t n = 0;
    snappy::RawCompress(src, in.size(), reinterpret_cast<char*>(out.data() + at), &n);
    out.resize(at + n);
    return RecordError::ok;
  }
  const size_t blocks = in.size() / kXerialBlockInput + 1;
  out.reserve(out.size() + kXerialHeaderSize + blocks * 4 + snappy::MaxCompressedLength(kXerialBlockInput) * blocks);
  size_t at = out.size();
  out.resize(at + kXerialHeaderSize);
  std::memcpy(out.data() + at, kXerialMagic, sizeof kXerialMagic);
  store_be32(out.data() + at + 8, kXerialVersion);
  store_be32(out.data() + at + 12, kXerialVersion);
  for (size_t done = 0; done < in.size();) {
    const size_t chunk = std::min(kXerialBlockInput, in.size() - done);
    at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(chunk));
    size_t n = 0;
    snappy::RawCompress(src + done, chunk, reinterpret_cast<char*>(out.data() + at + 4), &n);
    store_be32(out.data() + at, static_cast<uint32_t>(n));
    out.resize(at + 4 + n);
    done += chunk;
  }
  return RecordError::ok;
}

RecordError snappy_decompress(ByteSpan in, Bytes& out, size_t max_out) {
  const bool framed =
      in.size() >= sizeof kXerialMagic && std::memcmp(in.data(), kXerialMagic, sizeof kXerialMagic) == 0;
  // First pass: check the framing and add up the declared lengths, so that the output is sized once and the bound
  // is enforced before anything is allocated.
  size_t total = 0;
  bool too_large = false;
  auto measure = [&](ByteSpan block) {
    std::optional<size_t> length = block_length(block);
    if (!length) return false;
    if (*length > max_out - total) too_large = true;
    total = too_large ? total : total + *length;
    return !too_large;
  };
  const bool readable = framed ? for_each_xerial_block(in, measure) : measure(in);
  if (too_large) return RecordError::decompressed_too_large;
  if (!readable) return RecordError::decompress_failed;

  const size_t base = out.size();
  out.resize(base + total);
  size_t at = base;
  auto expand = [&](ByteSpan block) {
    // RawUncompress validates the whole block and writes exactly its declared length, no more.
    if (!snappy::RawUncompress(reinterpret_cast<const char*>(block.data()), block.size(),
                               reinterpret_cast<char*>(out.data() + at)))
      return false;
    at += *block_length(block);
    return true;
  };
  if (!(framed ? for_each_xerial_block(in, expand) : expand(in))) {
    out.resize(base);
    return RecordError::decompress_failed;
  }
  return RecordError::ok;
}

}  // namespace floe::record::detail
