// ObjectIndexCache: the decoded metadata records (ObjectRanges) of committed objects, kept by object key and the
// mod revision of its objects/ key, so that a read of every committed object (StreamStore::acquire, once per open
// wave of a failover) transfers and decodes only the records it has not seen.
//
// Why it is never stale: object keys are never reused (a WAL object, an upload or a compaction output gets a fresh
// key), and a record rewritten in place would have a new mod revision, which is a different cache entry. A read
// lists the keys and their mod revisions (keys_only) at one linearizable revision and takes the values only of
// the (key, revision) pairs not cached, at that same revision, so what it returns is exactly what a full read at
// that revision would have returned (DESIGN §6: the committed end no older than the assignment).
//
// Bounded by max_bytes (least recently used entries go first; a record larger than the bound is used, not kept);
// entries of objects that a complete listing no longer names (compacted away, deleted) are dropped by
// retain_only(). Thread-safe (one mutex held briefly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "stream/object_ranges.h"

namespace floe::stream {

class ObjectIndexCache {
 public:
  struct Stats {
    uint64_t hits = 0;          // records found decoded
    uint64_t decodes = 0;       // records read with their value and decoded
    uint64_t value_bytes = 0;   // metadata value bytes read for those
    size_t entries = 0;
    size_t bytes = 0;           // estimated memory of the entries (bounded by max_bytes)
    size_t max_bytes = 0;
  };

  explicit ObjectIndexCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The decoded record of `key` at `mod_revision`, or null (counted as neither hit nor decode: the caller reports
  // the decode with insert()).
  std::shared_ptr<const ObjectRanges> find(const std::string& key, int64_t mod_revision);
  // Keeps a record just decoded from a value of `value_bytes` bytes (evicting the least recently used beyond the
  // bound); replaces an entry of the same key at another revision.
  void insert(int64_t mod_revision, std::shared_ptr<const ObjectRanges> ranges, size_t value_bytes);
  // Drops every entry whose key is not in `listed` (the keys of a complete listing).
  void retain_only(const std::unordered_set<std::string>& listed);

  Stats stats() const;

  // The memory an entry of `ranges` is counted for.
  static size_t entry_bytes(const ObjectRanges& ranges);

 private:
  struct Entry {
    int64_t mod_revision = 0;
    std::shared_ptr<const ObjectRanges> ranges;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recently used)
  };
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t decodes_ = 0;
  uint64_t value_bytes_ = 0;
};

}  // namespace floe::stream
