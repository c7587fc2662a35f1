// Part of StreamStore (stream_store.h): compaction (compaction.h) as a background task of the store, the swap
// applied to the in-memory block map, and the re-read of the block map after a 404.
#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "stream/committed_objects.h"
#include "stream/errc.h"
#include "stream/stream_store.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

using detail::err;
using detail::kLog;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool by_first_offset(const std::pair<BlockInfo, std::string>& a, const std::pair<BlockInfo, std::string>& b) {
  return a.first.first_offset < b.first.first_offset;
}

}  // namespace

void StreamStore::start_compaction() {
  CompactionOptions o;
  o.meta_root = config_.meta_root;
  o.output_prefix = config_.object_prefix + "compacted/";
  o.target_bytes = std::max<size_t>(config_.compaction_target_bytes, 1);
  o.small_object_bytes = std::max<size_t>(o.target_bytes / 2, 1);
  o.block_bytes = config_.compaction_block_bytes;
  o.min_objects = config_.compaction_min_objects;
  o.max_age = config_.compaction_max_age;
  o.dead_bytes = config_.compaction_dead_bytes;
  o.dead_max_age = config_.compaction_dead_max_age;
  o.max_round_bytes = config_.compaction_max_round_bytes;
  o.grace = config_.compaction_grace;
  o.object_timeout = config_.object_timeout;
  o.live_streams = config_.live_streams_at;
  o.cpu = compaction_cpu_.get_executor();  // copies and CRCs off the network threads and the uploader's pool
  compactor_ = std::make_unique<Compactor>(std::move(o), objects_, meta_);
  if (config_.compaction_interval.count() <= 0) return;
  compaction_wakeup_ = std::make_unique<asio::steady_timer>(executor_);
  compaction_stopped_ = std::make_unique<asio::steady_timer>(executor_);
  compaction_stopped_->expires_at(asio::steady_timer::time_point::max());
  {
    std::lock_guard lock(mu_);
    compaction_running_ = true;
  }
  asio::co_spawn(executor_, compaction_loop(), asio::detached);
}

asio::awaitable<void> StreamStore::compaction_loop() {
  for (;;) {
    compaction_wakeup_->expires_after(config_.compaction_interval);
    std::error_code ec;
    co_await compaction_wakeup_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    if (config_.compaction_gate && !config_.compaction_gate()) continue;  // not the compactor (cluster mode)
    auto r = co_await compact_once();
    if (!r) log::warn(kLog, "compaction: ", r.error().message);
  }
  {
    std::lock_guard lock(mu_);
    compaction_running_ = false;
  }
  compaction_stopped_->cancel();
}

