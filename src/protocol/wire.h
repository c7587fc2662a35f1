// Kafka wire primitives: big-endian integers, varints, strings, bytes, arrays, UUIDs and tagged fields.
//
// Reader never throws and never reads out of bounds: the first malformed or truncated read marks it failed,
// later reads return zero values, and the caller checks ok() once at the end. Writer appends to a byte vector.
//
// Encodings (flexible = the message version is at or above the API's first flexible version):
//   int8/16/32/64, uint16/32, float64   fixed width, big-endian (float64: IEEE-754 bits as uint64)
//   varint / varlong                    zig-zag, 7 bits per byte, low group first, high bit = more
//   uvarint                             unsigned, 7 bits per byte (at most 5 bytes for 32 bits)
//   string       classic: int16 length (-1 = null) + UTF-8      compact: uvarint(length + 1) (0 = null)
//   bytes        classic: int32 length (-1 = null) + data       compact: uvarint(length + 1) (0 = null)
//   array        classic: int32 count (-1 = null) + elements    compact: uvarint(count + 1) (0 = null)
//   uuid         16 raw bytes
//   tagged       uvarint count, then per field ascending: uvarint tag, uvarint size, size bytes
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace floe::proto {

using Uuid = std::array<uint8_t, 16>;
using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// Payload of a `records` field. Decoding makes it a view into the request frame (no copy): the frame must outlive
// it, or `keep` must own the bytes. Encoders write whatever `data` points at.
struct RecordsView {
  ByteSpan data;
  bool null = true;
  std::shared_ptr<const void> keep;

  static RecordsView of(ByteSpan d, std::shared_ptr<const void> owner = {}) {
    RecordsView r;
    r.data = d;
    r.null = false;
    r.keep = std::move(owner);
    return r;
  }
  bool operator==(const RecordsView& o) const {
    return null == o.null && data.size() == o.data.size() &&
           (data.empty() || std::memcmp(data.data(), o.data.data(), data.size()) == 0);
  }
};

// Bytes of a tagged field this code does not know, kept so that re-encoding is byte-exact.
struct UnknownTag {
  uint32_t tag = 0;
  Bytes data;
  bool operator==(const UnknownTag&) const = default;
};
using UnknownTags = std::vector<UnknownTag>;

class Reader {
 public:
  explicit Reader(ByteSpan buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}

  bool ok() const { return ok_; }
  void fail() { ok_ = false; p_ = end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }
  bool at_end() const { return p_ == end_; }

  int8_t i8() { return static_cast<int8_t>(fixed<uint8_t>()); }
  int16_t i16() { return static_cast<int16_t>(fixed<uint16_t>()); }
  int32_t i32() { return static_cast<int32_t>(fixed<uint32_t>()); }
  int64_t i64() { return static_cast<int64_t>(fixed<uint64_t>()); }
  uint16_t u16() { return fixed<uint16_t>(); }
  uint32_t u32() { return fixed<uint32_t>(); }
  double f64() {
    uint64_t bits = fixed<uint64_t>();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  bool boolean() { return i8() != 0; }
  Uuid uuid() {
    Uuid u{};
    if (take(16)) std::memcpy(u.data(), p_ - 16, 16);
    return u;
  }

  uint32_t uvarint();
  uint64_t uvarlong();
  int32_t varint() {
    uint32_t v = uvarint();
    return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  int64_t varlong() {
    uint64_t v = uvarlong();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }

  // Length prefixes. Return -1 for null; mark failure on a negative length other than -1 or one past the end.
  int32_t string_length(bool compact);
  int32_t bytes_length(bool compact);
  // Array count; -1 for null. Each element needs at least `min_element_bytes`, so a hostile count cannot make
  // the caller reserve more than the frame could hold.
  int32_t array_length(bool compact, size_t min_element_bytes = 1);

  std::string string(bool compact);
  std::optional<std::string> nullable_string(bool compact);
  Bytes bytes(bool compact);
  std::optional<Bytes> nullable_bytes(bool compact);
  RecordsView records(bool compact);

  // A sub-span of n bytes, consumed; empty and failed when short.
  ByteSpan span(size_t n) {
    if (!take(n)) return {};
    return ByteSpan(p_ - n, n);
  }
  void skip(size_t n) { take(n); }

 private:
  template <typename T>
  T fixed() {
    if (!take(sizeof(T))) return 0;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p_[static_cast<ptrdiff_t>(i) - static_cast<ptrdiff_t>(sizeof(T))]);
    return v;
  }
  bool take(size_t n) {
    if (!ok_ || remaining() < n) {
      fail();
      return false;
    }
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

class Writer {
 public:
  Writer() = default;
  explicit Writer(Bytes& out) : out_(&out) {}

  Bytes& buffer() { return *out_; }
  size_t size() const { return out_->size(); }

  void i8(int8_t v) { out_->push_back(static_cast<uint8_t>(v)); }
  void i16(int16_t v) { fixed(static_cast<uint16_t>(v)); }
  void i32(int32_t v) { fixed(static_cast<uint32_t>(v)); }
  void i64(int64_t v) { fixed(static_cast<uint64_t>(v)); }
  void u16(uint16_t v) { fixed(v); }
  void u32(uint32_t v) { fixed(v); }
  void f64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    fixed(bits);
  }
  void boolean(bool b) { i8(b ? 1 : 0); }
  void uuid(const Uuid& u) { raw(u.data(), u.size()); }

  void uvarint(uint32_t v);
  void uvarlong(uint64_t v);
  void varint(int32_t v) { uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31)); }
  void varlong(int64_t v) { uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }

  void string(std::string_view s, bool compact);
  void nullable_string(const std::optional<std::string>& s, bool compact);
  void bytes(ByteSpan b, bool compact);
  void nullable_bytes(const std::optional<Bytes>& b, bool compact);
  void records(const RecordsView& r, bool compact);
  void array_length(int32_t n, bool compact) {  // n = -1 for null
    if (compact) uvarint(static_cast<uint32_t>(n + 1));
    else i32(n);
  }
  void raw(const void* p, size_t n) {
    auto b = static_cast<const uint8_t*>(p);
    out_->insert(out_->end(), b, b + n);
  }

  // Reserve room for a value written later (frame sizes).
  size_t placeholder(size_t n) {
    size_t at = out_->size();
    out_->resize(at + n);
    return at;
  }
  void patch_i32(size_t at, int32_t v) {
    auto u = static_cast<uint32_t>(v);
    for (int i = 0; i < 4; ++i) (*out_)[at + static_cast<size_t>(i)] = static_cast<uint8_t>(u >> (24 - 8 * i));
  }

 private:
  template <typename T>
  void fixed(T v) {
    size_t at = out_->size();
    out_->resize(at + sizeof(T));
    uint8_t* p = out_->data() + at;
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
  }

  Bytes own_;
  Bytes* out_ = &own_;
};

// Size in bytes of v as an unsigned varint.
inline size_t uvarint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Tagged-field section: reads the count and each (tag, size) header, hands the field to `on_field` with a reader
// over exactly its bytes; unknown tags go to `unknown`.
template <typename OnField>
void read_tagged_fields(Reader& r, UnknownTags& unknown, OnField&& on_field) {
  uint32_t count = r.uvarint();
  if (count > r.remaining()) {
    r.fail();
    return;
  }
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    uint32_t tag = r.uvarint();
    uint32_t size = r.uvarint();
    ByteSpan body = r.span(size);
    if (!r.ok()) return;
    Reader sub(body);
    if (!on_field(tag, sub)) {
      unknown.push_back(UnknownTag{tag, Bytes(body.begin(), body.end())});
    } else if (!sub.ok() || !sub.at_end()) {
      r.fail();
      return;
    }
  }
}

// Writes a tagged-field section from `fields` (sorted here by tag). Used when at least one field is present;
// the common empty section is a single 0 byte written by the caller.
void write_tagged_fields(Writer& w, std::vector<UnknownTag>& fields);

}  // namespace floe::proto
