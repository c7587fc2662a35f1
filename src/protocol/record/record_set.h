// The records of one batch, ready to read: the batch's own bytes when uncompressed, else one owned buffer holding
// the decompressed records section (bounded by the caller). Record and header views point into that buffer, so
// they live as long as the RecordSet (and, when uncompressed, as long as the batch's buffer).
//
//   Result<RecordSet> set = RecordSet::open(batch, limits.max_decompressed);
//   if (!set) return kafka_error_code(set.error());
//   RecordReader reader = set->reader();
//   for (RecordView r; reader.next(r);) { ... r.key, r.value, r.headers() ... }
//   if (reader.error() != RecordError::ok) ...
#pragma once

#include <cstddef>
#include <utility>

#include "protocol/record/batch_view.h"
#include "protocol/record/compression.h"
#include "protocol/record/record_reader.h"

namespace floe::record {

class RecordSet {
 public:
  // Decompresses when the batch is compressed. Does not check the CRC (BatchView::verify_crc does).
  // `buffer` is only storage to reuse (its contents are discarded): pass what take_buffer() returned for an
  // earlier batch to save the allocation and page faults of a fresh buffer per batch.
  static Result<RecordSet> open(const BatchView& batch, size_t max_decompressed = kDefaultMaxDecompressedBytes,
                                Bytes buffer = {});

  RecordSet(const RecordSet&) = delete;  // views may point into owned_: copying would leave them dangling
  RecordSet& operator=(const RecordSet&) = delete;
  RecordSet(RecordSet&&) = default;  // a vector's move keeps its heap buffer, so views stay valid
  RecordSet& operator=(RecordSet&&) = default;

  const BatchHeader& header() const { return header_; }
  ByteSpan records_bytes() const { return compressed_ ? ByteSpan(owned_) : borrowed_; }
  bool decompressed() const { return compressed_; }
  RecordReader reader() const { return RecordReader(records_bytes(), header_.records_count); }
  // Hands the owned buffer back for reuse; the set and every view into it are done with.
  Bytes take_buffer() && { return std::move(owned_); }

 private:
  RecordSet() = default;
  BatchHeader header_;
  ByteSpan borrowed_;
  Bytes owned_;
  bool compressed_ = false;
};

struct ValidateOptions {
  size_t max_decompressed = kDefaultMaxDecompressedBytes;
  // Offset deltas must be 0, 1, 2, ... as every producer writes them. Off for batches from compaction, which
  // keeps offsets but may drop records.
  bool contiguous_offsets = true;
  bool check_crc = true;
  // Storage for the decompressed records of a compressed batch, reused across calls (contents discarded): saves a
  // fresh buffer (allocation and page faults) per batch. Null: a buffer per call. lz4 batches use it as a window of
  // 256 KiB (more only for a record larger than that), the other codecs for the whole decompressed batch.
  Bytes* scratch = nullptr;
};

// Everything a broker checks before appending a produced batch, short of producer-state rules: the CRC, that the
// records decompress within the bound and parse exactly, that their number matches the header's count and
// lastOffsetDelta, and (optionally) that offset deltas are contiguous from 0.
// Compressed batches are decompressed to check their records, as Kafka's broker does on produce (a batch whose CRC
// is right but whose compressed records are garbage would otherwise reach every consumer); lz4 batches piece by
// piece through a small window (PieceDecoder), never the whole batch at once.
RecordError validate_batch(const BatchView& batch, const ValidateOptions& options = {});

}  // namespace floe::record
