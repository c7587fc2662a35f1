#include "stream/block_cache.h"

namespace floe::stream {

std::shared_ptr<const std::string> BlockCache::find(const std::string& object, const BlockInfo& block) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(Key{object, block.position});
  if (it == slots_.end() || it->second.size != block.size || it->second.crc != block.crc) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.bytes;
}

bool BlockCache::contains(const std::string& object, const BlockInfo& block) const {
  std::lock_guard lock(mu_);
  auto it = slots_.find(Key{object, block.position});
  return it != slots_.end() && it->second.size == block.size && it->second.crc == block.crc;
}

bool BlockCache::touch(const std::string& object, const BlockInfo& block) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(Key{object, block.position});
  if (it == slots_.end() || it->second.size != block.size || it->second.crc != block.crc) return false;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return true;
}

void BlockCache::insert(const std::string& object, const BlockInfo& block, std::shared_ptr<const std::string> bytes) {
  if (!bytes || bytes->size() != block.size || block.size > capacity_) return;
  std::lock_guard lock(mu_);
  Key key{object, block.position};
  if (slots_.count(key)) return;
  evict_locked(block.size);
  lru_.push_front(key);
  slots_.emplace(std::move(key), Slot{block.size, block.crc, std::move(bytes), lru_.begin()});
  bytes_ += block.size;
  inserted_bytes_ += block.size;
}

void BlockCache::evict_locked(size_t needed) {
  while (!lru_.empty() && bytes_ + needed > capacity_) {
    erase_locked(slots_.find(lru_.back()));
    ++evictions_;
  }
}

void BlockCache::erase_locked(std::map<Key, Slot>::iterator it) {
  bytes_ -= it->second.size;
  lru_.erase(it->second.lru);
  slots_.erase(it);
}

void BlockCache::erase_object(const std::string& object) {
  std::lock_guard lock(mu_);
  for (auto it = slots_.lower_bound(Key{object, 0}); it != slots_.end() && it->first.first == object;) {
    erase_locked(it++);
  }
}

BlockCache::Stats BlockCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{bytes_, capacity_, slots_.size(), hits_, misses_, evictions_, inserted_bytes_};
}

}  // namespace floe::stream
