// Part of StreamStore (stream_store.h): timestamp lookup, trim, retention and garbage collection.
#include "stream/stream_store.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "protocol/wire.h"
#include "stream/errc.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

using detail::err;
using detail::kLog;
using detail::stream_key;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

asio::awaitable<Result<std::optional<StreamStore::TimestampHit>>> StreamStore::find_timestamp(uint64_t stream_id,
                                                                                              int64_t timestamp) {
  return find_timestamp_gated(stream_id, timestamp, false);
}

asio::awaitable<Result<std::optional<StreamStore::TimestampHit>>> StreamStore::find_timestamp_for_client(
    uint64_t stream_id, int64_t timestamp) {
  return find_timestamp_gated(stream_id, timestamp, true);
}

asio::awaitable<Result<std::optional<StreamStore::TimestampHit>>> StreamStore::find_timestamp_gated(
    uint64_t stream_id, int64_t timestamp, bool client) {
  // Evaluated once, outside the lock (the hook reads the watch probe's atomics), as in read_gated.
  const bool committed_allowed = !client || !config_.committed_reads_allowed || config_.committed_reads_allowed();
  for (int attempt = 0;; ++attempt) {  // a 404: the block map is stale (compaction): re-read it, retry (as read())
    auto r = co_await find_timestamp_once(stream_id, timestamp, committed_allowed);
    if (r || r.error().code != objstore::Errc::not_found) co_return r;
    if (attempt == 2) co_return err(Errc::io_error, r.error().message);
    if (Status st = co_await refresh_blocks(); !st) co_return st.error();
  }
}

asio::awaitable<Result<std::optional<StreamStore::TimestampHit>>> StreamStore::find_timestamp_once(
    uint64_t stream_id, int64_t timestamp, bool committed_allowed) {
  const bool want_max = timestamp == kMaxTimestamp;
  // The candidate: a committed block or a cache entry whose max timestamp qualifies (first one; for the maximum,
  // the first one holding it). Timestamps may be out of order, so every range is looked at.
  std::shared_ptr<const Bytes> cached;
  BlockInfo block;
  std::string object_key;
  int64_t start = 0;
  int64_t best = -1;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) co_return std::optional<TimestampHit>();
    const Stream& s = it->second;
    start = s.start;
    // The committed ranges take part in the answer when any committed block reaches the log start (the last block
    // is the highest). A lagging image: refuse rather than answer from ranges that may be gone (DESIGN §7).
    if (!committed_allowed && !s.blocks.empty() && s.blocks.back().first.last_offset >= s.start) {
      ++compaction_stats_.committed_reads_refused;
      co_return err(Errc::image_lagging, "stream " + stream_key(stream_id) + ": a timestamp lookup needs committed " +
                                             "ranges and this broker's metadata image lags");
    }
    auto consider = [&](int64_t max_ts, int64_t last) {
      if (last < s.start) return false;
      if (want_max ? max_ts > best : (max_ts >= timestamp && best < 0)) {
        best = want_max ? max_ts : 1;
        return true;
      }
      return false;
    };
    for (const auto& [b, key] : s.blocks) {
      if (consider(b.max_timestamp, b.last_offset)) {
        block = b;
        object_key = key;
        cached.reset();
      }
    }
    for (const Entry& e : s.entries) {
      if (!e.durable || e.first < s.committed) continue;  // committed entries are in the blocks above
      if (consider(e.max_timestamp, e.last)) {
        cached = e.data;
        object_key.clear();
      }
    }
  }
  if (best < 0) co_return std::optional<TimestampHit>();
  std::shared_ptr<const std::string> fetched;
  ByteSpan bytes;
  if (cached) {
    bytes = ByteSpan(*cached);
  } else {
    // Through the block cache (a lookup by time is often followed by reads from there); CRC-checked.
    BlockRef ref{block, object_key};
    std::vector<BlockRef> no_read_ahead;  // a named local: no braced temporary inside co_await (GCC 12)
    auto got = co_await block_reader_->get(std::move(ref), std::move(no_read_ahead));
    if (!got) {
      // not_found is kept: find_timestamp() re-reads the block map and retries.
      co_return Error{got.error().code == objstore::Errc::not_found ? got.error().code : make_error_code(Errc::io_error),
                      got.error().message};
    }
    fetched = std::move(*got);
    bytes = ByteSpan(reinterpret_cast<const uint8_t*>(fetched->data()), fetched->size());
  }
  const int64_t target = want_max ? best : timestamp;
  record::BatchSplitter split(bytes);
  for (record::BatchView batch; split.next(batch);) {
    if (batch.header().max_timestamp < target) continue;
    auto set = record::RecordSet::open(batch);
    if (!set) continue;
    auto reader = set->reader();
    for (record::RecordView r; reader.next(r);) {
      int64_t offset = r.offset(batch.header());
      int64_t ts = r.timestamp(batch.header());
      if (offset >= start && (want_max ? ts == target : ts >= target)) co_return TimestampHit{offset, ts};
    }
  }
  co_return std::optional<TimestampHit>();
}

