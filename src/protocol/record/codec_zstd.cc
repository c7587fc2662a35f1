// zstd, through the streaming decoder so frames without a declared content size decode too.
#include <zstd.h>
#include <zstd_errors.h>

#include <bit>
#include <memory>

#include "protocol/record/codecs.h"

namespace floe::record::detail {

namespace {

constexpr int kDefaultLevel = 3;
// The decoder allocates a buffer as large as the frame's window. Frames may declare a window larger than their
// content, so the window is capped: at the output bound rounded up, but never below 8 MiB (what zstd's own levels
// use, so legitimate frames from any client pass) nor above zstd's default 128 MiB cap.
constexpr int kMinWindowLog = 23;
constexpr int kMaxWindowLog = 27;

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// Contexts are reused per thread: creating one allocates its work space, which costs more than a small batch.
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

int window_log_for(size_t max_out) {
  const int log = max_out <= 1 ? 0 : std::bit_width(max_out - 1);
  return std::clamp(log, kMinWindowLog, kMaxWindowLog);
}

}  // namespace

RecordError zstd_compress(ByteSpan in, Bytes& out, std::optional<int> level) {
  ZSTD_CCtx* ctx = thread_cctx();
  if (ctx == nullptr) return RecordError::compress_failed;
  const int lvl = level ? std::clamp(*level, ZSTD_minCLevel(), ZSTD_maxCLevel()) : kDefaultLevel;
  const size_t bound = ZSTD_compressBound(in.size());
  const size_t at = out.size();
  out.resize(at + bound);
  const size_t n = ZSTD_compressCCtx(ctx, out.data() + at, bound, in.data(), in.size(), lvl);
  if (ZSTD_isError(n)) {
    out.resize(at);
    return RecordError::compress_failed;
  }
  out.resize(at + n);
  return RecordError::ok;
}

RecordError zstd_decompress(ByteSpan in, Bytes& out, size_t max_out) {
  ZSTD_DCtx* ctx = thread_dctx();
  if (ctx == nullptr) return RecordError::decompress_failed;
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, window_log_for(max_out));
  size_t hint = first_guess(in.size(), max_out);
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    if (declared > max_out) return RecordError::decompressed_too_large;
    hint = static_cast<size_t>(declared);
  }
  OutputWindow window(out, max_out, hint);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  RecordError result = RecordError::ok;
  for (;;) {
    std::span<uint8_t> room = window.room();
    if (room.empty()) {
      result = RecordError::decompressed_too_large;
      break;
    }
    ZSTD_outBuffer output{room.data(), room.size(), 0};
    const size_t input_before = input.pos;
    const size_t rc = ZSTD_decompressStream(ctx, &output, &input);
    window.commit(output.pos);
    if (ZSTD_isError(rc)) {
      result = ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge ? RecordError::decompressed_too_large
                                                                               : RecordError::decompress_failed;
      break;
    }
    if (rc == 0 && input.pos == input.size) break;  // frame complete, output flushed, nothing left
    if (input.pos == input_before && output.pos == 0) {  // no progress possible: never spin on bad input
      result = RecordError::decompress_failed;
      break;
    }
    // 0 with input left: another frame follows. Input exhausted with output room to spare: truncated frame.
    if (rc != 0 && input.pos == input.size && output.pos < output.size) {
      result = RecordError::decompress_failed;
      break;
    }
  }
  if (result == RecordError::ok && window.over_limit()) result = RecordError::decompressed_too_large;
  return window.finish(result);
}

}  // namespace floe::record::detail