asio::awaitable<void> StreamStore::stop_compaction() {
  if (!compaction_wakeup_) co_return;
  auto stop = [this]() -> asio::awaitable<void> {
    compaction_wakeup_->cancel();
    bool running = false;
    {
      std::lock_guard lock(mu_);
      running = compaction_running_;
    }
    if (running) {
      std::error_code ec;
      co_await compaction_stopped_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  };
  co_await asio::co_spawn(executor_, stop(), asio::use_awaitable);
}

asio::awaitable<Result<size_t>> StreamStore::compact_once() {
  {
    std::lock_guard lock(mu_);
    if (compacting_ || closing_ || !compactor_) co_return size_t{0};
    compacting_ = true;
    ++compaction_stats_.passes;
  }
  struct Done {
    StreamStore* self;
    ~Done() {
      std::lock_guard lock(self->mu_);
      self->compacting_ = false;
    }
  } done{this};
  size_t merged = 0;
  std::optional<Error> failure;
  for (size_t round = 0; round < std::max<size_t>(config_.compaction_max_rounds, 1); ++round) {
    {
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    auto r = co_await compactor_->run_round();
    std::lock_guard lock(mu_);
    const CompactionPlanInfo& plan = compactor_->last_plan();
    compaction_stats_.committed_objects = plan.objects;
    compaction_stats_.backlog_objects = plan.small_objects;
    compaction_stats_.backlog_bytes = plan.small_bytes;
    if (!r) {
      if (r.error().code == Errc::conflict) {
        ++compaction_stats_.conflicts;  // something changed under it: plan again
        continue;
      }
      ++compaction_stats_.failures;
      failure = r.error();
      break;
    }
    if (!*r) break;  // the trigger does not hold
    const CompactionSwap& swap = **r;
    apply_compaction_locked(swap);
    ++compaction_stats_.swaps;
    compaction_stats_.objects_merged += swap.removed.size();
    compaction_stats_.objects_written += swap.added.size();
    compaction_stats_.bytes_read += swap.bytes_read;
    compaction_stats_.bytes_rewritten += swap.bytes_written;
    merged += swap.removed.size();
    log::info(kLog, "compaction: ", swap.removed.size(), " objects (", swap.bytes_read, " bytes) -> ",
              swap.added.size(), " (", swap.bytes_written, " bytes), ", swap.dropped_blocks, " trimmed blocks dropped");
  }
  // Cluster mode: dead objects (trimmed away, deleted topics) leave metadata; the sweep deletes them after the grace.
  if (config_.retire_unreferenced_objects) {
    auto retired = co_await compactor_->retire_unreferenced(config_.live_streams_at);
    if (retired) {
      apply_retired(*retired);
    } else if (!failure) {
      failure = retired.error();
    }
  }
  // Replaced (and orphaned) objects whose grace is over.
  auto swept = co_await compactor_->sweep_gc(wall_ms());
  if (swept) {
    std::lock_guard lock(mu_);
    compaction_stats_.gc_objects_deleted += *swept;
  } else if (!failure) {
    failure = swept.error();
  }
  if (failure) co_return *failure;
  co_return merged;
}

void StreamStore::apply_compaction_locked(const CompactionSwap& swap) {
  std::map<uint64_t, std::vector<std::pair<BlockInfo, std::string>>> added;
  for (const ObjectRanges& o : swap.added) {
    for (const BlockInfo& b : o.blocks) added[b.stream_id].emplace_back(b, o.key);
  }
  for (auto& [id, s] : streams_) {
    auto mine = added.find(id);
    const bool touched =
        std::any_of(s.blocks.begin(), s.blocks.end(), [&](const auto& b) { return swap.removed.count(b.second) > 0; });
    if (!touched && mine == added.end()) continue;
    std::erase_if(s.blocks, [&](const auto& b) { return swap.removed.count(b.second) > 0; });
    if (mine != added.end()) {
      for (const auto& [nb, key] : mine->second) {
        // Already there (a refresh read the metadata after the swap).
        if (std::any_of(s.blocks.begin(), s.blocks.end(),
                        [&](const auto& b) { return b.second == key && b.first == nb; })) {
          continue;
        }
        // The output is the committed truth for its offsets: anything overlapping it is stale.
        std::erase_if(s.blocks, [&](const auto& b) {
          return b.first.first_offset <= nb.last_offset && b.first.last_offset >= nb.first_offset;
        });
        s.blocks.emplace_back(nb, key);
      }
    }
    std::sort(s.blocks.begin(), s.blocks.end(), by_first_offset);
  }
}

void StreamStore::apply_retired(const Compactor::Retired& retired) {
  {
    std::lock_guard lock(mu_);
    compaction_stats_.objects_retired += retired.keys.size();
    compaction_stats_.conflicts += retired.conflicts;
    for (auto& [id, s] : streams_) {
      std::erase_if(s.blocks, [&](const auto& b) { return retired.keys.count(b.second) > 0; });
    }
  }
  for (const std::string& key : retired.keys) block_reader_->forget_object(key);
}

asio::awaitable<Status> StreamStore::refresh_blocks() {
  // One linearizable read of every objects/ key, at one revision (as acquire()).
  std::map<uint64_t, std::vector<std::pair<BlockInfo, std::string>>> blocks;
  std::function<Status(CommittedObject&&)> add_blocks = [&blocks](CommittedObject&& o) {
    for (const BlockInfo& b : o.ranges.blocks) blocks[b.stream_id].emplace_back(b, o.ranges.key);
    return ok_status();
  };
  auto read = co_await read_committed_objects(meta_, config_.meta_root, add_blocks, "stream: re-read");
  if (!read) co_return read.error();
  std::lock_guard lock(mu_);
  ++compaction_stats_.stale_block_refreshes;
  for (auto& [id, s] : streams_) {
    auto& fresh = blocks[id];
    int64_t end = -1;
    for (const auto& b : fresh) end = std::max(end, b.first.last_offset);
    // What memory holds beyond the metadata's end was committed (or swapped in) after the read: it stays, and
    // wins over the metadata's blocks it overlaps. Everything else comes from the read.
    std::vector<std::pair<BlockInfo, std::string>> newer;
    for (const auto& b : s.blocks) {
      if (b.first.last_offset > end) newer.push_back(b);
    }
    std::erase_if(fresh, [&](const auto& f) {
      return std::any_of(newer.begin(), newer.end(), [&](const auto& n) {
        return f.first.first_offset <= n.first.last_offset && f.first.last_offset >= n.first.first_offset;
      });
    });
    fresh.insert(fresh.end(), newer.begin(), newer.end());
    std::sort(fresh.begin(), fresh.end(), by_first_offset);
    s.blocks = std::move(fresh);
  }
  co_return ok_status();
}

StreamStore::CompactionStats StreamStore::compaction_stats() const {
  std::lock_guard lock(mu_);
  return compaction_stats_;
}

}  // namespace floe::stream
