// Writes that bypass the page cache (O_DIRECT), for data written once and made durable at once: segment objects
// on file:// (objstore/file_store.cc) and the file WAL's groups (stream/file_wal.cc: AlignedBuffer, set_direct).
//
// Why: a buffered write copies every byte into freshly allocated page-cache pages (on this kind of machine the
// kernel's copy and page allocation cost far more CPU than the write itself) and leaves megabytes of dirty pages
// whose write-back competes with the WAL's fdatasync. An O_DIRECT write hands the user buffer to the device.
//
// O_DIRECT needs the buffer address, the file offset and the length aligned to the device's logical block size;
// kDirectAlign (4096) covers 512- and 4096-byte devices. File systems without O_DIRECT (tmpfs) refuse it with
// EINVAL, at open or at the first write: callers fall back to buffered writes then. Durability is unchanged:
// callers still fsync/fdatasync (device cache flush, file size and block allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

namespace floe {

inline constexpr size_t kDirectAlign = 4096;

constexpr size_t align_down(size_t n) { return n & ~(kDirectAlign - 1); }
constexpr size_t align_up(size_t n) { return (n + kDirectAlign - 1) & ~(kDirectAlign - 1); }

// A heap buffer aligned to kDirectAlign, of a fixed capacity (a multiple of kDirectAlign).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t capacity);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t capacity() const { return capacity_; }
  // Grows (never shrinks) to at least `capacity`, rounded up to kDirectAlign; the contents are not kept.
  void reserve_discard(size_t capacity);

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t capacity_ = 0;
};

// Sets or clears O_DIRECT on an open file. False when the file system refuses it.
bool set_direct(int fd, bool on);

// Appends `size` bytes at the file position of `fd`, a file opened for writing whose position is aligned (a new,
// empty file): the aligned bulk with O_DIRECT through `bounce` (copied in chunks of its capacity), the unaligned
// tail with a buffered write. Falls back to buffered writes where O_DIRECT is refused. Leaves O_DIRECT off.
// False on an I/O error (errno set).
bool append_direct(int fd, const uint8_t* data, size_t size, AlignedBuffer& bounce);

// The same for data given as pieces, written in order as one run of bytes: each bounce-buffer chunk is filled
// across piece boundaries, so the caller needs no contiguous copy of the whole (e.g. a segment object whose blocks
// are the log cache's batches: file:// writes them without building the object first).
bool append_direct(int fd, std::span<const std::string_view> pieces, AlignedBuffer& bounce);

}  // namespace floe
