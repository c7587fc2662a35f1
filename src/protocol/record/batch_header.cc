#include "protocol/record/batch_header.h"

namespace floe::record {

namespace {
// Smallest legal size of anything that may sit in a records blob (a v0 message), checked before the magic is
// trusted, as Kafka does.
constexpr int32_t kMinAnyRecordSize = 14;
constexpr size_t kBytesUpToMagic = layout::kMagic + 1;
}  // namespace

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::snappy: return "snappy";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "unknown";
}

Result<BatchHeader> parse_batch_header(ByteSpan bytes, int32_t max_batch_length) {
  if (bytes.size() < layout::kLogOverhead) return RecordError::truncated;
  const uint8_t* p = bytes.data();
  BatchHeader h;
  h.base_offset = static_cast<int64_t>(load_be64(p + layout::kBaseOffset));
  h.batch_length = static_cast<int32_t>(load_be32(p + layout::kBatchLength));
  if (h.batch_length < kMinAnyRecordSize || h.batch_length > max_batch_length) return RecordError::bad_batch_length;
  if (bytes.size() < kBytesUpToMagic) return RecordError::truncated;
  h.magic = static_cast<int8_t>(p[layout::kMagic]);
  if (h.magic == 0 || h.magic == 1) return RecordError::unsupported_magic;
  if (h.magic != kMagicV2) return RecordError::unknown_magic;
  if (h.batch_length < layout::kMinBatchLength) return RecordError::bad_batch_length;
  if (bytes.size() < layout::kHeaderSize) return RecordError::truncated;

  h.partition_leader_epoch = static_cast<int32_t>(load_be32(p + layout::kPartitionLeaderEpoch));
  h.crc = load_be32(p + layout::kCrc);
  h.attributes = static_cast<int16_t>(load_be16(p + layout::kAttributes));
  h.last_offset_delta = static_cast<int32_t>(load_be32(p + layout::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(load_be64(p + layout::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(load_be64(p + layout::kMaxTimestamp));
  h.producer_id = static_cast<int64_t>(load_be64(p + layout::kProducerId));
  h.producer_epoch = static_cast<int16_t>(load_be16(p + layout::kProducerEpoch));
  h.base_sequence = static_cast<int32_t>(load_be32(p + layout::kBaseSequence));
  h.records_count = static_cast<int32_t>(load_be32(p + layout::kRecordsCount));
  if ((h.attributes & attr::kCompressionMask) > static_cast<int16_t>(Compression::zstd))
    return RecordError::unknown_compression;
  if (h.records_count < 0) return RecordError::invalid_record;
  return h;
}

void write_batch_header(const BatchHeader& h, MutableByteSpan out) {
  uint8_t* p = out.data();
  store_be64(p + layout::kBaseOffset, static_cast<uint64_t>(h.base_offset));
  store_be32(p + layout::kBatchLength, static_cast<uint32_t>(h.batch_length));
  store_be32(p + layout::kPartitionLeaderEpoch, static_cast<uint32_t>(h.partition_leader_epoch));
  p[layout::kMagic] = static_cast<uint8_t>(h.magic);
  store_be32(p + layout::kCrc, h.crc);
  store_be16(p + layout::kAttributes, static_cast<uint16_t>(h.attributes));
  store_be32(p + layout::kLastOffsetDelta, static_cast<uint32_t>(h.last_offset_delta));
  store_be64(p + layout::kBaseTimestamp, static_cast<uint64_t>(h.base_timestamp));
  store_be64(p + layout::kMaxTimestamp, static_cast<uint64_t>(h.max_timestamp));
  store_be64(p + layout::kProducerId, static_cast<uint64_t>(h.producer_id));
  store_be16(p + layout::kProducerEpoch, static_cast<uint16_t>(h.producer_epoch));
  store_be32(p + layout::kBaseSequence, static_cast<uint32_t>(h.base_sequence));
  store_be32(p + layout::kRecordsCount, static_cast<uint32_t>(h.records_count));
}

}  // namespace floe::record
