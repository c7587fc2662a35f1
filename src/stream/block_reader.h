// BlockReader: how StreamStore reads committed blocks back from segment objects (DESIGN §7): from the block cache
// (block_cache.h), else from a GET already in flight for the block (a read-ahead or another reader's), else by a
// ranged GET; with read-ahead that grows while a reader reads sequentially.
//
// Read-ahead. Each stream keeps a few reader cursors (the offset a reader's next read is expected at). A read at a
// cursor's offset is sequential: its window doubles (1 MiB, 2, 4 ... up to window_max); a read anywhere else
// takes over the least recently used cursor with no window (random access resets). StreamStore hands `get` the
// blocks that follow the one read, within the window (from its current block map), and BlockReader
//   - fetches the following small blocks that lie right behind the read block in the same object in the SAME ranged
//     GET (one round trip, a somewhat larger transfer: up to kMaxReadGetBytes in all), and
//   - starts background GETs for the rest (one ranged GET per run of adjacent small blocks of one object, one per
//     block of kOwnGetBytes or more; in parallel), as long as the read-ahead bytes and GETs in flight stay within ahead_inflight_bytes
//     and ahead_inflight_gets.
// The read itself never waits for a read-ahead GET other than one already fetching the block it needs. Fetched
// blocks are checked against their CRC before they are cached or returned, once: a cached block is shared, never
// copied or checked again.
//
// Memory: a GET reads into the memory of a block the cache released (BlockBuffers, up to recycle_bytes kept), so a
// long catch-up recycles buffers rather than touching fresh pages for every block.
//
// Errors: a GET's error is returned as is (objstore::Errc, e.g. not_found for an object that compaction or
// garbage collection deleted: the caller re-plans from its block map). A failed read-ahead only logs.
// Threads: any; one mutex held briefly (never across I/O). A GET of kOffThreadBytes or more is CRC-checked on the
// reader's own thread, so that megabytes of checks never run on the executor that completed the GET (the network
// threads). stop() ends read-ahead and waits for the GETs in flight (each bounded by get_timeout).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "stream/block_buffers.h"
#include "stream/block_cache.h"
#include "stream/segment_object.h"

namespace floe::objstore {
class ObjectStore;
}

namespace floe::stream {

struct BlockRef {
  BlockInfo block;
  std::string object;  // the object key holding it
};

struct BlockReaderConfig {
  size_t cache_bytes = 128u << 20;             // block.cache.bytes (0: no cache and no read-ahead)
  size_t read_ahead_max_bytes = 16u << 20;     // read.ahead.max.bytes: the window's ceiling (also <= cache / 2)
  size_t ahead_inflight_bytes = 32u << 20;     // read-ahead GET bytes in flight at most
  size_t ahead_inflight_gets = 16;             // read-ahead GETs in flight at most (small blocks: many objects)
  size_t recycle_bytes = 16u << 20;            // memory of released blocks kept for the next GETs (also <= cache / 4)
  std::chrono::milliseconds get_timeout{30000};
};

class BlockReader {
 public:
  static constexpr size_t kInitialWindow = 1u << 20;
  // A read's own GET takes the blocks right behind its block in the same object up to this many bytes in all; the
  // rest of the window is fetched in the background, so the read does not wait for a long transfer.
  static constexpr size_t kMaxReadGetBytes = 2u << 20;
  // A block at least this long gets a GET of its own (its buffer becomes the cached block as is); only smaller
  // adjacent blocks share a GET, and each is then copied out of it (the copy of a small block costs less than a
  // request). A run split into per-block copies costs a memcpy of every byte and a second buffer (fresh pages
  // while the cache fills): about as much CPU as the GET itself on file://.
  static constexpr size_t kOwnGetBytes = 256u << 10;
  // Whether `next` may join the same GET as `last`, the block right before it in one object.
  static bool share_get(const BlockInfo& last, const BlockInfo& next) {
    return last.size < kOwnGetBytes && next.size < kOwnGetBytes && next.position == last.position + last.size;
  }
  // GETs at least this long are checked on the reader's own thread (checks_), not on the GET's executor.
  static constexpr size_t kOffThreadBytes = 256u << 10;
  static constexpr size_t kCursorsPerStream = 4;

  struct Stats {
    BlockCache::Stats cache;
    uint64_t gets = 0;               // ranged GETs made for reads (a read's block, with what follows it)
    uint64_t get_bytes = 0;          // bytes they returned
    uint64_t ahead_gets = 0;         // background read-ahead GETs that completed
    uint64_t ahead_bytes = 0;        // bytes they returned
    uint64_t ahead_failures = 0;     // read-ahead GETs that failed (the read then GETs the block itself)
    uint64_t joined = 0;             // reads that waited for a GET already in flight instead of making one
    uint64_t prefetch_gets = 0;      // prefetch GETs that completed (prefetch())
    uint64_t prefetch_bytes = 0;     // bytes they returned (the gaps between wanted blocks included)
    uint64_t prefetch_blocks = 0;    // blocks they cached
    size_t ahead_inflight_bytes = 0;  // read-ahead bytes being fetched now
    size_t ahead_inflight_peak = 0;   // the most there ever were
    size_t ahead_inflight_limit = 0;
    size_t window_max = 0;           // the effective window ceiling
    BlockBuffers::Stats buffers;     // recycled GET buffers (block_buffers.h)
  };

