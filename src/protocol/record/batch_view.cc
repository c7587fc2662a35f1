#include "protocol/record/batch_view.h"

#include <algorithm>

#include "protocol/record/crc32c.h"
#include "protocol/record/crc32c_internal.h"

namespace floe::record {

Result<BatchView> BatchView::parse(ByteSpan bytes, int32_t max_batch_length) {
  Result<BatchHeader> h = parse_batch_header(bytes, max_batch_length);
  if (!h) return h.error();
  if (h->total_size() > bytes.size()) return RecordError::truncated;
  BatchView v;
  v.header_ = *h;
  v.bytes_ = bytes.first(h->total_size());
  return v;
}

uint32_t BatchView::compute_crc() const { return crc32c(bytes_.subspan(layout::kCrcStart)); }

bool BatchSplitter::next(BatchView& out) {
  if (error_ != RecordError::ok || pos_ == blob_.size()) return false;
  Result<BatchView> v = BatchView::parse(blob_.subspan(pos_), max_batch_length_);
  if (v) {
    out = *v;
    pos_ += out.bytes().size();
    return true;
  }
  if (v.error() == RecordError::truncated && tail_ == Tail::allow_partial) {
    truncated_tail_ = true;
    return false;
  }
  error_ = v.error();
  return false;
}

RecordError verify_batches(ByteSpan blob, size_t* count, int32_t max_batch_length) {
  BatchSplitter split(blob, BatchSplitter::Tail::reject, max_batch_length);
  BatchView batch;
  size_t n = 0;
  while (split.next(batch)) {
    if (RecordError e = batch.verify_crc(); e != RecordError::ok) return e;
    ++n;
  }
  if (count != nullptr) *count = n;
  if (split.error() != RecordError::ok) return split.error();
  return n == 0 ? RecordError::truncated : RecordError::ok;
}

namespace {

// The header of the whole batch at the start of `batch`, for the edits below.
Result<BatchHeader> whole_batch(MutableByteSpan batch) {
  Result<BatchView> v = BatchView::parse(ByteSpan(batch.data(), batch.size()), INT32_MAX);
  if (!v) return v.error();
  return v->header();
}

}  // namespace

RecordError set_base_offset(MutableByteSpan batch, int64_t base_offset) {
  if (Result<BatchHeader> h = whole_batch(batch); !h) return h.error();
  store_be64(batch.data() + layout::kBaseOffset, static_cast<uint64_t>(base_offset));
  return RecordError::ok;
}

RecordError set_partition_leader_epoch(MutableByteSpan batch, int32_t epoch) {
  if (Result<BatchHeader> h = whole_batch(batch); !h) return h.error();
  store_be32(batch.data() + layout::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch));
  return RecordError::ok;
}

RecordError set_max_timestamp(MutableByteSpan batch, TimestampType type, int64_t max_timestamp) {
  Result<BatchHeader> h = whole_batch(batch);
  if (!h) return h.error();
  uint8_t* p = batch.data();
  // The edited bytes lie in [21, 43): attributes at 21, maxTimestamp at 35.
  constexpr size_t kFrom = layout::kAttributes;
  constexpr size_t kTo = layout::kMaxTimestamp + 8;
  uint8_t before[kTo - kFrom];
  std::copy(p + kFrom, p + kTo, before);

  int16_t attributes = static_cast<int16_t>(h->attributes & ~attr::kTimestampType);
  if (type == TimestampType::log_append_time) attributes = static_cast<int16_t>(attributes | attr::kTimestampType);
  store_be16(p + layout::kAttributes, static_cast<uint16_t>(attributes));
  store_be64(p + layout::kMaxTimestamp, static_cast<uint64_t>(max_timestamp));

  // For equal-length messages, crc(m1) xor crc(m2) = raw CRC (zero start, no final xor) of m1 xor m2. The xor is
  // zero outside [kFrom, kTo), so its CRC is that of the changed window followed by (end - kTo) zero bytes.
  uint8_t diff[kTo - kFrom];
  for (size_t i = 0; i < sizeof diff; ++i) diff[i] = static_cast<uint8_t>(before[i] ^ p[kFrom + i]);
  uint32_t delta = detail::crc32c_software_raw(0, diff, sizeof diff);
  delta = detail::crc32c_multmod(detail::crc32c_x8n(h->total_size() - kTo), delta);
  store_be32(p + layout::kCrc, h->crc ^ delta);
  return RecordError::ok;
}

RecordError rewrite_crc(MutableByteSpan batch) {
  Result<BatchHeader> h = whole_batch(batch);
  if (!h) return h.error();
  const uint32_t crc = crc32c(batch.data() + layout::kCrcStart, h->total_size() - layout::kCrcStart);
  store_be32(batch.data() + layout::kCrc, crc);
  return RecordError::ok;
}

}  // namespace floe::record
