#include "protocol/record/batch_builder.h"

#include <climits>

#include "protocol/record/crc32c.h"
#include "protocol/wire.h"

namespace floe::record {

namespace {

size_t varint_size(int64_t v) {  // zig-zag, as varint and varlong are written
  return proto::uvarint_size((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

// Size of a length-prefixed nullable field; nullopt past int32.
std::optional<size_t> field_size(const std::optional<ByteSpan>& f) {
  if (!f) return varint_size(-1);
  if (f->size() > INT32_MAX) return std::nullopt;
  return varint_size(static_cast<int64_t>(f->size())) + f->size();
}

void write_field(proto::Writer& w, const std::optional<ByteSpan>& f) {
  if (!f) {
    w.varint(-1);
    return;
  }
  w.varint(static_cast<int32_t>(f->size()));
  w.raw(f->data(), f->size());
}

// The part of a record after its length prefix.
std::optional<size_t> body_size(int32_t offset_delta, int64_t timestamp_delta, const NewRecord& r) {
  std::optional<size_t> key = field_size(r.key);
  std::optional<size_t> value = field_size(r.value);
  if (!key || !value || r.headers.size() > INT32_MAX) return std::nullopt;
  size_t n = 1 + varint_size(timestamp_delta) + varint_size(offset_delta) + *key + *value +
             varint_size(static_cast<int64_t>(r.headers.size()));
  for (const Header& h : r.headers) {
    std::optional<size_t> hv = field_size(h.value);
    if (!hv || h.key.size() > INT32_MAX) return std::nullopt;
    n += varint_size(static_cast<int64_t>(h.key.size())) + h.key.size() + *hv;
    if (n > INT32_MAX) return std::nullopt;
  }
  if (n > INT32_MAX) return std::nullopt;
  return n;
}

}  // namespace

std::optional<size_t> encoded_record_size(int32_t offset_delta, int64_t timestamp_delta, const NewRecord& record) {
  std::optional<size_t> body = body_size(offset_delta, timestamp_delta, record);
  if (!body) return std::nullopt;
  return varint_size(static_cast<int64_t>(*body)) + *body;
}

RecordError BatchBuilder::add_at(int32_t offset_delta, const NewRecord& record) {
  if (offset_delta <= last_delta_) return RecordError::invalid_record;
  if (count_ == INT32_MAX) return RecordError::too_large;
  const int64_t base = count_ == 0 ? record.timestamp : base_timestamp_;
  // Deltas may be negative (timestamps need not be in order); wrap-around arithmetic, as the reader adds it back.
  const auto ts_delta = static_cast<int64_t>(static_cast<uint64_t>(record.timestamp) - static_cast<uint64_t>(base));
  std::optional<size_t> body = body_size(offset_delta, ts_delta, record);
  if (!body) return RecordError::too_large;
  const size_t total = varint_size(static_cast<int64_t>(*body)) + *body;
  if (total > static_cast<size_t>(INT32_MAX) - layout::kHeaderSize - records_.size()) return RecordError::too_large;

  proto::Writer w(records_);
  w.varint(static_cast<int32_t>(*body));
  w.i8(0);  // record attributes: unused
  w.varlong(ts_delta);
  w.varint(offset_delta);
  write_field(w, record.key);
  write_field(w, record.value);
  w.varint(static_cast<int32_t>(record.headers.size()));
  for (const Header& h : record.headers) {
    w.varint(static_cast<int32_t>(h.key.size()));
    w.raw(h.key.data(), h.key.size());
    write_field(w, h.value);
  }

  if (count_ == 0 || record.timestamp > max_timestamp_) max_timestamp_ = record.timestamp;
  if (count_ == 0) base_timestamp_ = record.timestamp;
  ++count_;
  last_delta_ = offset_delta;
  next_delta_ = offset_delta == INT32_MAX ? INT32_MAX : offset_delta + 1;
  return RecordError::ok;
}

RecordError BatchBuilder::build(Bytes& out) const {
  if (count_ == 0) return RecordError::invalid_record;
  const size_t at = out.size();
  if (options_.compression == Compression::none) out.reserve(at + layout::kHeaderSize + records_.size());
  out.resize(at + layout::kHeaderSize);
  if (RecordError e = compress(options_.compression, records_, out, options_.compress_options); e != RecordError::ok) {
    out.resize(at);
    return e;
  }
  const size_t total = out.size() - at;
  if (total - layout::kLogOverhead > INT32_MAX) {
    out.resize(at);
    return RecordError::too_large;
  }

  BatchHeader h;
  h.base_offset = options_.base_offset;
  h.batch_length = static_cast<int32_t>(total - layout::kLogOverhead);
  h.partition_leader_epoch = options_.partition_leader_epoch;
  h.magic = kMagicV2;
  int attributes = static_cast<int>(options_.compression);
  if (options_.timestamp_type == TimestampType::log_append_time) attributes |= attr::kTimestampType;
  if (options_.transactional) attributes |= attr::kTransactional;
  if (options_.control) attributes |= attr::kControl;
  h.attributes = static_cast<int16_t>(attributes);
  h.last_offset_delta = last_delta_;
  h.base_timestamp = base_timestamp_;
  h.max_timestamp = max_timestamp_;
  h.producer_id = options_.producer_id;
  h.producer_epoch = options_.producer_epoch;
  h.base_sequence = options_.base_sequence;
  h.records_count = count_;
  uint8_t* batch = out.data() + at;
  write_batch_header(h, MutableByteSpan(batch, layout::kHeaderSize));
  store_be32(batch + layout::kCrc, crc32c(batch + layout::kCrcStart, total - layout::kCrcStart));
  return RecordError::ok;
}

Result<Bytes> BatchBuilder::build() const {
  Bytes out;
  if (RecordError e = build(out); e != RecordError::ok) return e;
  return out;
}

void BatchBuilder::clear() {
  records_.clear();
  count_ = 0;
  next_delta_ = 0;
  last_delta_ = -1;
  base_timestamp_ = 0;
  max_timestamp_ = 0;
}

}  // namespace floe::record