asio::awaitable<Status> StreamStore::trim(uint64_t stream_id, int64_t new_start) {
  int64_t durable = 0;
  {
    std::lock_guard lock(mu_);
    Stream& s = streams_[stream_id];
    if (new_start <= s.start) co_return ok_status();
    durable = s.durable;
  }
  if (new_start > durable) co_return err(Errc::out_of_range, "stream: trim past the high watermark");
  meta::PutRequest put;
  put.key = config_.meta_root + "streams/" + stream_key(stream_id) + "/start";
  put.value = std::to_string(new_start);
  auto r = co_await meta_.put(put);
  if (!r) co_return err(Errc::io_error, "stream: commit of log start: " + r.error().message());
  std::lock_guard lock(mu_);
  Stream& s = streams_[stream_id];
  s.start = std::max(s.start, new_start);
  co_return ok_status();
}

asio::awaitable<Result<int64_t>> StreamStore::apply_retention(uint64_t stream_id, int64_t retention_ms,
                                                              int64_t retention_bytes, int64_t now_ms) {
  int64_t new_start = 0;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) co_return int64_t{0};
    const Stream& s = it->second;
    new_start = s.start;
    uint64_t live_bytes = 0;
    for (const auto& [b, key] : s.blocks) {
      if (b.last_offset >= s.start) live_bytes += b.size;
    }
    for (const auto& [b, key] : s.blocks) {
      if (b.last_offset < new_start) continue;
      const bool too_old = retention_ms >= 0 && b.max_timestamp < now_ms - retention_ms;
      const bool too_big = retention_bytes >= 0 && live_bytes > static_cast<uint64_t>(retention_bytes);
      if (!too_old && !too_big) break;
      new_start = b.last_offset + 1;
      live_bytes -= b.size;
    }
    if (new_start <= s.start) co_return s.start;
  }
  if (Status st = co_await trim(stream_id, new_start); !st) co_return st.error();
  co_return new_start;
}

asio::awaitable<Result<size_t>> StreamStore::collect_garbage(std::chrono::milliseconds grace) {
  // The same guarded path as cluster mode (compaction.h, "Retirement"): from ONE linearizable read of every
  // objects/ key and the stream starts, the wholly dead objects lose their keys in txns that compare each key's
  // mod revision and name them in a gc record; the sweep deletes them once the record is due (grace), after
  // checking that no objects/ key names them. So a commit that rewrites or re-creates the key of an object being
  // collected (a seal recovering it, a compaction swapping it) makes the retire txn fail or the sweep keep it,
  // instead of racing an unconditional delete. Memory (this store's block map) is not the source: it only follows.
  {
    std::lock_guard lock(mu_);
    if (collecting_ || closing_) co_return size_t{0};
    collecting_ = true;
  }
  struct Done {
    StreamStore* self;
    ~Done() {
      std::lock_guard lock(self->mu_);
      self->collecting_ = false;
    }
  } done{this};
  if (!gc_compactor_ || gc_compactor_grace_ != grace) {
    CompactionOptions o;
    o.meta_root = config_.meta_root;
    o.output_prefix = config_.object_prefix + "compacted/";
    o.grace = grace;
    o.object_timeout = config_.object_timeout;
    o.live_streams = config_.live_streams_at;
    gc_compactor_ = std::make_unique<Compactor>(std::move(o), objects_, meta_);
    gc_compactor_grace_ = grace;
  }
  auto retired = co_await gc_compactor_->retire_unreferenced(config_.live_streams_at);
  if (!retired) co_return retired.error();
  apply_retired(*retired);
  auto swept = co_await gc_compactor_->sweep_gc(wall_ms());
  if (!swept) co_return swept.error();
  std::lock_guard lock(mu_);
  compaction_stats_.gc_objects_deleted += *swept;
  co_return *swept;
}

}  // namespace floe::stream
