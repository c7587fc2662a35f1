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
#include "stream/committed_objects.h"
#include "stream/errc.h"
#include "stream/stream_store_internal.h"
#include <cstring>
#include <mutex>
#include <random>

namespace floe::stream {
namespace detail {

// Not thread_local: GCC 12 may cache a thread-local's address across a coroutine's suspension points.
std::string random_hex(size_t bytes) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::lock_guard lock(mu);
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    auto b = static_cast<uint8_t>(rng());
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string stream_key(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace detail

using detail::err;
using detail::kEntryHeader;
using detail::kLog;
using detail::stream_key;

StreamStore::StreamStore(asio::any_io_executor executor, StreamStoreConfig config, objstore::ObjectStore& objects,
                         meta::MetaStore& meta)
    : base_executor_(executor),
      executor_(asio::make_strand(executor)),
      config_(std::move(config)),
      objects_(objects),
      meta_(meta),
      wakeup_(executor_) {
  BlockReaderConfig blocks;
  blocks.cache_bytes = config_.block_cache_bytes;
  blocks.read_ahead_max_bytes = config_.read_ahead_max_bytes;
  blocks.ahead_inflight_bytes = config_.read_ahead_inflight_bytes;
  blocks.get_timeout = config_.object_timeout;
  block_reader_ = std::make_unique<BlockReader>(base_executor_, objects_, blocks);
  object_index_cache_ = std::make_unique<ObjectIndexCache>(config_.object_index_cache_bytes);
}

StreamStore::~StreamStore() {
  // close() has stopped the uploader; a store that never opened fully has none.
  if (wal_) wal_->close();
  blocking_.join();
  compaction_cpu_.join();
}

asio::awaitable<Result<std::unique_ptr<StreamStore>>> StreamStore::open(asio::any_io_executor executor,
                                                                        StreamStoreConfig config,
                                                                        objstore::ObjectStore& objects,
                                                                        meta::MetaStore& meta) {
  std::unique_ptr<StreamStore> store(new StreamStore(executor, std::move(config), objects, meta));
  // Earlier object-WAL epochs first (either WAL kind: a switch from the object WAL to the file WAL must not lose
  // what the last object-WAL process acked), so that their recovered ranges are committed before they are loaded.
  if (store->config_.seal_previous_epochs) {
    if (Status st = co_await store->seal_previous_epochs(); !st) co_return st.error();
  }
  if (Status st = co_await store->load_metadata(); !st) co_return st.error();
  if (store->config_.wal_kind == StreamStoreConfig::WalKind::object) {
    if (Status st = co_await store->drain_file_wal(); !st) co_return st.error();
    if (Status st = co_await store->open_object_wal(); !st) co_return st.error();
    store->start_compaction();
    store->start_index_warmer();
    co_return store;
  }
  if (Status st = store->replay_wal(); !st) co_return st.error();
  store->uploader_stopped_ = std::make_unique<asio::steady_timer>(store->executor_);
  store->uploader_stopped_->expires_at(asio::steady_timer::time_point::max());
  asio::co_spawn(store->executor_, store->uploader(), asio::detached);
  store->start_compaction();
  co_return store;
}

asio::awaitable<Status> StreamStore::load_metadata() {
  std::function<Status(CommittedObject&&)> add_blocks = [this](CommittedObject&& o) {
    for (const BlockInfo& b : o.ranges.blocks) streams_[b.stream_id].blocks.emplace_back(b, o.ranges.key);
    return ok_status();
  };
  auto loaded = co_await read_committed_objects(meta_, config_.meta_root, add_blocks, "stream: load");
  if (!loaded) co_return loaded.error();
  for (auto& [id, s] : streams_) {
    std::sort(s.blocks.begin(), s.blocks.end(),
              [](const auto& a, const auto& b) { return a.first.first_offset < b.first.first_offset; });
    s.committed = s.blocks.empty() ? 0 : s.blocks.back().first.last_offset + 1;
  }
  auto starts = co_await read_stream_starts(meta_, config_.meta_root, 0, "stream: load");
  if (!starts) co_return starts.error();
  for (const auto& [id, start] : *starts) streams_[id].start = start;
  for (auto& [id, s] : streams_) {
    s.durable = s.next = std::max(s.committed, s.start);
  }
  co_return ok_status();
}

StreamEnds StreamStore::ends(uint64_t stream_id) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return {};
  return {it->second.start, it->second.committed, it->second.durable};
}

asio::awaitable<Result<int64_t>> StreamStore::append(uint64_t stream_id, Bytes batches, int32_t leader_epoch,
                                                     Admit admit) {
  if (batches.empty() || batches.size() > config_.max_append_bytes) {
    co_return err(Errc::too_large, "stream: append of " + std::to_string(batches.size()) + " bytes");
  }
  auto data = std::make_shared<Bytes>(std::move(batches));
  auto token = asio::use_awaitable;
  using Outcome = std::pair<std::error_code, int64_t>;
  // A named local, not a temporary inside the co_await expression: GCC 12 destroys such temporaries twice.
  auto initiate = [this, stream_id, data, leader_epoch, &admit](auto handler) {
    auto done = std::make_shared<decltype(handler)>(std::move(handler));
    auto complete = [done](std::error_code ec, int64_t first) {
      auto ex = asio::get_associated_executor(*done);
      asio::post(ex, [done, ec, first]() mutable { (*done)(Outcome{ec, first}); });
    };
    std::unique_lock lock(mu_);
    if (closing_) return complete(make_error_code(Errc::closed), 0);
    if (!owned_locked(stream_id)) return complete(make_error_code(Errc::not_owner), 0);
    if (wal_failure_) return complete(make_error_code(Errc::unavailable), 0);  // the object WAL stopped
    if (uncommitted_bytes_ + data->size() > config_.max_uncommitted_bytes) {
      return complete(make_error_code(Errc::too_large), 0);  // back-pressure: uploads are behind
    }
    if (admit) {
      if (std::error_code refused = admit()) return complete(refused, 0);
    }
    Stream& s = streams_[stream_id];
    Entry entry;
    entry.first = s.next;
    int64_t next = s.next;
    record::BatchSplitter split{ByteSpan(*data)};
    std::span<uint8_t> all(data->data(), data->size());
    for (record::BatchView batch; split.next(batch);) {
      size_t at = static_cast<size_t>(batch.bytes().data() - data->data());
      auto bytes = all.subspan(at, batch.bytes().size());
      (void)record::set_base_offset(bytes, next);
      (void)record::set_partition_leader_epoch(bytes, leader_epoch);
      next += batch.header().last_offset_delta + 1;
      entry.max_timestamp = std::max(entry.max_timestamp, batch.header().max_timestamp);
    }
    if (split.error() != record::RecordError::ok || next == entry.first) {
      return complete(make_error_code(Errc::invalid_argument), 0);
    }
    entry.last = next - 1;
    entry.data = data;
    note_epoch_locked(s, leader_epoch, entry.first);
    s.next = next;
    uncommitted_bytes_ += data->size();
    s.entries.push_back(entry);

    if (object_wal_) {
      // The object WAL takes a copy (it builds the object from it); the cache keeps `data`. Under the lock, so
      // that WAL order is offset order within the stream. Its callback runs on the WAL's strand, acks in order.
      WalAppend wal_entry{stream_id, entry.first, entry.last, entry.max_timestamp, *data};
      auto on_ack = [this, stream_id, first = entry.first, complete](std::error_code ec, uint64_t) {
        const std::error_code mapped = ec ? object_wal_error(ec) : std::error_code();
        on_durable(stream_id, first, mapped);
        complete(mapped, first);
      };
      if (std::error_code refused = object_wal_->append_or_refuse(std::move(wal_entry), on_ack)) {
        // Not taken (buffer full, or the WAL stopped a moment ago): undo, nothing was written.
        uncommitted_bytes_ -= data->size();
        s.entries.pop_back();
        s.next = entry.first;
        return complete(object_wal_error(refused), 0);
      }
      return;
    }

    // The WAL entry: a 32-byte header (stream, first and last offset, max timestamp), then the batches, handed to
    // the WAL in two pieces (no intermediate copy of the batches).
    uint8_t header[kEntryHeader];
    {
      Bytes h;
      proto::Writer w(h);
      w.i64(static_cast<int64_t>(stream_id));
      w.i64(entry.first);
      w.i64(entry.last);
      w.i64(entry.max_timestamp);
      std::memcpy(header, h.data(), kEntryHeader);
    }
    const ByteSpan parts[] = {ByteSpan(header, kEntryHeader), ByteSpan(*data)};
    // Under the lock, so that WAL order is offset order within the stream.
    // The callback runs on the flusher thread that synced the entry (with no WAL lock held): the high watermark
    // moves there, and waiting fetches are woken from there (durable_listener_), not after a hop through the
    // store's strand; only the append's own completion is posted, to its caller's executor.
    s.entries.back().wal_seq =
        wal_->append_parts(parts, [this, stream_id, first = entry.first, complete](std::error_code ec, uint64_t) {
          on_durable(stream_id, first, ec);
          complete(ec, first);
        });
  };
  auto [ec, first] = co_await asio::async_initiate<decltype(token), void(Outcome)>(initiate, token);
  if (ec) co_return Error{ec, "stream " + stream_key(stream_id) + ": append failed: " + ec.message()};
  co_return first;
}

// The stream error for an object WAL error (errc.h): ambiguous stays ambiguous (REQUEST_TIMED_OUT: the data may
// be recovered by the seal), a stopped WAL is unavailable (not written: retriable after a new epoch).
std::error_code StreamStore::object_wal_error(std::error_code ec) {
  if (ec == WalErrc::ambiguous) return make_error_code(Errc::ambiguous);
  if (ec == WalErrc::not_written || ec == WalErrc::closed) return make_error_code(Errc::unavailable);
  if (ec == WalErrc::too_large) return make_error_code(Errc::too_large);
  if (ec == WalErrc::invalid_argument) return make_error_code(Errc::invalid_argument);
  return make_error_code(Errc::io_error);
}

void StreamStore::set_durable_listener(DurableListener listener) {
  std::lock_guard lock(listener_mu_);
  durable_listener_ = std::move(listener);
}

// Runs on the WAL's thread (file WAL: a flusher; object WAL: its strand), never on executor_.
void StreamStore::on_durable(uint64_t stream_id, int64_t first, std::error_code ec) {
  bool wake = false;
  int64_t durable_end = -1;
  {
    std::lock_guard lock(mu_);
    auto found = streams_.find(stream_id);
    if (found == streams_.end()) return;  // released and forgotten meanwhile
    Stream& s = found->second;
    // Entries ascend by offset and the log cache keeps many committed ones in front: a binary search, not a scan
    // from the oldest (this runs once per acked append).
    auto it = std::lower_bound(s.entries.begin(), s.entries.end(), first,
                               [](const Entry& e, int64_t offset) { return e.first < offset; });
    if (it == s.entries.end() || it->first != first) return;
    if (ec) {
      // The WAL failed for good: drop this and every later entry of the stream; offsets restart at the durable
      // end so that they stay dense if the data reappears after a restart.
      for (auto j = it; j != s.entries.end(); ++j) uncommitted_bytes_ -= j->data->size();
      s.entries.erase(it, s.entries.end());
      s.next = s.durable;
      return;
    }
    it->durable = true;
    s.durable = it->last + 1;
    durable_end = s.durable;
    wake = !object_wal_ && uncommitted_bytes_ >= config_.upload_bytes;  // the uploader (file WAL only)
  }
  {
    std::lock_guard lock(listener_mu_);
    if (durable_listener_) durable_listener_(stream_id, durable_end);
  }
  // The timer belongs to executor_ (not thread-safe): cancelled there.
  if (wake) asio::post(executor_, [this] { wakeup_.cancel(); });
}

asio::awaitable<Result<ReadResult>> StreamStore::read(uint64_t stream_id, int64_t offset, size_t max_bytes) {
  return read_gated(stream_id, offset, max_bytes, false);
}

asio::awaitable<Result<ReadResult>> StreamStore::read_for_client(uint64_t stream_id, int64_t offset,
                                                                 size_t max_bytes) {
  return read_gated(stream_id, offset, max_bytes, true);
}

asio::awaitable<Result<ReadResult>> StreamStore::read_gated(uint64_t stream_id, int64_t offset, size_t max_bytes,
                                                            bool client) {
  // A GET answered 404 means the object went (compaction swapped its ranges, or retention and garbage collection
  // removed them) after this read planned it: plan again from the block map, a bounded number of times.
  constexpr int kMaxPlans = 4;
  std::string gone;  // the object a GET found missing
  // Evaluated once, outside the lock (the hook reads the watch probe's atomics).
  const bool committed_allowed = !client || !config_.committed_reads_allowed || config_.committed_reads_allowed();
  for (int attempt = 0;; ++attempt) {
    ReadResult out;
    BlockRef current;
    std::vector<BlockRef> following;  // the stream's next blocks, within max(window, max_bytes)
    size_t window = 0;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(stream_id);
      if (!owned_locked(stream_id)) {
        co_return err(Errc::not_owner, "stream " + stream_key(stream_id) + ": not owned by this broker");
      }
      if (it == streams_.end()) {
        if (offset == 0) co_return out;
        co_return err(Errc::out_of_range, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset));
      }
      Stream& s = it->second;
      out.high_watermark = s.durable;
      out.log_start = s.start;
      if (offset < s.start || offset > s.durable) {
        co_return err(Errc::out_of_range, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset) +
                                              " outside [" + std::to_string(s.start) + ", " +
                                              std::to_string(s.durable) + "]");
      }
      if (offset == s.durable) co_return out;
      // Entries ascend by offset (the log cache may hold thousands): a binary search, not a scan from the oldest.
      auto e = std::partition_point(s.entries.begin(), s.entries.end(),
                                    [&](const Entry& x) { return x.last < offset; });
      if (e != s.entries.end() && e->first <= offset) {
        for (; e != s.entries.end() && e->durable; ++e) {
          if (!out.batches.empty() && out.batches.size() + e->data->size() > max_bytes) break;
          out.batches.insert(out.batches.end(), e->data->begin(), e->data->end());
        }
        ++cache_reads_;
        co_return out;
      }
      if (!committed_allowed) {
        ++compaction_stats_.committed_reads_refused;
        co_return err(Errc::image_lagging, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset) +
                                               " is committed and this broker's metadata image lags");
      }
      auto b = std::partition_point(s.blocks.begin(), s.blocks.end(),
                                    [&](const auto& x) { return x.first.last_offset < offset; });
      if (b == s.blocks.end()) {
        co_return err(Errc::io_error,
                      "stream " + stream_key(stream_id) + ": no block holds offset " + std::to_string(offset));
      }
      if (!gone.empty() && b->second == gone) {
        co_return err(Errc::io_error, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset) +
                                          " is mapped to object " + gone + ", which is missing");
      }
      current = BlockRef{b->first, b->second};
      if (attempt == 0) window = block_reader_->plan(stream_id, offset);
      constexpr size_t kMaxFollowing = 256;
      const size_t span = std::max(window, max_bytes);
      size_t bytes = 0;
      for (auto n = std::next(b); n != s.blocks.end() && bytes < span && following.size() < kMaxFollowing; ++n) {
        following.push_back(BlockRef{n->first, n->second});
        bytes += n->first.size;
      }
    }
    // Read-ahead: the following blocks within the window.
    std::vector<BlockRef> ahead;
    for (size_t i = 0, bytes = 0; i < following.size() && bytes < window; ++i) {
      ahead.push_back(following[i]);
      bytes += following[i].block.size;
    }
    auto got = co_await block_reader_->get(current, std::move(ahead));
    if (!got) {
      if (got.error().code == objstore::Errc::not_found && attempt + 1 < kMaxPlans) {
        log::info(kLog, "stream ", stream_key(stream_id), ": ", current.object, " is gone, planning the read again");
        gone = current.object;
        if (maps_to(stream_id, offset, gone)) {
          // The block map itself is stale (a compaction elsewhere swapped the object's ranges): re-read it from
          // metadata (linearizable) before planning again.
          if (Status st = co_await refresh_blocks(); !st) co_return st.error();
        }
        continue;
      }
      co_return err(Errc::io_error, got.error().message);
    }
    // The block, then the following blocks as long as they are cached, continue it densely and fit max_bytes:
    // first the byte ranges to return (adjacent batches of a block merged into one), then one copy into a buffer
    // of the right size.
    std::vector<std::shared_ptr<const std::string>> held{std::move(*got)};
    std::vector<ByteSpan> pieces;
    size_t total = 0;
    int64_t next = offset;
    int64_t expect = current.block.first_offset;
    size_t i = 0;
    for (const BlockRef* ref = &current;;) {
      if (ref->block.first_offset != expect) break;
      const std::string& block = *held.back();
      ByteSpan span(reinterpret_cast<const uint8_t*>(block.data()), block.size());
      bool full = false;
      record::BatchSplitter split(span);
      for (record::BatchView batch; split.next(batch);) {
        const int64_t last = batch.header().base_offset + batch.header().last_offset_delta;
        if (last < offset) continue;
        if (total > 0 && total + batch.bytes().size() > max_bytes) {
          full = true;
          break;
        }
        if (!pieces.empty() && pieces.back().data() + pieces.back().size() == batch.bytes().data()) {
          pieces.back() = ByteSpan(pieces.back().data(), pieces.back().size() + batch.bytes().size());
        } else {
          pieces.push_back(batch.bytes());
        }
        total += batch.bytes().size();
        next = last + 1;
      }
      if (full || i >= following.size()) break;
      expect = ref->block.last_offset + 1;
      ref = &following[i++];
      auto more = block_reader_->cached(*ref);
      if (!more) break;
      held.push_back(std::move(more));
    }
    out.batches.reserve(total);
    for (const ByteSpan& piece : pieces) out.batches.insert(out.batches.end(), piece.begin(), piece.end());
    block_reader_->served(stream_id, offset, next);
    {
      std::lock_guard lock(mu_);
      ++object_reads_;
    }
    co_return out;
  }
}

