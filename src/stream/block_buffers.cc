#include "stream/block_buffers.h"

#include <utility>

namespace floe::stream {

std::shared_ptr<BlockBuffers> BlockBuffers::create(size_t max_bytes) {
  return std::shared_ptr<BlockBuffers>(new BlockBuffers(max_bytes));
}

std::string BlockBuffers::take(size_t length) {
  {
    std::lock_guard lock(mu_);
    auto it = kept_.lower_bound(length);
    if (it != kept_.end()) {
      std::string out = std::move(it->second);
      kept_bytes_ -= it->first;
      kept_.erase(it);
      ++reused_;
      return out;
    }
    ++fresh_;
  }
  // Slack: the blocks of one stream differ somewhat in size (an upload ends at a batch boundary). Pages of the slack
  // that nothing writes are never made resident.
  std::string out;
  out.reserve(length + length / 16);
  return out;
}

std::shared_ptr<const std::string> BlockBuffers::share(std::string bytes) {
  auto owner = shared_from_this();
  // The string is created non-const here, so moving out of it in the deleter is allowed.
  auto* block = new std::string(std::move(bytes));
  return std::shared_ptr<const std::string>(block, [owner](const std::string* p) {
    auto* mine = const_cast<std::string*>(p);
    owner->give_back(std::move(*mine));
    delete mine;
  });
}

void BlockBuffers::give_back(std::string bytes) {
  const size_t capacity = bytes.capacity();
  if (capacity < 4096) return;  // not worth keeping (and an empty moved-from string has no memory)
  std::lock_guard lock(mu_);
  if (kept_bytes_ + capacity > max_bytes_) return;  // freed with `bytes`, after the lock is released
  kept_bytes_ += capacity;
  kept_.emplace(capacity, std::move(bytes));
}

BlockBuffers::Stats BlockBuffers::stats() const {
  std::lock_guard lock(mu_);
  return Stats{kept_bytes_, max_bytes_, reused_, fresh_};
}

}  // namespace floe::stream
