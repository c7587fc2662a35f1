// The segment object: the one format Floe writes to the object store (WAL objects, uploads, compaction output).
//
//   offset 0
//   +--------------------------------------------------------------------------------------------+
//   | block 0: whole record batches (v2) of one stream, ascending offsets                          |
//   | block 1 ...                       blocks sorted by (stream id, first offset), contiguous      |
//   +--------------------------------------------------------------------------------------------+ index_position
//   | index: one 48-byte entry per block, in block order                                          |
//   |   0 stream_id     u64      the stream (derived from topic id and partition)                 |
//   |   8 first_offset  i64      offset of the block's first record                               |
//   |  16 last_offset   i64      offset of its last record (>= first_offset)                      |
//   |  24 max_timestamp i64      largest record timestamp in the block                            |
//   |  32 position      u64      byte offset of the block in the object                          |
//   |  40 size          u32      block length in bytes                                           |
//   |  44 block_crc     u32      CRC-32C of the block's bytes (checks a ranged GET of one block)  |
//   +--------------------------------------------------------------------------------------------+ size - 32
//   | footer (32 bytes)                                                                          |
//   |   0 index_position u64 |  8 index_length u32 | 12 index_crc u32 (CRC-32C of the index)      |
//   |  16 format_version u16 (1) | 18 reserved u16 (0) | 20 footer_crc u32 (CRC-32C of bytes 0-19) |
//   |  24 magic u64 "FLOESEG1"                                                                   |
//   +--------------------------------------------------------------------------------------------+
// All integers big-endian. A reader fetches the last 32 bytes (footer), then the index, then only the blocks it
// needs. Within one stream, blocks never overlap in offsets. An object that breaks any rule is rejected with an
// error naming it; nothing partial is returned.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace floe::stream {

using ByteSpan = std::span<const uint8_t>;
using Bytes = std::vector<uint8_t>;

inline constexpr size_t kSegmentFooterSize = 32;
inline constexpr size_t kSegmentIndexEntrySize = 48;
inline constexpr uint64_t kSegmentMagic = 0x464C4F4553454731ull;  // "FLOESEG1"
inline constexpr uint16_t kSegmentFormatVersion = 1;

struct BlockInfo {
  uint64_t stream_id = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = 0;
  uint64_t position = 0;
  uint32_t size = 0;
  uint32_t crc = 0;
  bool operator==(const BlockInfo&) const = default;
};

struct SegmentFooter {
  uint64_t index_position = 0;
  uint32_t index_length = 0;
  uint32_t index_crc = 0;
};

// Builds one object. Blocks must be added in (stream id, offset) order; add() refuses anything else.
class SegmentWriter {
 public:
  // Appends a block: `batches` are whole record batches of `stream_id` covering [first_offset, last_offset].
  Status add(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp, ByteSpan batches);
  // The same with the block's bytes in pieces (appended in order, without an intermediate copy).
  Status add_parts(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                   std::span<const ByteSpan> parts);
  // The same without copying the block's bytes: the writer records the spans, which must stay alive and unchanged
  // until the object is written, and finish_pieces() hands them back with the index and footer. One object is
  // built either by copy (add, add_parts) or by reference, never both (invalid_argument).
  Status add_parts_by_reference(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                                std::span<const ByteSpan> parts);
  // Room for `data_bytes` of blocks in all plus the index of `blocks` blocks and the footer: one allocation, and
  // finish() appends the index without moving the data.
  void reserve(size_t data_bytes, size_t blocks = 1) {
    data_.reserve(data_bytes + blocks * kSegmentIndexEntrySize + kSegmentFooterSize);
  }
  size_t block_count() const { return index_.size(); }
  size_t data_bytes() const { return data_.size(); }
  const std::vector<BlockInfo>& blocks() const { return index_; }
  // The finished object; the writer is empty afterwards.
  Bytes finish();
  // The same as the string the object store takes (no copy of the data section).
  std::string finish_string();
  // The object built by reference: its bytes are `blocks` in order, then `tail` (index and footer). The writer is
  // empty afterwards.
  struct Pieces {
    std::vector<ByteSpan> blocks;
    std::string tail;
    uint64_t size = 0;  // the whole object's
  };
  Pieces finish_pieces();

 private:
  Status add_block(uint64_t stream_id, int64_t first_offset, int64_t last_offset, int64_t max_timestamp,
                   std::span<const ByteSpan> parts, bool by_reference);
  // Index and footer for an object whose blocks take `index_position` bytes.
  std::string tail(uint64_t index_position) const;
  std::string data_;
  std::vector<ByteSpan> referenced_;  // by reference: the blocks' pieces in order
  uint64_t referenced_bytes_ = 0;
  std::vector<BlockInfo> index_;
};

// The parsed footer and index of one object. `name` (the object key) appears in every error.
class SegmentIndex {
 public:
  // The footer from the object's last 32 bytes; says which byte range holds the index.
  static Result<SegmentFooter> parse_footer(ByteSpan last_bytes, uint64_t object_size, std::string_view name);
  // Footer and index from the object's tail (at least footer + index; more in front is fine).
  static Result<SegmentIndex> parse_tail(ByteSpan tail, uint64_t object_size, std::string_view name);
  // Footer, index and every block's CRC of a whole object.
  static Result<SegmentIndex> parse_object(ByteSpan object, std::string_view name);

  const std::vector<BlockInfo>& blocks() const { return blocks_; }
  uint64_t data_size() const { return data_size_; }
  // Blocks of one stream, ascending offsets.
  std::span<const BlockInfo> blocks_of(uint64_t stream_id) const;
  // The block of `stream_id` holding `offset`, else the first block after it, else null.
  const BlockInfo* find(uint64_t stream_id, int64_t offset) const;

 private:
  std::vector<BlockInfo> blocks_;
  uint64_t data_size_ = 0;
};

// Checks a block's bytes (e.g. from a ranged GET) against its index entry.
Status verify_block(const BlockInfo& block, ByteSpan bytes, std::string_view name);

}  // namespace floe::stream