bool StreamStore::maps_to(uint64_t stream_id, int64_t offset, const std::string& object) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return false;
  const auto& blocks = it->second.blocks;
  auto b = std::partition_point(blocks.begin(), blocks.end(), [&](const auto& x) { return x.first.last_offset < offset; });
  return b != blocks.end() && b->second == object;
}

StreamStore::CacheStats StreamStore::cache_stats() const {
  CacheStats out;
  out.blocks = block_reader_->stats();  // its own lock, not under mu_
  std::lock_guard lock(mu_);
  out.cached_committed_bytes = cached_committed_bytes_;
  out.uncommitted_bytes = uncommitted_bytes_;
  out.limit_bytes = config_.log_cache_bytes;
  out.cache_reads = cache_reads_;
  out.object_reads = object_reads_;
  out.object_read_bytes = out.blocks.get_bytes + out.blocks.ahead_bytes + out.blocks.prefetch_bytes;
  return out;
}

std::vector<uint64_t> StreamStore::stream_ids() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, s] : streams_) out.push_back(id);
  return out;
}

void StreamStore::note_epoch_locked(Stream& s, int32_t epoch, int64_t offset) {
  constexpr size_t kMaxEpochs = 1000;
  if (epoch < 0) return;
  auto it = s.epochs.find(epoch);
  if (it != s.epochs.end()) {
    it->second = std::min(it->second, offset);
    return;
  }
  s.epochs.emplace(epoch, offset);
  if (s.epochs.size() > kMaxEpochs) s.epochs.erase(s.epochs.begin());
}

