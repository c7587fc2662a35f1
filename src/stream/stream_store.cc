#include "stream/stream_store.h"

#include <algorithm>
#include <asio/associated_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <random>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "protocol/wire.h"
#include "stream/errc.h"

namespace floe::stream {
namespace {

constexpr std::string_view kLog = "stream";
constexpr size_t kEntryHeader = 32;  // WAL payload: stream u64, first i64, last i64, max timestamp i64, batches

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

Error err(Errc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

}  // namespace

StreamStore::StreamStore(asio::any_io_executor executor, StreamStoreConfig config, objstore::ObjectStore& objects,
                         meta::MetaStore& meta)
    : executor_(asio::make_strand(executor)),
      config_(std::move(config)),
      objects_(objects),
      meta_(meta),
      wakeup_(executor_) {}

StreamStore::~StreamStore() {
  // close() has stopped the uploader; a store that never opened fully has none.
  if (wal_) wal_->close();
  blocking_.join();
}

asio::awaitable<Result<std::unique_ptr<StreamStore>>> StreamStore::open(asio::any_io_executor executor,
                                                                        StreamStoreConfig config,
                                                                        objstore::ObjectStore& objects,
                                                                        meta::MetaStore& meta) {
  std::unique_ptr<StreamStore> store(new StreamStore(executor, std::move(config), objects, meta));
  if (Status st = co_await store->load_metadata(); !st) co_return st.error();
  if (Status st = store->replay_wal(); !st) co_return st.error();
  store->uploader_stopped_ = std::make_unique<asio::steady_timer>(store->executor_);
  store->uploader_stopped_->expires_at(asio::steady_timer::time_point::max());
  asio::co_spawn(store->executor_, store->uploader(), asio::detached);
  co_return store;
}

asio::awaitable<Status> StreamStore::load_metadata() {
  const std::string objects_prefix = config_.meta_root + "objects/";
  const std::string streams_prefix = config_.meta_root + "streams/";
  std::string from = objects_prefix;
  for (;;) {  // pages of 500 keys
    meta::RangeRequest req;
    req.key = from;
    req.range_end = meta::prefix_end(objects_prefix);
    req.limit = 500;
    auto page = co_await meta_.range(req);
    if (!page) co_return err(Errc::io_error, "stream: cannot load committed objects: " + page.error().message());
    for (const auto& kv : page->kvs) {
      auto ranges = decode_object_ranges(kv.key.substr(objects_prefix.size()), kv.value);
      if (!ranges) co_return ranges.error();
      for (const BlockInfo& b : ranges->blocks) {
        Stream& s = streams_[b.stream_id];
        s.blocks.emplace_back(b, ranges->key);
      }
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + '\0';
  }
  for (auto& [id, s] : streams_) {
    std::sort(s.blocks.begin(), s.blocks.end(),
              [](const auto& a, const auto& b) { return a.first.first_offset < b.first.first_offset; });
    s.committed = s.blocks.empty() ? 0 : s.blocks.back().first.last_offset + 1;
  }
  meta::RangeRequest starts;
  starts.key = streams_prefix;
  starts.range_end = meta::prefix_end(streams_prefix);
  auto st = co_await meta_.range(starts);
  if (!st) co_return err(Errc::io_error, "stream: cannot load stream starts: " + st.error().message());
  for (const auto& kv : st->kvs) {
    // streams/<16 hex>/start
    std::string rest = kv.key.substr(streams_prefix.size());
    if (rest.size() != 16 + 6 || rest.substr(16) != "/start") continue;
    uint64_t id = std::stoull(rest.substr(0, 16), nullptr, 16);
    streams_[id].start = std::stoll(kv.value);
  }
  for (auto& [id, s] : streams_) {
    s.durable = s.next = std::max(s.committed, s.start);
  }
  co_return ok_status();
}

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
    s.entries.back().wal_seq =
        wal_->append_parts(parts, [this, stream_id, first = entry.first, complete](std::error_code ec, uint64_t) {
          asio::post(executor_, [this, stream_id, first, complete, ec] {
            on_durable(stream_id, first, ec);
            complete(ec, first);
          });
        });
  };
  auto [ec, first] = co_await asio::async_initiate<decltype(token), void(Outcome)>(initiate, token);
  if (ec) co_return Error{ec, "stream " + stream_key(stream_id) + ": append failed: " + ec.message()};
  co_return first;
}

void StreamStore::on_durable(uint64_t stream_id, int64_t first, std::error_code ec) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    Stream& s = streams_[stream_id];
    auto it = std::find_if(s.entries.begin(), s.entries.end(), [&](const Entry& e) { return e.first == first; });
    if (it == s.entries.end()) return;
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
    wake = uncommitted_bytes_ >= config_.upload_bytes;
  }
  if (wake) wakeup_.cancel();
}

