// Compression codecs of record batch v2, both ways: gzip (zlib, gzip format), snappy (xerial framing or raw),
// lz4 (frame format) and zstd, all from the system libraries.
//
// Decompression is always bounded: the caller passes the most bytes it accepts, and a payload that would inflate
// past it fails with decompressed_too_large instead of exhausting memory. Truncated or corrupt payloads fail with
// decompress_failed. Output is appended to `out`; on failure `out` is restored to its original size.
//
// What the encoders write, and why:
//   gzip    one gzip member (RFC 1952), as the Java client's GZIPOutputStream does. The decoder also accepts several
//           concatenated members.
//   snappy  xerial framing by default, because that is what the Java client writes and so what every client
//           reads: an 8-byte magic 0x82 "SNAPPY" 0x00, int32 version 1, int32 compatible version 1, then blocks of
//           [int32 BE compressed length][raw snappy block], each holding at most 32 KiB of input. The decoder
//           accepts this framing and a single raw snappy block (what some non-Java clients write).
//   lz4     one LZ4 frame with 64 KiB independent blocks and no checksums or content size: the options the Java
//           client's own LZ4 stream writes and reads. (Kafka's broken header checksum concerns message format v0
//           only, which is rejected before decompression.) The decoder accepts any standard frame, and several.
//   zstd    one frame with the content size. The decoder streams, so frames without a content size work, and
//           limits the window it will allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/record/batch_header.h"
#include "protocol/record/errors.h"

namespace floe::record {

using Bytes = std::vector<uint8_t>;

// Used when a caller has no configured limit. The broker passes its own (the records must fit in memory once).
inline constexpr size_t kDefaultMaxDecompressedBytes = 64u << 20;

struct CompressOptions {
  // Codec level; absent means the codec's default (gzip 6, lz4 fast mode, zstd 3). Out-of-range levels are clamped.
  std::optional<int> level;
  // Snappy only: xerial framing (default; what Java clients write) or one raw block.
  bool snappy_xerial = true;
};

// Appends `in` compressed with `codec` to `out`. Compression::none appends `in` as is.
RecordError compress(Compression codec, ByteSpan in, Bytes& out, const CompressOptions& options = {});

// Appends the decompressed form of `in` to `out`, at most `max_out` bytes of it.
RecordError decompress(Compression codec, ByteSpan in, Bytes& out, size_t max_out = kDefaultMaxDecompressedBytes);

// Decompresses a payload piece by piece into the caller's buffers, so that a reader can walk the output through a
// small window instead of holding all of it (the broker's validation of produced batches: record_set.h). Accepts
// exactly what decompress() accepts (several frames; a truncated or corrupt payload is decompress_failed); the
// caller counts the output against its own limit. lz4 only: open() gives nullopt for the other codecs, whose
// callers use decompress(). Uses the thread's lz4 context: finish with one decoder before opening another on the
// same thread (nothing may suspend in between).
class PieceDecoder {
 public:
  static std::optional<PieceDecoder> open(Compression codec, ByteSpan in);
  // Writes the next output bytes into `dst` (non-empty) and sets `produced`; ok or decompress_failed. Once
  // finished(), the whole payload was decoded.
  RecordError read(std::span<uint8_t> dst, size_t& produced);
  bool finished() const { return finished_; }

 private:
  explicit PieceDecoder(ByteSpan in) : rest_(in) {}
  ByteSpan rest_;
  bool finished_ = false;
};

}  // namespace floe::record