void StreamStore::observe_epoch(uint64_t stream_id, int32_t epoch, int64_t offset) {
  std::lock_guard lock(mu_);
  note_epoch_locked(streams_[stream_id], epoch, offset);
}

std::pair<int32_t, int64_t> StreamStore::epoch_end_offset(uint64_t stream_id, int32_t epoch) const {
  // Kafka's rules (its leader epoch cache): the latest epoch ends at the log end; an epoch above every known one
  // is undefined; below every known one it ends where the oldest known epoch began; otherwise the largest epoch
  // at or below it ends where the next one began.
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream_id);
  if (epoch < 0 || it == streams_.end() || it->second.epochs.empty()) return {-1, -1};
  const auto& epochs = it->second.epochs;
  if (epochs.rbegin()->first == epoch) return {epoch, it->second.durable};
  auto higher = epochs.upper_bound(epoch);
  if (higher == epochs.end()) return {-1, -1};
  if (higher == epochs.begin()) return {epoch, higher->second};
  return {std::prev(higher)->first, higher->second};
}

void StreamStore::evict_committed_locked() {
  // Oldest committed entries first, stream by stream, until the committed cache fits its bound.
  for (auto& [id, s] : streams_) {
    while (cached_committed_bytes_ > config_.log_cache_bytes && !s.entries.empty() && s.entries.front().committed) {
      cached_committed_bytes_ -= s.entries.front().data->size();
      s.entries.pop_front();
    }
  }
}

