#include "stream/object_ranges.h"

#include "protocol/wire.h"
#include "stream/errc.h"

namespace floe::stream {

std::string encode_object_ranges(const ObjectRanges& ranges) {
  Bytes out;
  proto::Writer w(out);
  w.i8(1);
  w.i64(static_cast<int64_t>(ranges.object_size));
  w.u32(static_cast<uint32_t>(ranges.blocks.size()));
  for (const BlockInfo& b : ranges.blocks) {
    w.i64(static_cast<int64_t>(b.stream_id));
    w.i64(b.first_offset);
    w.i64(b.last_offset);
    w.i64(b.max_timestamp);
    w.i64(static_cast<int64_t>(b.position));
    w.u32(b.size);
    w.u32(b.crc);
  }
  return std::string(out.begin(), out.end());
}

Result<ObjectRanges> decode_object_ranges(std::string_view key, std::string_view value) {
  auto bad = [&](const char* what) {
    return Error{Errc::corrupt_object, "object ranges of " + std::string(key) + ": " + what};
  };
  proto::Reader r(ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  if (r.i8() != 1) return bad("unknown version");
  ObjectRanges out;
  out.key = std::string(key);
  out.object_size = static_cast<uint64_t>(r.i64());
  uint32_t count = r.u32();
  if (!r.ok() || count > r.remaining() / kSegmentIndexEntrySize) return bad("truncated");
  out.blocks.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    BlockInfo b;
    b.stream_id = static_cast<uint64_t>(r.i64());
    b.first_offset = r.i64();
    b.last_offset = r.i64();
    b.max_timestamp = r.i64();
    b.position = static_cast<uint64_t>(r.i64());
    b.size = r.u32();
    b.crc = r.u32();
    if (b.last_offset < b.first_offset || b.position + b.size > out.object_size) return bad("block out of bounds");
    out.blocks.push_back(b);
  }
  if (!r.ok() || !r.at_end()) return bad("trailing or missing bytes");
  return out;
}

}  // namespace floe::stream
