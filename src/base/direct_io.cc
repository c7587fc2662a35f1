#include "base/direct_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace floe {

AlignedBuffer::AlignedBuffer(size_t capacity) { reserve_discard(capacity); }

void AlignedBuffer::reserve_discard(size_t capacity) {
  capacity = align_up(capacity);
  if (capacity <= capacity_) return;
  void* p = nullptr;
  if (::posix_memalign(&p, kDirectAlign, capacity) != 0) throw std::bad_alloc();
  data_.reset(static_cast<uint8_t*>(p));
  capacity_ = capacity;
}

bool set_direct(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  const int want = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  return want == flags || ::fcntl(fd, F_SETFL, want) == 0;
}

namespace {

// write(2) until done; EINVAL is returned to the caller (O_DIRECT refused), other errors end it.
int write_fully(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

}  // namespace

bool append_direct(int fd, const uint8_t* data, size_t size, AlignedBuffer& bounce) {
  const std::string_view pieces[] = {std::string_view(reinterpret_cast<const char*>(data), size)};
  return append_direct(fd, pieces, bounce);
}

bool append_direct(int fd, std::span<const std::string_view> pieces, AlignedBuffer& bounce) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  // Where the next byte to write is: piece `at`, `within` bytes into it.
  size_t at = 0;
  size_t within = 0;
  size_t done = 0;
  const size_t bulk = align_down(size);
  if (bulk > 0 && bounce.capacity() > 0 && set_direct(fd, true)) {
    while (done < bulk) {
      const size_t n = std::min(bulk - done, bounce.capacity());
      const size_t chunk_at = at;
      const size_t chunk_within = within;
      for (size_t filled = 0; filled < n;) {
        const std::string_view p = pieces[at];
        const size_t take = std::min(n - filled, p.size() - within);
        std::memcpy(bounce.data() + filled, p.data() + within, take);
        filled += take;
        within += take;
        if (within == p.size()) {
          ++at;
          within = 0;
        }
      }
      const int rc = write_fully(fd, bounce.data(), n);
      if (rc == EINVAL && done == 0) {  // refused by the file system: buffered from here
        at = chunk_at;
        within = chunk_within;
        break;
      }
      if (rc != 0) {
        set_direct(fd, false);
        errno = rc;
        return false;
      }
      done += n;
    }
  }
  if (!set_direct(fd, false)) return false;
  for (; at < pieces.size(); ++at, within = 0) {
    const std::string_view p = pieces[at];
    if (int rc = write_fully(fd, reinterpret_cast<const uint8_t*>(p.data()) + within, p.size() - within); rc != 0) {
      errno = rc;
      return false;
    }
  }
  return true;
}

}  // namespace floe