asio::awaitable<void> StreamStore::close() {
  {
    std::lock_guard lock(mu_);
    if (closing_) co_return;
    closing_ = true;
  }
  co_await stop_index_warmer();
  co_await stop_compaction();  // the pass under way ends after its round
  if (object_wal_) {
    co_await object_wal_->close();  // writes and commits what is buffered (bounded by its timeouts)
  } else {
    co_await asio::co_spawn(
        executor_,
        [this]() -> asio::awaitable<void> {
          wakeup_.cancel();
          bool done = false;
          {
            std::lock_guard lock(mu_);
            done = uploader_done_;
          }
          if (!done) {
            std::error_code ec;
            co_await uploader_stopped_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
          }
        },
        asio::use_awaitable);
    wal_->close();
  }
  co_await block_reader_->stop();  // no read-ahead GET still running
  // Handlers the WALs posted to the store's strand before they closed run before this: the store may then go.
  co_await asio::post(executor_, asio::use_awaitable);
}

bool StreamStore::owns(uint64_t stream_id) const {
  std::lock_guard lock(mu_);
  return owned_locked(stream_id);
}

bool StreamStore::owned_locked(uint64_t stream_id) const {
  return !config_.owned_streams_only || owned_.count(stream_id) > 0;
}

uint64_t StreamStore::uploads() const {
  std::lock_guard lock(mu_);
  return uploads_;
}

}  // namespace floe::stream
