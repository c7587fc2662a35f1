// Part of StreamStore (stream_store.h): the file WAL: replay at open, the uploader (put -> commit -> WAL trim), flush.
#include "stream/stream_store.h"

#include <algorithm>
#include <filesystem>
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
using detail::kEntryHeader;
using detail::random_hex;
using detail::kLog;
using detail::stream_key;

Status StreamStore::replay_wal() {
  FileWalOptions opts;
  opts.dir = config_.wal_dir;
  opts.epoch = config_.epoch;
  opts.max_entry_bytes = config_.max_append_bytes + kEntryHeader;
  opts.segment_bytes = std::max<uint64_t>(config_.wal_segment_bytes, opts.max_entry_bytes + 64);
  Status replay_status = ok_status();
  auto wal = FileWal::open(opts, [&](const WalEntry& e) {
    if (!replay_status) return;
    proto::Reader r(e.payload);
    uint64_t id = static_cast<uint64_t>(r.i64());
    Entry entry;
    entry.first = r.i64();
    entry.last = r.i64();
    entry.max_timestamp = r.i64();
    if (!r.ok()) {
      replay_status = err(Errc::corrupt_wal, "stream: WAL entry " + std::to_string(e.seq) + " is malformed");
      return;
    }
    Stream& s = streams_[id];
    if (entry.last < s.committed || entry.last < s.start) return;  // already in an object (or trimmed)
    if (entry.first != s.next) {
      replay_status = err(Errc::corrupt_wal, "stream " + stream_key(id) + ": WAL entry " + std::to_string(e.seq) +
                                                 " starts at offset " + std::to_string(entry.first) + ", expected " +
                                                 std::to_string(s.next));
      return;
    }
    entry.data = std::make_shared<const Bytes>(e.payload.begin() + kEntryHeader, e.payload.end());
    if (auto first_batch = record::BatchView::parse(ByteSpan(*entry.data))) {
      note_epoch_locked(s, first_batch->header().partition_leader_epoch, entry.first);
    }
    entry.wal_seq = e.seq;
    entry.durable = true;
    uncommitted_bytes_ += entry.data->size();
    s.next = s.durable = entry.last + 1;
    s.entries.push_back(std::move(entry));
  });
  if (!wal) return wal.error();
  if (!replay_status) return replay_status;
  wal_ = std::move(*wal);
  return ok_status();
}

asio::awaitable<void> StreamStore::uploader() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    wakeup_.expires_after(config_.upload_interval);
    std::error_code ec;
    co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    Status st = co_await upload_once();
    if (!st) {
      log::warn(kLog, st.error().message, "; retrying");
      asio::steady_timer backoff(executor_, config_.retry_backoff);
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  // A last upload of what is durable, so that a clean stop leaves the WAL empty of uncommitted data.
  if (config_.upload_on_close) {
    Status st = co_await upload_once();
    if (!st) log::warn(kLog, "final upload failed (the WAL keeps the data): ", st.error().message);
  }
  {
    std::lock_guard lock(mu_);
    uploader_done_ = true;
  }
  uploader_stopped_->cancel();
}

