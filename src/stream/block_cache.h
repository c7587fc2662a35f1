// BlockCache: committed blocks read back from segment objects, kept in memory for reads that miss the log cache
// (DESIGN §7: "Fetch serves from the log cache (tail), else from the block cache, else by ranged GET").
//
// Keyed by (object key, block position). Object keys are never reused and objects never change, so the bytes under
// a key stay right for as long as any metadata maps a range to it; callers look a block up only AFTER finding it
// in the current block map (StreamStore's committed blocks), and `find` also compares the block's size and CRC
// with the map's entry. Entries of objects that compaction or garbage collection removed are no longer looked up
// and age out (or go at once with erase_object).
//
// Bounded: the sum of the cached blocks' sizes never exceeds `capacity_bytes`; least recently used blocks go first.
// A block larger than the capacity is not cached. Thread-safe (one mutex, held briefly; no I/O under it).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "stream/segment_object.h"

namespace floe::stream {

class BlockCache {
 public:
  struct Stats {
    size_t bytes = 0;           // cached block bytes now (<= capacity)
    size_t capacity = 0;        // the bound (block.cache.bytes)
    size_t blocks = 0;          // cached blocks now
    uint64_t hits = 0;          // find() that returned a block
    uint64_t misses = 0;        // find() that did not
    uint64_t evictions = 0;     // blocks dropped to stay within the bound
    uint64_t inserted_bytes = 0;  // bytes ever inserted
  };

  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  size_t capacity() const { return capacity_; }

  // The cached bytes of `block` of `object` (size and CRC must match the entry), counted as a hit or a miss;
  // null on a miss. A hit becomes the most recently used block.
  std::shared_ptr<const std::string> find(const std::string& object, const BlockInfo& block);
  // The same without counting or touching the LRU order (planning read-ahead).
  bool contains(const std::string& object, const BlockInfo& block) const;
  // Makes a cached `block` of `object` the most recently used one, without counting a hit; false if not cached.
  // Read-ahead touches the cached blocks of a reader's window: they are about to be read, and the blocks the reader
  // inserts on its way must not evict them first (a stream a little larger than the cache, read again).
  bool touch(const std::string& object, const BlockInfo& block);
  // Caches `bytes` (already checked against the block's CRC) as `block` of `object`, evicting the least recently
  // used blocks until it fits. Replaces nothing: an entry already there stays (it holds the same bytes).
  void insert(const std::string& object, const BlockInfo& block, std::shared_ptr<const std::string> bytes);
  // Drops every block of `object` (it was deleted).
  void erase_object(const std::string& object);
  Stats stats() const;

 private:
  using Key = std::pair<std::string, uint64_t>;  // (object key, block position)
  struct Slot {
    uint32_t size = 0;
    uint32_t crc = 0;
    std::shared_ptr<const std::string> bytes;
    std::list<Key>::iterator lru;  // position in lru_ (front: most recently used)
  };
  void evict_locked(size_t needed);
  void erase_locked(std::map<Key, Slot>::iterator it);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<Key, Slot> slots_;  // ordered: erase_object walks one object's blocks
  std::list<Key> lru_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
  uint64_t inserted_bytes_ = 0;
};

}  // namespace floe::stream
