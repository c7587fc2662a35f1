// lz4 frame format through the LZ4F API.
#include <lz4frame.h>
#include <lz4hc.h>

#include <memory>

#include "protocol/record/codecs.h"

namespace floe::record::detail {

struct DctxFree {
  void operator()(LZ4F_dctx* c) const { LZ4F_freeDecompressionContext(c); }
};
using DctxPtr = std::unique_ptr<LZ4F_dctx, DctxFree>;

// One decompression context per thread: creating one allocates, and a broker decodes many small batches.
static LZ4F_dctx* thread_dctx() {
  thread_local DctxPtr ctx = [] {
    LZ4F_dctx* c = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&c, LZ4F_VERSION))) c = nullptr;
    return DctxPtr(c);
  }();
  return ctx.get();
}

RecordError lz4_compress(ByteSpan in, Bytes& out, std::optional<int> level) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.compressionLevel = level ? std::min(*level, LZ4HC_CLEVEL_MAX) : 0;
  const size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  const size_t at = out.size();
  out.resize(at + bound);
  const size_t n = LZ4F_compressFrame(out.data() + at, bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out.resize(at);
    return RecordError::compress_failed;
  }
  out.resize(at + n);
  return RecordError::ok;
}

RecordError lz4_decompress(ByteSpan in, Bytes& out, size_t max_out) {
  LZ4F_dctx* ctx = thread_dctx();
  if (ctx == nullptr) return RecordError::decompress_failed;
  LZ4F_resetDecompressionContext(ctx);  // a previous call may have stopped mid-frame
  OutputWindow window(out, max_out, first_guess(in.size(), max_out));
  const uint8_t* src = in.data();
  size_t left = in.size();
  RecordError result = RecordError::ok;
  for (;;) {
    std::span<uint8_t> room = window.room();
    if (room.empty()) {
      result = RecordError::decompressed_too_large;
      break;
    }
    size_t produced = room.size();
    size_t consumed = left;
    const size_t hint = LZ4F_decompress(ctx, room.data(), &produced, src, &consumed, nullptr);
    if (LZ4F_isError(hint)) {
      result = RecordError::decompress_failed;
      break;
    }
    src += consumed;
    left -= consumed;
    window.commit(produced);
    if (consumed == 0 && produced == 0) {  // no progress possible: never spin on bad input
      result = RecordError::decompress_failed;
      break;
    }
    if (hint == 0 && left == 0) break;  // the last frame ended with the input
    // 0 with input left: another frame follows (the context starts it). Otherwise, when all input is taken and
    // the output had room, the frame is incomplete: the payload is truncated.
    if (hint != 0 && left == 0 && produced < room.size()) {
      result = RecordError::decompress_failed;
      break;
    }
  }
  if (result == RecordError::ok && window.over_limit()) result = RecordError::decompressed_too_large;
  return window.finish(result);
}

}  // namespace floe::record::detail

namespace floe::record {

std::optional<PieceDecoder> PieceDecoder::open(Compression codec, ByteSpan in) {
  if (codec != Compression::lz4 || detail::thread_dctx() == nullptr) return std::nullopt;
  LZ4F_resetDecompressionContext(detail::thread_dctx());  // a previous call may have stopped mid-frame
  return PieceDecoder(in);
}

// The rules of lz4_decompress above, one output buffer at a time.
RecordError PieceDecoder::read(std::span<uint8_t> dst, size_t& produced) {
  produced = 0;
  if (finished_) return RecordError::ok;
  if (dst.empty()) return RecordError::decompress_failed;  // the caller's bug; never spin
  size_t out = dst.size();
  size_t consumed = rest_.size();
  const size_t hint = LZ4F_decompress(detail::thread_dctx(), dst.data(), &out, rest_.data(), &consumed, nullptr);
  if (LZ4F_isError(hint)) return RecordError::decompress_failed;
  rest_ = rest_.subspan(consumed);
  produced = out;
  if (consumed == 0 && out == 0) return RecordError::decompress_failed;  // no progress possible: bad input
  if (hint == 0 && rest_.empty()) {
    finished_ = true;  // the last frame ended with the input
    return RecordError::ok;
  }
  // 0 with input left: another frame follows. All input taken and room left over: the frame is truncated.
  if (hint != 0 && rest_.empty() && out < dst.size()) return RecordError::decompress_failed;
  return RecordError::ok;
}

}  // namespace floe::record
