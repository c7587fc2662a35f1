// BlockBuffers: the memory of blocks the block cache let go (evicted, and no reader holds them any more), kept for
// the next GETs to read into (ObjectStore::get_into), so that a long catch-up read recycles a few buffers instead of
// allocating fresh memory for every block: fresh memory costs a page fault per 4 KiB on first touch (clearing the
// page), about as much as the GET's copy itself, and the GET's zero fill before the read.
//
// Bounded: the buffers kept hold at most `max_bytes` of capacity in all (a buffer that would pass it is freed).
// Thread-safe (one mutex held briefly): a block's last reference may go on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace floe::stream {

class BlockBuffers : public std::enable_shared_from_this<BlockBuffers> {
 public:
  struct Stats {
    size_t kept_bytes = 0;   // capacity of the buffers kept now (<= max_bytes)
    size_t max_bytes = 0;
    uint64_t reused = 0;     // take() that returned a kept buffer
    uint64_t fresh = 0;      // take() that found none large enough
  };

  static std::shared_ptr<BlockBuffers> create(size_t max_bytes);
  BlockBuffers(const BlockBuffers&) = delete;
  BlockBuffers& operator=(const BlockBuffers&) = delete;

  // A buffer to read `length` bytes into: the kept buffer of the smallest capacity >= length (its old contents
  // still there; size() unspecified), else a new empty one with capacity for length plus some slack, so that
  // blocks a little larger than this one can reuse it later.
  std::string take(size_t length);
  // `bytes` as a shared block whose memory comes back here (give_back) once its last reference goes.
  std::shared_ptr<const std::string> share(std::string bytes);
  // Keeps `bytes`' memory for a later take() if that stays within max_bytes; else frees it.
  void give_back(std::string bytes);
  Stats stats() const;

 private:
  explicit BlockBuffers(size_t max_bytes) : max_bytes_(max_bytes) {}

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::multimap<size_t, std::string> kept_;  // capacity -> buffer
  size_t kept_bytes_ = 0;
  uint64_t reused_ = 0;
  uint64_t fresh_ = 0;
};

}  // namespace floe::stream
