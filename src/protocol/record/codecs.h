// Internals of compression.cc: one compress/decompress pair per codec, and the bounded output window the
// decompressors write through.
#pragma once

#include <algorithm>
#include <optional>
#include <span>

#include "protocol/record/compression.h"

namespace floe::record::detail {

// The part of `out` a decompressor appends to, growing on demand up to max_out + 1 bytes: the extra byte lets a
// streaming decoder show that the payload does not end within max_out, without ever allocating more than that.
class OutputWindow {
 public:
  OutputWindow(Bytes& out, size_t max_out, size_t size_hint)
      : out_(out), base_(out.size()), limit_(max_out == SIZE_MAX ? SIZE_MAX : max_out + 1),
        first_(std::clamp<size_t>(size_hint, 1, limit_)) {}

  // Free space to write into; empty once limit (max_out + 1) bytes are written.
  std::span<uint8_t> room() {
    if (written_ >= limit_) return {};
    size_t have = out_.size() - base_;
    if (have == written_) {
      size_t grow = written_ == 0 ? first_ : std::max<size_t>(written_, 64u << 10);
      out_.resize(base_ + written_ + std::min(grow, limit_ - written_));
      have = out_.size() - base_;
    }
    return {out_.data() + base_ + written_, have - written_};
  }
  void commit(size_t n) { written_ += n; }
  size_t written() const { return written_; }
  bool over_limit() const { return written_ >= limit_; }
  // Trims to what was written (on success) or to the original size (on failure); returns `e`.
  RecordError finish(RecordError e) {
    out_.resize(e == RecordError::ok ? base_ + written_ : base_);
    return e;
  }

 private:
  Bytes& out_;
  size_t base_;
  size_t limit_;
  size_t first_;
  size_t written_ = 0;
};

// Start with a guess of the output size, never above the limit: compressed payloads are typically 2-5x smaller.
inline size_t first_guess(size_t in_size, size_t max_out) {
  return std::min<size_t>(max_out, std::max<size_t>(in_size * 4, 4096));
}

RecordError gzip_compress(ByteSpan in, Bytes& out, std::optional<int> level);
RecordError gzip_decompress(ByteSpan in, Bytes& out, size_t max_out);
RecordError snappy_compress(ByteSpan in, Bytes& out, bool xerial);
RecordError snappy_decompress(ByteSpan in, Bytes& out, size_t max_out);
RecordError lz4_compress(ByteSpan in, Bytes& out, std::optional<int> level);
RecordError lz4_decompress(ByteSpan in, Bytes& out, size_t max_out);
RecordError zstd_compress(ByteSpan in, Bytes& out, std::optional<int> level);
RecordError zstd_decompress(ByteSpan in, Bytes& out, size_t max_out);

}  // namespace floe::record::detail
