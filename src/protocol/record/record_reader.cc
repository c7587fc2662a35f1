#include "protocol/record/record_reader.h"

#include "protocol/wire.h"

namespace floe::record {

namespace {

// Smallest record body: attributes, timestampDelta, offsetDelta, key length, value length, header count.
constexpr int32_t kMinRecordBody = 6;

// A length-prefixed field whose negative length means null (keys, values, header values).
std::optional<ByteSpan> nullable_field(proto::Reader& r) {
  const int32_t n = r.varint();
  if (n < 0 || !r.ok()) return std::nullopt;
  return r.span(static_cast<size_t>(n));  // fails the reader when short
}

// Reads (and so checks) one header; false when malformed.
bool read_header(proto::Reader& r, Header& out) {
  const int32_t key_length = r.varint();
  if (!r.ok() || key_length < 0) return false;
  ByteSpan key = r.span(static_cast<size_t>(key_length));
  out.key = std::string_view(reinterpret_cast<const char*>(key.data()), key.size());
  out.value = nullable_field(r);
  return r.ok();
}

}  // namespace

void HeaderRange::iterator::load() {
  if (left_ <= 0) {
    left_ = 0;
    return;
  }
  proto::Reader r(rest_);
  if (!read_header(r, current_)) {  // cannot happen for a section RecordReader checked; end the range safely
    left_ = 0;
    return;
  }
  rest_ = rest_.subspan(rest_.size() - r.remaining());
}

RecordError read_record(ByteSpan& bytes, RecordView& out) {
  proto::Reader outer(bytes);
  const int32_t length = outer.varint();
  if (!outer.ok() || length < kMinRecordBody || static_cast<size_t>(length) > outer.remaining())
    return RecordError::invalid_record;
  const size_t prefix = bytes.size() - outer.remaining();
  const ByteSpan body = outer.span(static_cast<size_t>(length));

  proto::Reader r(body);
  out.attributes = r.i8();
  out.timestamp_delta = r.varlong();
  out.offset_delta = r.varint();
  out.key = nullable_field(r);
  out.value = nullable_field(r);
  out.header_count = r.varint();
  if (!r.ok() || out.header_count < 0) return RecordError::invalid_record;
  const uint8_t* headers_start = r.position();
  // Every header takes at least two bytes, so a hostile count fails here without a long loop.
  if (static_cast<size_t>(out.header_count) > r.remaining() / 2) return RecordError::invalid_record;
  Header h;
  for (int32_t i = 0; i < out.header_count; ++i)
    if (!read_header(r, h)) return RecordError::invalid_record;
  if (!r.at_end()) return RecordError::invalid_record;  // the declared length must be used exactly
  out.headers_bytes = ByteSpan(headers_start, static_cast<size_t>(r.position() - headers_start));
  out.bytes = bytes.first(prefix + static_cast<size_t>(length));
  bytes = bytes.subspan(out.bytes.size());
  return RecordError::ok;
}

bool RecordReader::next(RecordView& out) {
  if (error_ != RecordError::ok) return false;
  if (left_ == 0) {
    if (!rest_.empty()) error_ = RecordError::invalid_record;  // bytes after the declared records
    return false;
  }
  if (RecordError e = read_record(rest_, out); e != RecordError::ok) {
    error_ = e;
    return false;
  }
  --left_;
  return true;
}

}  // namespace floe::record
