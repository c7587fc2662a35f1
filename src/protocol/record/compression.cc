#include "protocol/record/compression.h"

#include "protocol/record/codecs.h"

namespace floe::record {

RecordError compress(Compression codec, ByteSpan in, Bytes& out, const CompressOptions& options) {
  switch (codec) {
    case Compression::none:
      out.insert(out.end(), in.begin(), in.end());
      return RecordError::ok;
    case Compression::gzip: return detail::gzip_compress(in, out, options.level);
    case Compression::snappy: return detail::snappy_compress(in, out, options.snappy_xerial);
    case Compression::lz4: return detail::lz4_compress(in, out, options.level);
    case Compression::zstd: return detail::zstd_compress(in, out, options.level);
  }
  return RecordError::unknown_compression;
}

RecordError decompress(Compression codec, ByteSpan in, Bytes& out, size_t max_out) {
  switch (codec) {
    case Compression::none:
      if (in.size() > max_out) return RecordError::decompressed_too_large;
      out.insert(out.end(), in.begin(), in.end());
      return RecordError::ok;
    case Compression::gzip: return detail::gzip_decompress(in, out, max_out);
    case Compression::snappy: return detail::snappy_decompress(in, out, max_out);
    case Compression::lz4: return detail::lz4_decompress(in, out, max_out);
    case Compression::zstd: return detail::zstd_decompress(in, out, max_out);
  }
  return RecordError::unknown_compression;
}

}  // namespace floe::record
