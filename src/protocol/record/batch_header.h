// Kafka record batch v2 (magic 2): the fixed 61-byte header, its attributes, and its validation.
//
// All integers are big-endian. Offsets are from the start of the batch.
//
//   offset size
//  +------+----+--------------------------------------------------------------+
//  |    0 |  8 | baseOffset int64                                             |
//  |    8 |  4 | batchLength int32: bytes after this field (total size - 12)  |
//  |   12 |  4 | partitionLeaderEpoch int32        (outside the CRC)          |
//  |   16 |  1 | magic int8 = 2                                               |
//  |   17 |  4 | crc uint32: CRC-32C of bytes [21, end)                       |
//  +======+====+===== CRC-covered from here ==================================+
//  |   21 |  2 | attributes int16                                             |
//  |      |    |   bits 0-2 compression: 0 none 1 gzip 2 snappy 3 lz4 4 zstd |
//  |      |    |   bit 3 timestamp type (0 CreateTime, 1 LogAppendTime)       |
//  |      |    |   bit 4 transactional, bit 5 control, bit 6 delete horizon   |
//  |   23 |  4 | lastOffsetDelta int32                                        |
//  |   27 |  8 | baseTimestamp int64                                          |
//  |   35 |  8 | maxTimestamp int64                                           |
//  |   43 |  8 | producerId int64                                             |
//  |   51 |  2 | producerEpoch int16                                          |
//  |   53 |  4 | baseSequence int32                                           |
//  |   57 |  4 | records count int32                                          |
//  +------+----+--------------------------------------------------------------+
//  |   61 |  * | records; one compressed stream when compression != 0         |
//  +------+----+--------------------------------------------------------------+
//
// Each record (record_reader.h): length varint (bytes after itself), attributes int8, timestampDelta varlong,
// offsetDelta varint, key length varint (-1 null) + key, value length varint (-1 null) + value, header count
// varint, then per header: key length varint + key (UTF-8, never null), value length varint (-1 null) + value.
// "varint"/"varlong" are zig-zag encoded, 7 bits per byte, low group first.
//
// Message formats v0/v1 (magic 0/1) put their magic byte at the same offset 16, which is how they are told apart
// and answered with UNSUPPORTED_FOR_MESSAGE_FORMAT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/record/errors.h"

namespace floe::record {

using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

namespace layout {
inline constexpr size_t kBaseOffset = 0;
inline constexpr size_t kBatchLength = 8;
inline constexpr size_t kPartitionLeaderEpoch = 12;
inline constexpr size_t kMagic = 16;
inline constexpr size_t kCrc = 17;
inline constexpr size_t kAttributes = 21;
inline constexpr size_t kLastOffsetDelta = 23;
inline constexpr size_t kBaseTimestamp = 27;
inline constexpr size_t kMaxTimestamp = 35;
inline constexpr size_t kProducerId = 43;
inline constexpr size_t kProducerEpoch = 51;
inline constexpr size_t kBaseSequence = 53;
inline constexpr size_t kRecordsCount = 57;
inline constexpr size_t kHeaderSize = 61;       // the records start here
inline constexpr size_t kLogOverhead = 12;      // baseOffset + batchLength: bytes not counted in batchLength
inline constexpr size_t kCrcStart = kAttributes;
inline constexpr int32_t kMinBatchLength = static_cast<int32_t>(kHeaderSize - kLogOverhead);  // 49
}  // namespace layout

inline constexpr int8_t kMagicV2 = 2;

enum class Compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
enum class TimestampType : uint8_t { create_time = 0, log_append_time = 1 };

namespace attr {
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampType = 0x08;
inline constexpr int16_t kTransactional = 0x10;
inline constexpr int16_t kControl = 0x20;
inline constexpr int16_t kDeleteHorizon = 0x40;
}  // namespace attr

const char* compression_name(Compression c);  // "none", "gzip", ...

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = -1;
  int8_t magic = kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  // Raw compression bits; values 5..7 are invalid (parse_batch_header() rejects them).
  Compression compression() const { return static_cast<Compression>(attributes & attr::kCompressionMask); }
  TimestampType timestamp_type() const {
    return (attributes & attr::kTimestampType) ? TimestampType::log_append_time : TimestampType::create_time;
  }
  bool is_transactional() const { return (attributes & attr::kTransactional) != 0; }
  bool is_control() const { return (attributes & attr::kControl) != 0; }
  bool has_delete_horizon() const { return (attributes & attr::kDeleteHorizon) != 0; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  // Whole batch in bytes, including the 12 bytes that batchLength does not count.
  size_t total_size() const { return layout::kLogOverhead + static_cast<size_t>(batch_length); }
};

// Largest batchLength accepted unless the caller says otherwise (Kafka's default message.max.bytes is ~1 MiB;
// this is a sanity bound, the broker passes its configured limit).
inline constexpr int32_t kDefaultMaxBatchLength = 64 << 20;

// Parses and checks the fixed header at the start of `bytes`. Needs the 61 header bytes, not the whole batch.
// Checks, in Kafka's order: 12 bytes present, batchLength sane (>= 49 and <= max_batch_length), magic (0/1 ->
// unsupported_magic, others than 2 -> unknown_magic), 61 bytes present, known compression codec, records count
// not negative. Does not check the CRC nor that the whole batch is present (BatchView does).
Result<BatchHeader> parse_batch_header(ByteSpan bytes, int32_t max_batch_length = kDefaultMaxBatchLength);

// Writes all 61 header bytes from `h` (crc as given; see batch_view.h for computing it). `out` must hold 61 bytes.
void write_batch_header(const BatchHeader& h, MutableByteSpan out);

// Big-endian helpers for fixed fields.
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint64_t load_be64(const uint8_t* p) { return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4); }
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace floe::record
