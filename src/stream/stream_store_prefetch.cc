// StreamStore::prefetch: one pass over the committed block maps that turns many streams' coming reads into few
// GETs per object (stream_store.h).
#include <algorithm>
#include <map>

#include "stream/stream_store.h"

namespace floe::stream {

StreamStore::PrefetchPlan StreamStore::prefetch(const std::vector<PrefetchRange>& ranges) {
  PrefetchPlan plan;
  const size_t budget = std::min(config_.prefetch_max_bytes, config_.block_cache_bytes / 2);
  if (budget == 0 || ranges.empty()) return plan;
  struct Wanted {
    std::vector<BlockInfo> blocks;
    uint64_t bytes = 0;
  };
  std::map<std::string, Wanted> by_object;  // object key -> the wanted blocks in it
  {
    std::lock_guard lock(mu_);
    for (const PrefetchRange& r : ranges) {
      auto it = streams_.find(r.stream_id);
      if (it == streams_.end() || r.from >= r.to) continue;
      const Stream& s = it->second;
      // Blocks served from the log cache need no GET; the rest of [from, to) is in committed blocks.
      auto b = std::partition_point(s.blocks.begin(), s.blocks.end(),
                                    [&](const auto& x) { return x.first.last_offset < r.from; });
      for (; b != s.blocks.end() && b->first.first_offset < r.to; ++b) {
        Wanted& w = by_object[b->second];
        w.blocks.push_back(b->first);
        w.bytes += b->first.size;
      }
    }
  }
  // The objects that serve the most blocks first, within the budget.
  std::vector<std::map<std::string, Wanted>::iterator> order;
  for (auto it = by_object.begin(); it != by_object.end(); ++it) order.push_back(it);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a->second.blocks.size() > b->second.blocks.size(); });
  uint64_t planned = 0;
  std::vector<std::map<std::string, Wanted>::iterator> chosen;
  for (auto it : order) {
    if (planned + it->second.bytes > budget) {
      plan.blocks_left_out += it->second.blocks.size();
      continue;
    }
    planned += it->second.bytes;
    chosen.push_back(it);
  }
  // Oldest object first (WAL keys sort by epoch and seq): the replays read their logs from the oldest block on.
  std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) { return a->first < b->first; });
  std::vector<BlockReader::PrefetchSpan> spans;
  for (auto it : chosen) {
    std::vector<BlockInfo>& blocks = it->second.blocks;
    std::sort(blocks.begin(), blocks.end(), [](const BlockInfo& a, const BlockInfo& b) { return a.position < b.position; });
    blocks.erase(std::unique(blocks.begin(), blocks.end(),
                             [](const BlockInfo& a, const BlockInfo& b) { return a.position == b.position; }),
                 blocks.end());
    ++plan.objects;
    plan.blocks += blocks.size();
    plan.bytes += it->second.bytes;
    BlockReader::PrefetchSpan span{it->first, {}};
    for (const BlockInfo& b : blocks) {
      if (!span.blocks.empty()) {
        const BlockInfo& first = span.blocks.front();
        const BlockInfo& last = span.blocks.back();
        const uint64_t gap = b.position - (last.position + last.size);
        const uint64_t length = b.position + b.size - first.position;
        if (gap > kPrefetchMaxGap || length > kPrefetchMaxGet) {
          spans.push_back(std::move(span));
          span = BlockReader::PrefetchSpan{it->first, {}};
        }
      }
      span.blocks.push_back(b);
    }
    if (!span.blocks.empty()) spans.push_back(std::move(span));
  }
  plan.gets = spans.size();
  block_reader_->prefetch(std::move(spans), config_.prefetch_parallel_gets);
  return plan;
}

}  // namespace floe::stream
