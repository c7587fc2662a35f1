#include "protocol/record/record_set.h"

namespace floe::record {

Result<RecordSet> RecordSet::open(const BatchView& batch, size_t max_decompressed, Bytes buffer) {
  RecordSet set;
  set.owned_ = std::move(buffer);
  set.owned_.clear();
  set.header_ = batch.header();
  const Compression codec = set.header_.compression();
  if (codec == Compression::none) {
    set.borrowed_ = batch.records_bytes();
    return set;
  }
  set.compressed_ = true;
  if (RecordError e = decompress(codec, batch.records_bytes(), set.owned_, max_decompressed); e != RecordError::ok)
    return e;
  return set;
}

RecordError validate_batch(const BatchView& batch, const ValidateOptions& options) {
  const BatchHeader& h = batch.header();
  if (options.check_crc)
    if (RecordError e = batch.verify_crc(); e != RecordError::ok) return e;
  // Kafka refuses batches whose offset range disagrees with their count. Compaction may leave fewer records than
  // the range (even none), never more.
  if (h.last_offset_delta < h.records_count - 1) return RecordError::invalid_record;
  if (options.contiguous_offsets && (h.records_count == 0 || h.last_offset_delta != h.records_count - 1))
    return RecordError::invalid_record;

  Result<RecordSet> set = RecordSet::open(batch, options.max_decompressed,
                                          options.scratch ? std::move(*options.scratch) : Bytes{});
  if (!set) return set.error();
  RecordError result = RecordError::ok;
  {
    RecordReader reader = set->reader();
    RecordView r;
    int64_t previous = -1;
    while (reader.next(r)) {
      const bool in_order = options.contiguous_offsets ? r.offset_delta == previous + 1 : r.offset_delta > previous;
      if (!in_order || r.offset_delta > h.last_offset_delta) {
        result = RecordError::invalid_record;
        break;
      }
      previous = r.offset_delta;
    }
    if (result == RecordError::ok) result = reader.error();
  }
  if (options.scratch) *options.scratch = std::move(*set).take_buffer();
  return result;
}

}  // namespace floe::record