asio::awaitable<Status> StreamStore::upload_once() {
  // What to upload: per stream, the durable, uncommitted entries (a contiguous run after the committed end).
  struct Part {
    uint64_t stream;
    int64_t first, last, max_ts;
    std::vector<std::shared_ptr<const Bytes>> data;
  };
  std::vector<Part> parts;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : streams_) {
      // One part per block: a stream's run is cut at entry boundaries where the next entry would take the part
      // past block_bytes (an entry larger than that is a part of its own).
      const size_t first_part = parts.size();
      Part p{id, -1, -1, 0, {}};
      size_t part_bytes = 0;
      for (Entry& e : s.entries) {
        if (e.committed) continue;
        // Another upload holds the oldest uncommitted entries: this stream waits for it (commits stay in order).
        if (!e.durable || e.uploading) break;
        if (p.first >= 0 && part_bytes + e.data->size() > config_.block_bytes) {
          parts.push_back(std::move(p));
          p = Part{id, -1, -1, 0, {}};
          part_bytes = 0;
        }
        if (p.first < 0) p.first = e.first;
        p.last = e.last;
        p.max_ts = std::max(p.max_ts, e.max_timestamp);
        p.data.push_back(e.data);
        part_bytes += e.data->size();
      }
      if (p.first >= 0) parts.push_back(std::move(p));
      if (parts.size() == first_part) continue;
      const int64_t run_first = parts[first_part].first;
      const int64_t run_last = parts.back().last;
      for (Entry& e : s.entries) {
        if (e.first >= run_first && e.first <= run_last) e.uploading = true;
      }
    }
  }
  if (parts.empty()) co_return ok_status();
  // Whatever way this upload ends, its entries are released (committed ones stay committed).
  struct Release {
    StreamStore* self;
    const std::vector<Part>& parts;
    ~Release() {
      std::lock_guard lock(self->mu_);
      for (const Part& p : parts) {
        for (Entry& e : self->streams_[p.stream].entries) {
          if (e.first >= p.first && e.first <= p.last) e.uploading = false;
        }
      }
    }
  } release{this, parts};

  // The object's blocks are the parts' batches themselves, by reference (no copy of the whole object: a fresh
  // multi-MiB buffer per upload cost a page fault per 4 KiB); computing their CRCs reads every uploaded byte, so it
  // runs on the blocking pool, not on the store's strand, whose executor also runs the network. The parts hold
  // immutable batches (shared_ptr<const Bytes>) and stay alive (`parts`) until the PUT completes.
  struct Built {
    Status status = ok_status();
    std::vector<BlockInfo> blocks;
    SegmentWriter::Pieces object;
  };
  auto build = [&parts]() -> asio::awaitable<Built> {
    Built out;
    SegmentWriter writer;
    for (const Part& p : parts) {
      std::vector<ByteSpan> pieces;
      pieces.reserve(p.data.size());
      for (const auto& d : p.data) pieces.emplace_back(*d);
      if (Status st = writer.add_parts_by_reference(p.stream, p.first, p.last, p.max_ts, pieces); !st) {
        out.status = st;
        co_return out;
      }
    }
    out.blocks = writer.blocks();
    out.object = writer.finish_pieces();
    co_return out;
  };
  auto building = asio::co_spawn(blocking_, build, asio::use_awaitable);
  Built built = co_await std::move(building);
  if (!built.status) co_return built.status;
  ObjectRanges ranges;
  ranges.key = config_.object_prefix + random_hex(16);  // never reused
  ranges.blocks = std::move(built.blocks);
  ranges.object_size = built.object.size;
  std::vector<std::string_view> pieces;
  pieces.reserve(built.object.blocks.size() + 1);
  for (ByteSpan b : built.object.blocks) pieces.emplace_back(reinterpret_cast<const char*>(b.data()), b.size());
  pieces.emplace_back(built.object.tail);

  auto deadline = objstore::Clock::now() + config_.object_timeout;
  auto put = co_await objects_.put_if_absent_pieces(ranges.key, std::move(pieces), deadline);
  if (!put) co_return err(Errc::io_error, "stream: PUT " + ranges.key + ": " + put.error.message());
  if (!put.value.created && !put.value.ambiguous) {
    co_return err(Errc::io_error, "stream: object key " + ranges.key + " already exists");
  }
  meta::PutRequest commit;
  commit.key = config_.meta_root + "objects/" + ranges.key;
  commit.value = encode_object_ranges(ranges);
  auto committed = co_await meta_.put(commit);
  if (!committed) co_return err(Errc::io_error, "stream: commit of " + ranges.key + ": " + committed.error().message());

  uint64_t trim_seq = 0;
  {
    std::lock_guard lock(mu_);
    for (const Part& p : parts) {
      Stream& s = streams_[p.stream];
      for (Entry& e : s.entries) {
        if (e.first > p.last) break;
        if (e.first >= p.first && !e.committed) {
          e.committed = true;
          uncommitted_bytes_ -= e.data->size();
          cached_committed_bytes_ += e.data->size();
        }
      }
      s.committed = p.last + 1;
      for (const BlockInfo& b : ranges.blocks) {
        // A stream's run may be several parts (blocks): each adds its own.
        if (b.stream_id == p.stream && b.first_offset >= p.first && b.last_offset <= p.last) {
          s.blocks.emplace_back(b, ranges.key);
        }
      }
    }
    // The WAL may drop everything below the oldest entry not yet committed.
    trim_seq = wal_->next_seq();
    for (auto& [id, s] : streams_) {
      for (const Entry& e : s.entries) {
        if (!e.committed && e.wal_seq > 0) {
          trim_seq = std::min(trim_seq, e.wal_seq);
          break;
        }
      }
    }
    evict_committed_locked();
    ++uploads_;
  }
  // Blocking unlinks off the network threads.
  FileWal* wal = wal_.get();
  asio::post(blocking_, [wal, trim_seq] {
    auto r = wal->trim_below(trim_seq);
    if (!r) log::warn(kLog, r.error().message);
  });
  co_return ok_status();
}

asio::awaitable<Status> StreamStore::flush() {
  if (object_wal_) {
    std::map<uint64_t, int64_t> targets;  // everything appended before this call
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, s] : streams_) targets[id] = s.next;
    }
    co_return co_await wait_committed(std::move(targets), config_.release_timeout);
  }
  std::map<uint64_t, int64_t> targets;  // what is durable now
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, s] : streams_) targets[id] = s.durable;
  }
  if (Status st = co_await asio::co_spawn(executor_, upload_once(), asio::use_awaitable); !st) co_return st;
  // The uploader may hold some of it in an upload of its own: wait for that one too.
  co_return co_await wait_committed(std::move(targets), config_.release_timeout);
}

// Object WAL: a file WAL left in wal_dir by an earlier file-WAL run may hold durable data that is not committed
// (kill -9, or upload_on_close off). Replay it, upload and commit it once, trim it, and close it: the object WAL
// then starts after it. Nothing there (or no directory): nothing to do.
asio::awaitable<Status> StreamStore::drain_file_wal() {
  std::error_code ec;
  if (config_.wal_dir.empty() || std::filesystem::is_empty(config_.wal_dir, ec) || ec) co_return ok_status();
  if (Status st = replay_wal(); !st) co_return st;
  bool pending = false;
  {
    std::lock_guard lock(mu_);
    pending = uncommitted_bytes_ > 0;
  }
  if (pending) {
    log::info(kLog, "uploading what the file WAL in ", config_.wal_dir, " holds before the object WAL opens");
    if (Status st = co_await asio::co_spawn(executor_, upload_once(), asio::use_awaitable); !st) {
      wal_->close();
      wal_.reset();
      co_return st;
    }
    co_await asio::post(blocking_, asio::use_awaitable);  // the trim upload_once queued has run
  }
  wal_->close();
  wal_.reset();
  co_return ok_status();
}

}  // namespace floe::stream
