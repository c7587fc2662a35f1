#include "stream/file_wal_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "protocol/record/crc32c.h"

namespace floe::stream::wal_format {
namespace {

constexpr char kMagic[8] = {'F', 'L', 'O', 'E', 'W', 'A', 'L', '2'};
constexpr size_t kHeaderFields = 32;  // magic, version, reserved, first_seq, generation; then the crc

}  // namespace

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t get_u64(const uint8_t* p) { return (uint64_t{get_u32(p)} << 32) | get_u32(p + 4); }

uint32_t generation_seed(uint64_t generation) {
  uint8_t b[8];
  put_u64(b, generation);
  return record::crc32c(b, sizeof b);
}

uint32_t frame_crc_start(uint32_t seed, uint64_t seq, uint64_t epoch) {
  uint8_t b[16];
  put_u64(b, seq);
  put_u64(b + 8, epoch);
  return record::crc32c(b, sizeof b, seed);
}

void encode_frame_header(uint8_t* out, uint32_t len, uint32_t crc, uint64_t seq, uint64_t epoch) {
  put_u32(out, len);
  put_u32(out + 4, crc);
  put_u64(out + 8, seq);
  put_u64(out + 16, epoch);
}

size_t padding_bytes(size_t size) {
  const size_t gap = align_up(size) - size;
  if (gap == 0) return 0;
  return gap > kFrameHeader ? gap : gap + kBlock;  // a padding frame has at least one payload byte
}

void write_padding(uint8_t* out, size_t bytes, uint32_t seed) {
  const size_t len = bytes - kFrameHeader;
  std::memset(out + kFrameHeader, 0, len);
  const uint32_t crc = record::crc32c(out + kFrameHeader, len, frame_crc_start(seed, 0, 0));
  encode_frame_header(out, static_cast<uint32_t>(len), crc, 0, 0);
}

void encode_segment_header(uint8_t* out, uint64_t first_seq, uint64_t generation) {
  std::memset(out, 0, kSegmentHeader);
  std::memcpy(out, kMagic, sizeof kMagic);
  put_u32(out + 8, kVersion);
  put_u64(out + 16, first_seq);
  put_u64(out + 24, generation);
  put_u32(out + kHeaderFields, record::crc32c(out, kHeaderFields));
}

SegmentHeader decode_segment_header(const uint8_t* p, size_t n) {
  SegmentHeader h;
  if (n < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0) {
    h.kind = SegmentHeader::legacy;
    return h;
  }
  if (n < kHeaderFields + 4 || get_u32(p + 8) != kVersion ||
      record::crc32c(p, kHeaderFields) != get_u32(p + kHeaderFields)) {
    return h;  // invalid (a torn header write)
  }
  h.kind = SegmentHeader::valid;
  h.first_seq = get_u64(p + 16);
  h.generation = get_u64(p + 24);
  return h;
}

ChunkedFile::~ChunkedFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool ChunkedFile::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return false;
  size_ = static_cast<uint64_t>(st.st_size);
  return true;
}

const uint8_t* ChunkedFile::at(uint64_t pos, size_t n) {
  if (pos + n > size_) return nullptr;
  if (pos >= start_ && pos + n <= start_ + buf_.size()) return buf_.data() + (pos - start_);
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(n, 1 << 20), size_ - pos));
  buf_.resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(pos + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  buf_.resize(got);
  start_ = pos;
  return got >= n ? buf_.data() : nullptr;
}

}  // namespace floe::stream::wal_format
