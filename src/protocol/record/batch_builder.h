// Encoding record batches v2: records in, one batch out (header, records compressed as one stream, CRC-32C).
//
//   BatchBuilder b({.compression = Compression::zstd, .producer_id = 7, .producer_epoch = 0, .base_sequence = 0});
//   b.add({.key = k, .value = v, .timestamp = now_ms});
//   Bytes batch;
//   if (RecordError e = b.build(batch); e != RecordError::ok) ...
//
// As the Java producer does: baseTimestamp is the first record's timestamp, maxTimestamp the largest one, and
// offset deltas count 0, 1, 2, ... (add_at() allows gaps, as compaction leaves). To stamp LogAppendTime, build
// and then call set_max_timestamp() (batch_view.h). An empty batch cannot be built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/record/batch_header.h"
#include "protocol/record/compression.h"
#include "protocol/record/record_reader.h"

namespace floe::record {

struct NewRecord {
  std::optional<ByteSpan> key;    // nullopt = null key
  std::optional<ByteSpan> value;  // nullopt = null value
  int64_t timestamp = 0;
  std::span<const Header> headers = {};
};

struct BatchOptions {
  Compression compression = Compression::none;
  CompressOptions compress_options = {};
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = -1;    // -1: not idempotent
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
  TimestampType timestamp_type = TimestampType::create_time;
};

class BatchBuilder {
 public:
  explicit BatchBuilder(const BatchOptions& options = {}) : options_(options) {}

  // Appends a record with the next offset delta (one more than the last).
  RecordError add(const NewRecord& record) { return add_at(next_delta_, record); }
  // Appends a record at an explicit offset delta, above every earlier one.
  RecordError add_at(int32_t offset_delta, const NewRecord& record);

  // Makes room for `record_bytes` of encoded records, to avoid regrowing the buffer while adding.
  void reserve(size_t record_bytes) { records_.reserve(record_bytes); }

  int32_t count() const { return count_; }
  size_t records_size() const { return records_.size(); }  // uncompressed bytes so far
  const BatchOptions& options() const { return options_; }

  // Appends the encoded batch to `out` (on failure `out` is unchanged). The builder keeps its records and may
  // build again; clear() starts a new batch with the same options and keeps the buffer's capacity.
  RecordError build(Bytes& out) const;
  Result<Bytes> build() const;
  void clear();

 private:
  BatchOptions options_;
  Bytes records_;  // encoded records, uncompressed
  int32_t count_ = 0;
  int32_t next_delta_ = 0;
  int32_t last_delta_ = -1;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
};

// Bytes a record takes in a batch (uncompressed, length prefix included); nullopt when it cannot be encoded.
std::optional<size_t> encoded_record_size(int32_t offset_delta, int64_t timestamp_delta, const NewRecord& record);

}  // namespace floe::record
