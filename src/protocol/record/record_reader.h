// Records and headers of an (uncompressed or already decompressed) records section, as views: keys, values and
// header fields are spans into that buffer, nothing is copied. RecordSet (record_set.h) gives you the buffer of a
// batch; RecordReader walks it.
//
// A record, fields in order (varint/varlong: zig-zag, see batch_header.h):
//   length varint          bytes of the record after this field
//   attributes int8        unused, 0
//   timestampDelta varlong  timestamp - batch baseTimestamp
//   offsetDelta varint      offset - batch baseOffset
//   keyLength varint, key   negative = null key
//   valueLength varint, value  negative = null value
//   headerCount varint, then per header: keyLength varint (>= 0), key (UTF-8), valueLength varint (negative = null),
//   value
// Null lengths are read as Kafka reads them (any negative value); writers use -1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "protocol/record/batch_header.h"
#include "protocol/record/errors.h"

namespace floe::record {

struct Header {
  std::string_view key;
  std::optional<ByteSpan> value;  // nullopt = null value
};

// The headers of one record. The section was fully checked when the record was read, so iterating cannot fail.
class HeaderRange {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = const Header*;
    using reference = const Header&;

    iterator() = default;
    iterator(ByteSpan rest, int32_t left) : rest_(rest), left_(left) { load(); }
    reference operator*() const { return current_; }
    pointer operator->() const { return &current_; }
    iterator& operator++() {
      --left_;
      load();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& o) const { return left_ == o.left_; }

   private:
    void load();
    ByteSpan rest_;
    int32_t left_ = 0;
    Header current_;
  };

  HeaderRange() = default;
  HeaderRange(ByteSpan bytes, int32_t count) : bytes_(bytes), count_(count) {}
  iterator begin() const { return iterator(bytes_, count_); }
  iterator end() const { return iterator(); }
  int32_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  ByteSpan bytes_;
  int32_t count_ = 0;
};

struct RecordView {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<ByteSpan> key;    // nullopt = null key
  std::optional<ByteSpan> value;  // nullopt = null value (a tombstone on compacted topics)
  int32_t header_count = 0;
  ByteSpan headers_bytes;         // the raw header section (header_count headers)
  ByteSpan bytes;                 // the whole record, length prefix included

  HeaderRange headers() const { return HeaderRange(headers_bytes, header_count); }
  int64_t offset(const BatchHeader& batch) const { return batch.base_offset + offset_delta; }
  // LogAppendTime batches carry the broker's time in maxTimestamp, for every record.
  int64_t timestamp(const BatchHeader& batch) const {
    if (batch.timestamp_type() == TimestampType::log_append_time) return batch.max_timestamp;
    return static_cast<int64_t>(static_cast<uint64_t>(batch.base_timestamp) + static_cast<uint64_t>(timestamp_delta));
  }
};

// Reads `count` records from `records` (the records section, decompressed):
//   RecordReader reader(bytes, count);
//   RecordView r;
//   while (reader.next(r)) { ... }
//   if (reader.error() != RecordError::ok) { ... }   // invalid_record
// Each record must use exactly its declared length, and after `count` records no byte may remain.
class RecordReader {
 public:
  RecordReader(ByteSpan records, int32_t count) : rest_(records), left_(count < 0 ? 0 : count) {
    if (count < 0) error_ = RecordError::invalid_record;
  }

  bool next(RecordView& out);
  RecordError error() const { return error_; }
  int32_t remaining() const { return left_; }

 private:
  ByteSpan rest_;
  int32_t left_;
  RecordError error_ = RecordError::ok;
};

// Parses one record at the start of `bytes` (for tools and tests); consumes it from `bytes` on success.
RecordError read_record(ByteSpan& bytes, RecordView& out);

}  // namespace floe::record
