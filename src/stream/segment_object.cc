#include "stream/segment_object.h"

#include <algorithm>

#include "protocol/record/crc32c.h"
#include "protocol/wire.h"
#include "stream/errc.h"

namespace floe::stream {
namespace {

Error corrupt(std::string_view name, const std::string& what) {
  return Error{Errc::corrupt_object, "segment object " + std::string(name) + ": " + what};
}

bool before(const BlockInfo& a, const BlockInfo& b) {
  return a.stream_id < b.stream_id || (a.stream_id == b.stream_id && a.last_offset < b.first_offset);
}

}  // namespace

Status SegmentWriter::add(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                          ByteSpan batches) {
  const ByteSpan parts[] = {batches};
  return add_parts(stream_id, first_offset, last_offset, max_timestamp, parts);
}

Status SegmentWriter::add_parts(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                                std::span<const ByteSpan> parts) {
  return add_block(stream_id, first_offset, last_offset, max_timestamp, parts, false);
}

Status SegmentWriter::add_parts_by_reference(uint64_t stream_id, int64_t first_offset, int64_t last_offset,
                                             int64_t max_timestamp, std::span<const ByteSpan> parts) {
  return add_block(stream_id, first_offset, last_offset, max_timestamp, parts, true);
}

Status SegmentWriter::add_block(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                                std::span<const ByteSpan> parts, bool by_reference) {
  size_t size = 0;
  for (const ByteSpan& p : parts) size += p.size();
  if (first_offset < 0 || last_offset < first_offset || size == 0 || size > UINT32_MAX) {
    return Error{Errc::invalid_argument, "segment block: bad offsets or size"};
  }
  if (by_reference ? !data_.empty() : referenced_bytes_ > 0) {
    return Error{Errc::invalid_argument, "segment block: an object is built by copy or by reference, not both"};
  }
  const uint64_t position = by_reference ? referenced_bytes_ : data_.size();
  BlockInfo b{stream_id, first_offset, last_offset, max_timestamp, position, static_cast<uint32_t>(size), 0};
  if (!index_.empty() && !before(index_.back(), b)) {
    return Error{Errc::invalid_argument, "segment block: out of (stream, offset) order"};
  }
  if (by_reference) {
    for (const ByteSpan& p : parts) {
      b.crc = record::crc32c(p, b.crc);
      referenced_.push_back(p);
    }
    referenced_bytes_ += size;
  } else {
    if (data_.capacity() < data_.size() + size) data_.reserve(std::max(data_.size() + size, 2 * data_.capacity()));
    for (const ByteSpan& p : parts) {
      b.crc = record::crc32c(p, b.crc);
      data_.append(reinterpret_cast<const char*>(p.data()), p.size());
    }
  }
  index_.push_back(b);
  return ok_status();
}

std::string SegmentWriter::tail(uint64_t index_position) const {
  Bytes tail;
  proto::Writer w(tail);
  for (const BlockInfo& b : index_) {
    w.i64(static_cast<int64_t>(b.stream_id));
    w.i64(b.first_offset);
    w.i64(b.last_offset);
    w.i64(b.max_timestamp);
    w.i64(static_cast<int64_t>(b.position));
    w.u32(b.size);
    w.u32(b.crc);
  }
  const auto index_length = static_cast<uint32_t>(tail.size());
  const uint32_t index_crc = record::crc32c(tail.data(), index_length);
  const size_t footer_at = tail.size();
  w.i64(static_cast<int64_t>(index_position));
  w.u32(index_length);
  w.u32(index_crc);
  w.u16(kSegmentFormatVersion);
  w.u16(0);
  w.u32(record::crc32c(tail.data() + footer_at, 20));
  w.i64(static_cast<int64_t>(kSegmentMagic));
  return std::string(reinterpret_cast<const char*>(tail.data()), tail.size());
}

std::string SegmentWriter::finish_string() {
  const std::string t = tail(data_.size());
  std::string out = std::move(data_);
  out.append(t);
  data_.clear();
  index_.clear();
  return out;
}

SegmentWriter::Pieces SegmentWriter::finish_pieces() {
  Pieces out;
  out.tail = tail(referenced_bytes_);
  out.size = referenced_bytes_ + out.tail.size();
  out.blocks = std::move(referenced_);
  referenced_.clear();
  referenced_bytes_ = 0;
  index_.clear();
  return out;
}

Bytes SegmentWriter::finish() {
  std::string s = finish_string();
  return Bytes(s.begin(), s.end());
}

Result<SegmentFooter> SegmentIndex::parse_footer(ByteSpan last_bytes, uint64_t object_size, std::string_view name) {
  if (object_size < kSegmentFooterSize || last_bytes.size() < kSegmentFooterSize) {
    return corrupt(name, "shorter than its footer");
  }
  ByteSpan f = last_bytes.last(kSegmentFooterSize);
  proto::Reader r(f);
  SegmentFooter footer;
  footer.index_position = static_cast<uint64_t>(r.i64());
  footer.index_length = r.u32();
  footer.index_crc = r.u32();
  uint16_t version = r.u16();
  r.u16();
  uint32_t footer_crc = r.u32();
  auto magic = static_cast<uint64_t>(r.i64());
  if (magic != kSegmentMagic) return corrupt(name, "bad magic (not a segment object)");
  if (footer_crc != record::crc32c(f.data(), 20)) return corrupt(name, "footer checksum mismatch");
  if (version != kSegmentFormatVersion) return corrupt(name, "unknown format version " + std::to_string(version));
  if (footer.index_length % kSegmentIndexEntrySize != 0 ||
      footer.index_position + footer.index_length + kSegmentFooterSize != object_size) {
    return corrupt(name, "index range does not fit the object size");
  }
  return footer;
}

Result<SegmentIndex> SegmentIndex::parse_tail(ByteSpan tail, uint64_t object_size, std::string_view name) {
  auto footer = parse_footer(tail, object_size, name);
  if (!footer) return footer.error();
  const uint64_t needed = footer->index_length + kSegmentFooterSize;
  if (tail.size() < needed) return corrupt(name, "tail shorter than index and footer");
  ByteSpan index = tail.subspan(tail.size() - needed, footer->index_length);
  if (record::crc32c(index) != footer->index_crc) return corrupt(name, "index checksum mismatch");

  SegmentIndex out;
  out.data_size_ = footer->index_position;
  proto::Reader r(index);
  uint64_t expected_position = 0;
  out.blocks_.reserve(footer->index_length / kSegmentIndexEntrySize);
  while (!r.at_end()) {
    BlockInfo b;
    b.stream_id = static_cast<uint64_t>(r.i64());
    b.first_offset = r.i64();
    b.last_offset = r.i64();
    b.max_timestamp = r.i64();
    b.position = static_cast<uint64_t>(r.i64());
    b.size = r.u32();
    b.crc = r.u32();
    if (b.position != expected_position || b.size == 0) return corrupt(name, "blocks not contiguous");
    if (b.first_offset < 0 || b.last_offset < b.first_offset) return corrupt(name, "block with bad offsets");
    if (!out.blocks_.empty() && !before(out.blocks_.back(), b)) return corrupt(name, "blocks out of order");
    expected_position += b.size;
    out.blocks_.push_back(b);
  }
  if (expected_position != out.data_size_) return corrupt(name, "blocks do not cover the data section");
  return out;
}

Result<SegmentIndex> SegmentIndex::parse_object(ByteSpan object, std::string_view name) {
  auto index = parse_tail(object, object.size(), name);
  if (!index) return index;
  for (const BlockInfo& b : index->blocks()) {
    if (auto st = verify_block(b, object.subspan(b.position, b.size), name); !st) return st.error();
  }
  return index;
}

std::span<const BlockInfo> SegmentIndex::blocks_of(uint64_t stream_id) const {
  auto lo = std::lower_bound(blocks_.begin(), blocks_.end(), stream_id,
                             [](const BlockInfo& b, uint64_t s) { return b.stream_id < s; });
  auto hi =
      std::upper_bound(lo, blocks_.end(), stream_id, [](uint64_t s, const BlockInfo& b) { return s < b.stream_id; });
  return {lo, hi};
}

const BlockInfo* SegmentIndex::find(uint64_t stream_id, int64_t offset) const {
  auto blocks = blocks_of(stream_id);
  auto it = std::lower_bound(blocks.begin(), blocks.end(), offset,
                             [](const BlockInfo& b, int64_t o) { return b.last_offset < o; });
  return it == blocks.end() ? nullptr : &*it;
}

Status verify_block(const BlockInfo& block, ByteSpan bytes, std::string_view name) {
  if (bytes.size() != block.size) return corrupt(name, "block at " + std::to_string(block.position) + " is short");
  if (record::crc32c(bytes) != block.crc) {
    return corrupt(name, "block at " + std::to_string(block.position) + " checksum mismatch");
  }
  return ok_status();
}

}  // namespace floe::stream