asio::awaitable<Result<ReadResult>> StreamStore::read(uint64_t stream_id, int64_t offset, size_t max_bytes) {
  ReadResult out;
  BlockInfo block;
  std::string object_key;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) {
      if (offset == 0) co_return out;
      co_return err(Errc::out_of_range, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset));
    }
    Stream& s = it->second;
    out.high_watermark = s.durable;
    out.log_start = s.start;
    if (offset < s.start || offset > s.durable) {
      co_return err(Errc::out_of_range, "stream " + stream_key(stream_id) + ": offset " + std::to_string(offset) +
                                            " outside [" + std::to_string(s.start) + ", " + std::to_string(s.durable) +
                                            "]");
    }
    if (offset == s.durable) co_return out;
    auto e = std::find_if(s.entries.begin(), s.entries.end(), [&](const Entry& x) { return x.last >= offset; });
    if (e != s.entries.end() && e->first <= offset) {
      for (; e != s.entries.end() && e->durable; ++e) {
        if (!out.batches.empty() && out.batches.size() + e->data->size() > max_bytes) break;
        out.batches.insert(out.batches.end(), e->data->begin(), e->data->end());
      }
      co_return out;
    }
    auto b =
        std::find_if(s.blocks.begin(), s.blocks.end(), [&](const auto& x) { return x.first.last_offset >= offset; });
    if (b == s.blocks.end())
      co_return err(Errc::io_error,
                    "stream " + stream_key(stream_id) + ": no block holds offset " + std::to_string(offset));
    block = b->first;
    object_key = b->second;
  }
  auto deadline = objstore::Clock::now() + config_.object_timeout;
  auto got = co_await objects_.get(object_key, objstore::ByteRange{block.position, block.size}, deadline);
  if (!got) co_return err(Errc::io_error, "stream: GET " + object_key + ": " + got.error.message());
  ByteSpan bytes(reinterpret_cast<const uint8_t*>(got.value.data()), got.value.size());
  if (Status st = verify_block(block, bytes, object_key); !st) co_return st.error();
  record::BatchSplitter split(bytes);
  for (record::BatchView batch; split.next(batch);) {
    if (batch.header().base_offset + batch.header().last_offset_delta < offset) continue;
    if (!out.batches.empty() && out.batches.size() + batch.bytes().size() > max_bytes) break;
    out.batches.insert(out.batches.end(), batch.bytes().begin(), batch.bytes().end());
  }
  co_return out;
}

