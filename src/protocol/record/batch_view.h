// Whole record batches inside a byte buffer: a checked view of one batch, splitting a produce/fetch `records` blob
// into its batches, CRC verification, and the in-place edits a broker makes without re-encoding.
//
// Nothing here copies or allocates: views point into the caller's buffer, which must outlive them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/record/batch_header.h"
#include "protocol/record/errors.h"

namespace floe::record {

class BatchView {
 public:
  BatchView() = default;

  // The batch at the start of `bytes` (bytes after it are ignored). Checks the header (parse_batch_header) and
  // that the whole batch is present; does not check the CRC (verify_crc) nor the records (RecordSet).
  static Result<BatchView> parse(ByteSpan bytes, int32_t max_batch_length = kDefaultMaxBatchLength);

  const BatchHeader& header() const { return header_; }
  ByteSpan bytes() const { return bytes_; }  // the whole batch, header included
  ByteSpan records_bytes() const { return bytes_.subspan(layout::kHeaderSize); }  // compressed when compressed

  uint32_t compute_crc() const;  // CRC-32C of bytes [21, end)
  RecordError verify_crc() const { return compute_crc() == header_.crc ? RecordError::ok : RecordError::crc_mismatch; }

 private:
  BatchHeader header_;
  ByteSpan bytes_;
};

// Walks the batches of a `records` blob in order:
//   BatchSplitter split(blob);
//   BatchView batch;
//   while (split.next(batch)) { ... }
//   if (split.error() != RecordError::ok) { ... }
// A produce request's blob must hold whole batches only (Tail::reject: a partial last batch is `truncated`). A
// fetch response may end with a partial batch when the broker cut it at the size limit (Tail::allow_partial: the
// split ends cleanly and truncated_tail() is true). Header errors are reported in both modes.
class BatchSplitter {
 public:
  enum class Tail { reject, allow_partial };

  explicit BatchSplitter(ByteSpan blob, Tail tail = Tail::reject, int32_t max_batch_length = kDefaultMaxBatchLength)
      : blob_(blob), tail_(tail), max_batch_length_(max_batch_length) {}

  // The next complete batch; false at the end of the blob or on error.
  bool next(BatchView& out);
  RecordError error() const { return error_; }
  bool truncated_tail() const { return truncated_tail_; }
  size_t position() const { return pos_; }  // bytes of complete batches returned so far

 private:
  ByteSpan blob_;
  Tail tail_;
  int32_t max_batch_length_;
  size_t pos_ = 0;
  RecordError error_ = RecordError::ok;
  bool truncated_tail_ = false;
};

// Splits and CRC-checks a whole produce blob; ok when it holds at least one batch and all are sound. `count`, when
// given, receives the number of batches.
RecordError verify_batches(ByteSpan blob, size_t* count = nullptr, int32_t max_batch_length = kDefaultMaxBatchLength);

// ---- In-place edits of one batch in writable memory (the first batch of `batch`; it must be whole). ----

// Fields outside the CRC: no CRC work.
RecordError set_base_offset(MutableByteSpan batch, int64_t base_offset);
RecordError set_partition_leader_epoch(MutableByteSpan batch, int32_t epoch);

// Sets the timestamp type bit and maxTimestamp (LogAppendTime: type log_append_time and the broker's clock). These
// are inside the CRC, which is updated from the changed bytes alone (CRC-32C is linear), in time independent of
// the batch size. A batch whose CRC was wrong before stays wrong: the update cannot launder corrupt data.
RecordError set_max_timestamp(MutableByteSpan batch, TimestampType type, int64_t max_timestamp);

// Recomputes the crc field from the bytes (for batches assembled by hand).
RecordError rewrite_crc(MutableByteSpan batch);

}  // namespace floe::record
