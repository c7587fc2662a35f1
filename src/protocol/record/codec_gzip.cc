// gzip through zlib (deflate with the gzip wrapper, windowBits 15 + 16).
#include <zlib.h>

#include <climits>

#include "protocol/record/codecs.h"

namespace floe::record::detail {

namespace {
constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer
}

RecordError gzip_compress(ByteSpan in, Bytes& out, std::optional<int> level) {
  if (in.size() > UINT_MAX) return RecordError::too_large;
  const int lvl = level ? std::clamp(*level, 0, 9) : Z_DEFAULT_COMPRESSION;
  z_stream zs{};
  if (deflateInit2(&zs, lvl, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return RecordError::compress_failed;
  const size_t base = out.size();
  const size_t bound = deflateBound(&zs, static_cast<uLong>(in.size()));
  out.resize(base + bound);
  zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct; it does not write the input
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data() + base;
  zs.avail_out = static_cast<uInt>(std::min<size_t>(bound, UINT_MAX));
  const int rc = deflate(&zs, Z_FINISH);
  const size_t produced = bound - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    out.resize(base);
    return RecordError::compress_failed;
  }
  out.resize(base + produced);
  return RecordError::ok;
}

RecordError gzip_decompress(ByteSpan in, Bytes& out, size_t max_out) {
  if (in.size() > UINT_MAX) return RecordError::decompress_failed;
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return RecordError::decompress_failed;
  OutputWindow window(out, max_out, first_guess(in.size(), max_out));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  RecordError result = RecordError::ok;
  for (;;) {
    std::span<uint8_t> room = window.room();
    if (room.empty()) {
      result = RecordError::decompressed_too_large;
      break;
    }
    zs.next_out = room.data();
    zs.avail_out = static_cast<uInt>(std::min<size_t>(room.size(), UINT_MAX));
    const uInt offered = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    window.commit(offered - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another gzip member follows (concatenated members are one valid gzip stream).
      if (inflateReset(&zs) != Z_OK) {
        result = RecordError::decompress_failed;
        break;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    // Z_BUF_ERROR with room left means the input ended inside the stream; anything else is corrupt data.
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;
    result = RecordError::decompress_failed;
    break;
  }
  inflateEnd(&zs);
  if (result == RecordError::ok && window.over_limit()) result = RecordError::decompressed_too_large;
  return window.finish(result);
}

}  // namespace floe::record::detail
