#include "protocol/wire.h"

#include <algorithm>

namespace floe::proto {

uint32_t Reader::uvarint() {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (!take(1)) return 0;
    uint8_t b = p_[-1];
    if (shift == 28 && (b & 0xf0) != 0) break;  // more than 32 bits
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail();
  return 0;
}

uint64_t Reader::uvarlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (!take(1)) return 0;
    uint8_t b = p_[-1];
    if (shift == 63 && (b & 0xfe) != 0) break;  // more than 64 bits
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail();
  return 0;
}

int32_t Reader::string_length(bool compact) {
  int64_t n = compact ? static_cast<int64_t>(uvarint()) - 1 : i16();
  if (!ok_ || n < -1 || (n > 0 && static_cast<size_t>(n) > remaining())) {
    fail();
    return -1;
  }
  return static_cast<int32_t>(n);
}

int32_t Reader::bytes_length(bool compact) {
  int64_t n = compact ? static_cast<int64_t>(uvarint()) - 1 : i32();
  if (!ok_ || n < -1 || (n > 0 && static_cast<size_t>(n) > remaining())) {
    fail();
    return -1;
  }
  return static_cast<int32_t>(n);
}

int32_t Reader::array_length(bool compact, size_t min_element_bytes) {
  int64_t n = compact ? static_cast<int64_t>(uvarint()) - 1 : i32();
  if (min_element_bytes == 0) min_element_bytes = 1;
  if (!ok_ || n < -1 || (n > 0 && static_cast<size_t>(n) > remaining() / min_element_bytes)) {
    fail();
    return -1;
  }
  return static_cast<int32_t>(n);
}

std::string Reader::string(bool compact) {
  int32_t n = string_length(compact);
  if (n <= 0) return {};
  ByteSpan s = span(static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::optional<std::string> Reader::nullable_string(bool compact) {
  int32_t n = string_length(compact);
  if (n < 0) return std::nullopt;
  ByteSpan s = span(static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

Bytes Reader::bytes(bool compact) {
  int32_t n = bytes_length(compact);
  if (n <= 0) return {};
  ByteSpan s = span(static_cast<size_t>(n));
  return Bytes(s.begin(), s.end());
}

std::optional<Bytes> Reader::nullable_bytes(bool compact) {
  int32_t n = bytes_length(compact);
  if (n < 0) return std::nullopt;
  ByteSpan s = span(static_cast<size_t>(n));
  return Bytes(s.begin(), s.end());
}

RecordsView Reader::records(bool compact) {
  RecordsView r;
  int32_t n = bytes_length(compact);
  if (n < 0) return r;
  r.null = false;
  r.data = span(static_cast<size_t>(n));
  return r;
}

void Writer::uvarint(uint32_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<uint8_t>(v));
}

void Writer::uvarlong(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<uint8_t>(v));
}

void Writer::string(std::string_view s, bool compact) {
  if (compact) uvarint(static_cast<uint32_t>(s.size() + 1));
  else i16(static_cast<int16_t>(s.size()));
  raw(s.data(), s.size());
}

void Writer::nullable_string(const std::optional<std::string>& s, bool compact) {
  if (!s) {
    if (compact) uvarint(0);
    else i16(-1);
    return;
  }
  string(*s, compact);
}

void Writer::bytes(ByteSpan b, bool compact) {
  if (compact) uvarint(static_cast<uint32_t>(b.size() + 1));
  else i32(static_cast<int32_t>(b.size()));
  raw(b.data(), b.size());
}

void Writer::nullable_bytes(const std::optional<Bytes>& b, bool compact) {
  if (!b) {
    if (compact) uvarint(0);
    else i32(-1);
    return;
  }
  bytes(*b, compact);
}

void Writer::records(const RecordsView& r, bool compact) {
  if (r.null) {
    if (compact) uvarint(0);
    else i32(-1);
    return;
  }
  bytes(r.data, compact);
}

void write_tagged_fields(Writer& w, std::vector<UnknownTag>& fields) {
  // Stable: duplicate unknown tags (legal on the wire, if odd) keep their order, so re-encoding is idempotent.
  std::stable_sort(fields.begin(), fields.end(), [](const UnknownTag& a, const UnknownTag& b) { return a.tag < b.tag; });
  w.uvarint(static_cast<uint32_t>(fields.size()));
  for (const auto& f : fields) {
    w.uvarint(f.tag);
    w.uvarint(static_cast<uint32_t>(f.data.size()));
    w.raw(f.data.data(), f.data.size());
  }
}

}  // namespace floe::proto