  BlockReader(asio::any_io_executor executor, objstore::ObjectStore& objects, BlockReaderConfig config);
  ~BlockReader();
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;

  // The read-ahead window (bytes past the block holding `offset`) for a read of `stream` at `offset`; grows while
  // the reads of one reader are sequential, 0 for a read that continues no cursor.
  size_t plan(uint64_t stream, int64_t offset);
  // A read of `stream` at `offset` returned data up to `next` (exclusive): its reader continues there.
  void served(uint64_t stream, int64_t offset, int64_t next);

  // The CRC-checked bytes of `current`: cached, from a GET in flight, or by a ranged GET that also covers the blocks
  // of `ahead` lying right behind it in the same object. Starts background GETs for the rest of `ahead` (blocks
  // that follow in the reader's order, within its window).
  asio::awaitable<Result<std::shared_ptr<const std::string>>> get(BlockRef current, std::vector<BlockRef> ahead);
  // A cached block, counted as a hit; null (not counted) when not cached.
  std::shared_ptr<const std::string> cached(const BlockRef& ref);

  // Prefetch, for opening many partitions at once (their producer-state replays read the same shared objects):
  // each span is ONE ranged GET over one object covering `blocks` (sorted by position, not necessarily adjacent:
  // the bytes between them are fetched and dropped). Every block not already cached or being fetched is
  // registered at once, so a read of it joins that GET instead of making its own; the GETs run in the given
  // order, at most `parallel` at a time, in the background (stop() waits for them; a span not started by then
  // is abandoned and its readers GET for themselves). Blocks are CRC-checked and cached. Returns at once.
  struct PrefetchSpan {
    std::string object;
    std::vector<BlockInfo> blocks;
  };
  void prefetch(std::vector<PrefetchSpan> spans, size_t parallel);

  void forget_object(const std::string& object) { cache_.erase_object(object); }
  // No read-ahead from now on; completes once no read-ahead GET is in flight.
  asio::awaitable<void> stop();
  Stats stats() const;

 private:
  using Key = std::pair<std::string, uint64_t>;  // (object, position)
  // One ranged GET in flight (one or more adjacent blocks of one object); readers of its blocks wait for it.
  struct Fetch {
    bool done = false;
    std::map<uint64_t, std::shared_ptr<const std::string>> blocks;  // position -> bytes, once done (if it worked)
    std::vector<std::function<void()>> waiters;
  };
  struct Cursor {
    int64_t next = -1;
    size_t window = 0;
    uint64_t used = 0;
  };

  enum class FetchKind { read, ahead, prefetch };
  struct PrefetchQueue;
  std::shared_ptr<Fetch> register_fetch_locked(const std::string& object, const std::vector<BlockInfo>& blocks);
  // GETs the adjacent `blocks` of `object` in one ranged GET, checks and caches each, then completes `fetch`.
  asio::awaitable<Status> fetch(std::string object, std::vector<BlockInfo> blocks, std::shared_ptr<Fetch> fetch,
                                FetchKind kind);
  // Marks `f` done (failed or not) and resumes its waiters; its blocks are no longer in flight.
  void finish_fetch(const std::string& object, const std::vector<BlockInfo>& blocks, const std::shared_ptr<Fetch>& f);
  asio::awaitable<void> prefetch_worker(std::shared_ptr<PrefetchQueue> queue);
  void end_background_task();
  // CRC-checks each block of a GET's `data` (starting at object position `begin`), caches it and hands it to `f`.
  Status check_and_cache(const std::string& object, const std::vector<BlockInfo>& blocks, uint64_t begin,
                         std::string& data, Fetch& f);
  void start_ahead(std::vector<BlockRef> ahead);
  asio::awaitable<void> ahead_task(std::string object, std::vector<BlockInfo> blocks, std::shared_ptr<Fetch> fetch,
                                   size_t bytes);
  bool busy_locked(const BlockRef& ref) const;

  asio::any_io_executor executor_;
  objstore::ObjectStore& objects_;
  const BlockReaderConfig config_;
  const size_t window_max_;
  // Declared before cache_: the cache's blocks give their memory back to it when the cache goes.
  std::shared_ptr<BlockBuffers> buffers_;
  BlockCache cache_;
  asio::thread_pool checks_{1};  // CRC checks of large GETs (off the network threads)

  mutable std::mutex mu_;
  std::map<Key, std::shared_ptr<Fetch>> inflight_;
  std::unordered_map<uint64_t, std::array<Cursor, kCursorsPerStream>> cursors_;
  uint64_t tick_ = 0;
  size_t ahead_inflight_bytes_ = 0;
  size_t ahead_inflight_peak_ = 0;
  size_t ahead_running_ = 0;  // read-ahead GETs and prefetch workers running (stop() waits for them)
  bool stopped_ = false;
  std::vector<std::function<void()>> idle_waiters_;  // stop(): resumed when ahead_running_ reaches 0
  uint64_t gets_ = 0;
  uint64_t get_bytes_ = 0;
  uint64_t ahead_gets_ = 0;
  uint64_t ahead_bytes_ = 0;
  uint64_t ahead_failures_ = 0;
  uint64_t joined_ = 0;
  uint64_t prefetch_gets_ = 0;
  uint64_t prefetch_bytes_ = 0;
  uint64_t prefetch_blocks_ = 0;
};

}  // namespace floe::stream