asio::awaitable<Result<std::optional<StreamStore::TimestampHit>>> StreamStore::find_timestamp(uint64_t stream_id,
                                                                                              int64_t timestamp) {
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
  std::string fetched;
  ByteSpan bytes;
  if (cached) {
    bytes = ByteSpan(*cached);
  } else {
    auto got = co_await objects_.get(object_key, objstore::ByteRange{block.position, block.size},
                                     objstore::Clock::now() + config_.object_timeout);
    if (!got) co_return err(Errc::io_error, "stream: GET " + object_key + ": " + got.error.message());
    fetched = std::move(got.value);
    bytes = ByteSpan(reinterpret_cast<const uint8_t*>(fetched.data()), fetched.size());
    if (Status st = verify_block(block, bytes, object_key); !st) co_return st.error();
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
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, bool> live;  // object key -> some block still at or above its stream's start
    for (const auto& [id, s] : streams_) {
      for (const auto& [b, key] : s.blocks) live[key] = live[key] || b.last_offset >= s.start;
    }
    for (auto it = unreferenced_since_.begin(); it != unreferenced_since_.end();) {
      it = live.count(it->first) && !live[it->first] ? std::next(it) : unreferenced_since_.erase(it);
    }
    for (const auto& [key, alive] : live) {
      if (alive) continue;
      auto [it, fresh] = unreferenced_since_.emplace(key, now);
      if (!fresh && now - it->second >= grace) due.push_back(key);
    }
  }
  size_t deleted = 0;
  for (const std::string& key : due) {
    meta::DeleteRequest del;
    del.key = config_.meta_root + "objects/" + key;
    auto r = co_await meta_.del(del);
    if (!r) co_return err(Errc::io_error, "stream: uncommit " + key + ": " + r.error().message());
    {
      std::lock_guard lock(mu_);
      for (auto& [id, s] : streams_) {
        std::erase_if(s.blocks, [&](const auto& b) { return b.second == key; });
      }
      unreferenced_since_.erase(key);
    }
    // The metadata no longer names it; a failed delete only leaves an orphan for a later sweep.
    auto ec = co_await objects_.remove(key, objstore::Clock::now() + config_.object_timeout);
    if (ec) log::warn(kLog, "delete of unreferenced object ", key, " failed: ", ec.message());
    ++deleted;
  }
  co_return deleted;
}

std::vector<uint64_t> StreamStore::stream_ids() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, s] : streams_) out.push_back(id);
  return out;
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
      Part p{id, -1, -1, 0, {}};
      for (Entry& e : s.entries) {
        if (e.committed) continue;
        // Another upload holds the oldest uncommitted entries: this stream waits for it (commits stay in order).
        if (!e.durable || e.uploading) break;
        if (p.first < 0) p.first = e.first;
        p.last = e.last;
        p.max_ts = std::max(p.max_ts, e.max_timestamp);
        p.data.push_back(e.data);
      }
      if (p.first < 0) continue;
      for (Entry& e : s.entries) {
        if (e.first >= p.first && e.first <= p.last) e.uploading = true;
      }
      parts.push_back(std::move(p));
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

  SegmentWriter writer;  // the object is built in one buffer, handed to the store without another copy
  for (const Part& p : parts) {
    std::vector<ByteSpan> pieces;
    pieces.reserve(p.data.size());
    for (const auto& d : p.data) pieces.emplace_back(*d);
    if (Status st = writer.add_parts(p.stream, p.first, p.last, p.max_ts, pieces); !st) co_return st;
  }
  ObjectRanges ranges;
  ranges.key = config_.object_prefix + random_hex(16);  // never reused
  ranges.blocks = writer.blocks();
  std::string object = writer.finish_string();
  ranges.object_size = object.size();

  auto deadline = objstore::Clock::now() + config_.object_timeout;
  auto put = co_await objects_.put_if_absent(ranges.key, std::move(object), deadline);
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
        if (b.stream_id == p.stream) s.blocks.emplace_back(b, ranges.key);
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

asio::awaitable<Status> StreamStore::flush() {
  co_return co_await asio::co_spawn(executor_, upload_once(), asio::use_awaitable);
}

asio::awaitable<void> StreamStore::close() {
  {
    std::lock_guard lock(mu_);
    if (closing_) co_return;
    closing_ = true;
  }
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

uint64_t StreamStore::uploads() const {
  std::lock_guard lock(mu_);
  return uploads_;
}

}  // namespace floe::stream
