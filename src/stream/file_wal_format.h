// Internal to the file WAL (file_wal.cc and its tests): the codec of the byte layout drawn in file_wal.h
// (segment header block, frames, padding frames) and a chunked reader for recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/direct_io.h"

namespace floe::stream::wal_format {

inline constexpr size_t kFrameHeader = 24;          // len, crc, seq, epoch
inline constexpr size_t kBlock = kDirectAlign;      // groups start and end on these boundaries
inline constexpr size_t kSegmentHeader = kBlock;    // the header block; frames start after it
inline constexpr size_t kMaxPaddingPayload = kBlock;  // a padding frame's len is at most this
inline constexpr uint32_t kVersion = 2;

void put_u32(uint8_t* p, uint32_t v);
void put_u64(uint8_t* p, uint64_t v);
uint32_t get_u32(const uint8_t* p);
uint64_t get_u64(const uint8_t* p);

// The crc of every frame of a segment continues from this (CRC-32C of the generation, big-endian). 0 for legacy
// segments (no header).
uint32_t generation_seed(uint64_t generation);

// A frame header for a payload of `len` bytes whose CRC-32C (continued from the header's seq and epoch, which
// continue from `seed`) the caller computes with frame_crc_start + record::crc32c over the payload pieces.
uint32_t frame_crc_start(uint32_t seed, uint64_t seq, uint64_t epoch);
void encode_frame_header(uint8_t* out, uint32_t len, uint32_t crc, uint64_t seq, uint64_t epoch);

// Bytes of padding to put after `size` bytes of a group (which starts on a block) so that it ends on a block: 0, or
// a whole padding frame of at least kFrameHeader + 1 bytes.
size_t padding_bytes(size_t size);
// Writes a padding frame of `bytes` in total (a value padding_bytes returned, > 0).
void write_padding(uint8_t* out, size_t bytes, uint32_t seed);

// The header block of a segment (kSegmentHeader bytes, zeros after the fields).
void encode_segment_header(uint8_t* out, uint64_t first_seq, uint64_t generation);
struct SegmentHeader {
  enum Kind { legacy, valid, invalid } kind = invalid;  // legacy: no magic (frames from offset 0)
  uint64_t first_seq = 0;
  uint64_t generation = 0;
};
// Decodes the first `n` bytes of a segment file (n may be short for a tiny file).
SegmentHeader decode_segment_header(const uint8_t* p, size_t n);

// Reads a file front to back in chunks, so that recovery reads only the written part of a preallocated file.
class ChunkedFile {
 public:
  ~ChunkedFile();
  bool open(const std::string& path);
  uint64_t size() const { return size_; }
  // Bytes [pos, pos + n), valid until the next call; nullptr when the file is shorter or unreadable.
  const uint8_t* at(uint64_t pos, size_t n);

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace floe::stream::wal_format
