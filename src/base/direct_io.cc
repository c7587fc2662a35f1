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
  size_t done = 0;
  const size_t bulk = align_down(size);
  if (bulk > 0 && bounce.capacity() > 0 && set_direct(fd, true)) {
    while (done < bulk) {
      const size_t n = std::min(bulk - done, bounce.capacity());
      std::memcpy(bounce.data(), data + done, n);
      const int rc = write_fully(fd, bounce.data(), n);
      if (rc == EINVAL && done == 0) break;  // refused by the file system: buffered from here
      if (rc != 0) {
        set_direct(fd, false);
        errno = rc;
        return false;
      }
      done += n;
    }
  }
  if (!set_direct(fd, false)) return false;
  if (int rc = write_fully(fd, data + done, size - done); rc != 0) {
    errno = rc;
    return false;
  }
  return true;
}

}  // namespace floe
