#include "stream/object_index_cache.h"

#include <utility>

namespace floe::stream {

size_t ObjectIndexCache::entry_bytes(const ObjectRanges& ranges) {
  // The record, its block vector, the key twice (map and LRU list) and the node overheads, roughly.
  return sizeof(ObjectRanges) + ranges.blocks.capacity() * sizeof(BlockInfo) + 2 * ranges.key.size() + 128;
}

std::shared_ptr<const ObjectRanges> ObjectIndexCache::find(const std::string& key, int64_t mod_revision) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.mod_revision != mod_revision) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.ranges;
}

void ObjectIndexCache::insert(int64_t mod_revision, std::shared_ptr<const ObjectRanges> ranges, size_t value_bytes) {
  std::lock_guard lock(mu_);
  ++decodes_;
  value_bytes_ += value_bytes;
  auto old = entries_.find(ranges->key);
  if (old != entries_.end()) erase_locked(old);
  const size_t bytes = entry_bytes(*ranges);
  if (bytes > max_bytes_) return;
  while (bytes_ + bytes > max_bytes_ && !lru_.empty()) erase_locked(entries_.find(lru_.back()));
  lru_.push_front(ranges->key);
  const std::string& key = lru_.front();
  entries_.emplace(key, Entry{mod_revision, std::move(ranges), bytes, lru_.begin()});
  bytes_ += bytes;
}

void ObjectIndexCache::retain_only(const std::unordered_set<std::string>& listed) {
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (!listed.count(it->first)) erase_locked(it);
    it = next;
  }
}

void ObjectIndexCache::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

ObjectIndexCache::Stats ObjectIndexCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{hits_, decodes_, value_bytes_, entries_.size(), bytes_, max_bytes_};
}

}  // namespace floe::stream
