#include "protocol/record/record_set.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>

#include "protocol/wire.h"

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

namespace {

// Smallest record body (record_reader.cc): attributes, timestampDelta, offsetDelta, key, value, header count.
constexpr int32_t kMinRecordBody = 6;
// The window a compressed batch's records are checked through (validate_in_pieces): fits in a core's L2 cache
// next to the decoder's own state, and holds hundreds of typical records.
constexpr size_t kValidateWindowBytes = 256u << 10;
// A record's length prefix takes at most this many bytes (a varint of 32 bits).
constexpr size_t kMaxLengthPrefix = 5;

// The order of offset deltas: ascending (0, 1, 2, ... with contiguous_offsets) and within lastOffsetDelta.
struct OffsetOrder {
  int32_t last_offset_delta;
  bool contiguous;
  int64_t previous = -1;
  bool accept(const RecordView& r) {
    const bool in_order = contiguous ? r.offset_delta == previous + 1 : r.offset_delta > previous;
    previous = r.offset_delta;
    return in_order && r.offset_delta <= last_offset_delta;
  }
};

// The records of a compressed batch whose codec decodes piece by piece (lz4), checked through a window of the
// output (kValidateWindowBytes; larger only for a record that does not fit) instead of the whole decompressed batch:
// no buffer of the batch's full size to zero-fill and fault in, and the bytes are parsed while still in cache.
// Answers exactly as the whole-buffer path (RecordSet + RecordReader): a decompression failure or an output over
// max_decompressed wins over a record error found before it, so after a record error the rest is still decoded
// (without parsing) to find out.
RecordError validate_in_pieces(PieceDecoder& decoder, const BatchHeader& h, const ValidateOptions& options,
                               Bytes& window) {
  if (window.size() < kValidateWindowBytes) window.resize(kValidateWindowBytes);
  size_t begin = 0, end = 0;  // decoded, not yet parsed: window[begin, end)
  size_t total = 0;           // bytes decoded so far
  int32_t left = h.records_count;
  RecordError record_error = h.records_count < 0 ? RecordError::invalid_record : RecordError::ok;
  OffsetOrder order{h.last_offset_delta, options.contiguous_offsets};
  for (;;) {
    // Every whole record in the window.
    while (record_error == RecordError::ok && begin < end) {
      ByteSpan rest(window.data() + begin, end - begin);
      if (left == 0) {
        record_error = RecordError::invalid_record;  // bytes after the declared records
        break;
      }
      proto::Reader prefix(rest);
      const int32_t length = prefix.varint();
      if (!prefix.ok()) {
        // A length prefix cut by the window's end waits for more; anything else is malformed.
        if (rest.size() >= kMaxLengthPrefix || decoder.finished()) record_error = RecordError::invalid_record;
        break;
      }
      if (length < kMinRecordBody) {
        record_error = RecordError::invalid_record;
        break;
      }
      const size_t need = (rest.size() - prefix.remaining()) + static_cast<size_t>(length);
      if (need > rest.size()) {
        if (decoder.finished()) {
          record_error = RecordError::invalid_record;  // the payload ends inside the record
        } else if (need > options.max_decompressed) {
          // Cannot fit the limit: either the payload ends before the record does (invalid_record) or it runs
          // past the limit (decompressed_too_large, found by decoding on).
          record_error = RecordError::invalid_record;
        } else if (need > window.size()) {
          window.resize(need);  // a record larger than the window: grow it once, bounded by max_decompressed
        }
        break;
      }
      ByteSpan one = rest.first(need);
      RecordView r;
      if (read_record(one, r) != RecordError::ok || !order.accept(r)) {
        record_error = RecordError::invalid_record;
        break;
      }
      --left;
      begin += need;
    }
    if (decoder.finished()) break;
    if (record_error == RecordError::ok) {
      // The unparsed tail (part of one record) moves to the front; the next piece is decoded after it.
      if (begin > 0) std::memmove(window.data(), window.data() + begin, end - begin);
      end -= begin;
    } else {
      end = 0;  // decoded only to check the payload from here on
    }
    begin = 0;
    // Never more than one byte past the limit per read, as the whole-buffer path's output window allows: a payload
    // that is both over the limit and corrupt further on gets the same answer from both.
    const size_t room = std::min(window.size() - end, options.max_decompressed + 1 - total);
    size_t produced = 0;
    if (RecordError e = decoder.read(std::span<uint8_t>(window.data() + end, room), produced); e != RecordError::ok) {
      return e;
    }
    total += produced;
    if (total > options.max_decompressed) return RecordError::decompressed_too_large;
    if (record_error == RecordError::ok) end += produced;
  }
  if (record_error != RecordError::ok) return record_error;
  return left == 0 ? RecordError::ok : RecordError::invalid_record;  // fewer records than declared
}

}  // namespace

RecordError validate_batch(const BatchView& batch, const ValidateOptions& options) {
  const BatchHeader& h = batch.header();
  if (options.check_crc)
    if (RecordError e = batch.verify_crc(); e != RecordError::ok) return e;
  // Kafka refuses batches whose offset range disagrees with their count. Compaction may leave fewer records than
  // the range (even none), never more.
  if (h.last_offset_delta < h.records_count - 1) return RecordError::invalid_record;
  if (options.contiguous_offsets && (h.records_count == 0 || h.last_offset_delta != h.records_count - 1))
    return RecordError::invalid_record;

  // Compressed: the records are checked as Kafka's broker checks them (it decompresses every produced batch to
  // validate its records), through a window where the codec allows it.
  if (std::optional<PieceDecoder> decoder = PieceDecoder::open(h.compression(), batch.records_bytes())) {
    Bytes local;
    return validate_in_pieces(*decoder, h, options, options.scratch ? *options.scratch : local);
  }
  Result<RecordSet> set = RecordSet::open(batch, options.max_decompressed,
                                          options.scratch ? std::move(*options.scratch) : Bytes{});
  if (!set) return set.error();
  RecordError result = RecordError::ok;
  {
    RecordReader reader = set->reader();
    RecordView r;
    OffsetOrder order{h.last_offset_delta, options.contiguous_offsets};
    while (reader.next(r)) {
      if (!order.accept(r)) {
        result = RecordError::invalid_record;
        break;
      }
    }
    if (result == RecordError::ok) result = reader.error();
  }
  if (options.scratch) *options.scratch = std::move(*set).take_buffer();
  return result;
}

}  // namespace floe::record
