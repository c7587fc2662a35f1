#include "stream/object_wal.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <optional>
#include <random>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "protocol/wire.h"

namespace floe::stream {
namespace {

constexpr std::string_view kLog = "objwal";
constexpr uint64_t kHeaderMagic = 0x464C4F4557414C31ull;  // "FLOEWAL1"
constexpr size_t kMaxPutSamples = 8192;
constexpr size_t kMaxCommitObjects = 127;  // etcd --max-txn-ops 128: the objects' keys plus the cursor

class WalCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.stream.objwal"; }
  std::string message(int ev) const override {
    switch (static_cast<WalErrc>(ev)) {
      case WalErrc::ok: return "ok";
      case WalErrc::ambiguous: return "WAL write outcome unknown (may be recovered)";
      case WalErrc::not_written: return "WAL stopped before the data was written";
      case WalErrc::too_large: return "too large or WAL buffer full";
      case WalErrc::invalid_argument: return "invalid WAL append";
      case WalErrc::closed: return "WAL closed";
      case WalErrc::unsafe_store: return "object store does not enforce conditional PUT";
      case WalErrc::epoch_in_use: return "WAL epoch already used";
      case WalErrc::store_error: return "object or metadata store error";
      case WalErrc::deposed: return "sealer deposed (guard key changed)";
      case WalErrc::corrupt: return "not a WAL object of this epoch";
      case WalErrc::seal_conflict: return "a different seal is recorded";
    }
    return "unknown WAL error";
  }
};

Error werr(WalErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

std::string random_token() {
  static std::mutex mu;  // not thread_local (coroutines)
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

Bytes header_block(WalObjectHeader::Kind kind, uint64_t broker, uint64_t epoch, uint64_t seq,
                   std::string_view token) {
  Bytes out;
  proto::Writer w(out);
  w.i64(static_cast<int64_t>(kHeaderMagic));
  w.i8(static_cast<int8_t>(kind));
  w.i64(static_cast<int64_t>(broker));
  w.i64(static_cast<int64_t>(epoch));
  w.i64(static_cast<int64_t>(seq));
  w.u16(static_cast<uint16_t>(token.size()));
  w.raw(token.data(), token.size());
  return out;
}

std::string to_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

const std::error_category& wal_category() {
  static WalCategory c;
  return c;
}

// ---------------------------------------------------------------- keys and format

std::string WalKeys::seq_name(uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}
std::string WalKeys::object_dir() const {
  return object_prefix + "wal/" + std::to_string(broker_id) + "/" + std::to_string(epoch) + "/";
}
std::string WalKeys::object_key(uint64_t seq) const { return object_dir() + seq_name(seq); }
std::string WalKeys::meta_dir() const {
  return meta_root + "wal/" + std::to_string(broker_id) + "/" + std::to_string(epoch) + "/";
}
std::string WalKeys::cursor_key() const { return meta_dir() + "cursor"; }
std::string WalKeys::sealing_key() const { return meta_dir() + "sealing"; }
std::string WalKeys::seal_key() const { return meta_dir() + "seal"; }
std::string WalKeys::commit_key(std::string_view object_key) const {
  return meta_root + "objects/" + std::string(object_key);
}
std::string WalKeys::commit_prefix() const { return commit_key(object_dir()); }

Result<WalObjectHeader> parse_wal_object(ByteSpan object, std::string_view name) {
  auto index = SegmentIndex::parse_object(object, name);
  if (!index) return werr(WalErrc::corrupt, index.error().message);
  auto blocks = index->blocks_of(kWalHeaderStream);
  if (blocks.size() != 1) return werr(WalErrc::corrupt, "WAL object " + std::string(name) + ": no header block");
  const BlockInfo& b = blocks.front();
  proto::Reader r(object.subspan(b.position, b.size));
  WalObjectHeader h;
  const auto magic = static_cast<uint64_t>(r.i64());
  const auto kind = static_cast<uint8_t>(r.i8());
  h.broker_id = static_cast<uint64_t>(r.i64());
  h.epoch = static_cast<uint64_t>(r.i64());
  h.seq = static_cast<uint64_t>(r.i64());
  const uint16_t len = r.u16();
  ByteSpan token = r.span(len);
  if (!r.ok() || !r.at_end() || magic != kHeaderMagic || (kind != 1 && kind != 2) ||
      b.first_offset != static_cast<int64_t>(h.seq)) {
    return werr(WalErrc::corrupt, "WAL object " + std::string(name) + ": bad header block");
  }
  h.kind = static_cast<WalObjectHeader::Kind>(kind);
  h.token.assign(token.begin(), token.end());
  if (h.kind == WalObjectHeader::Kind::seal && index->blocks().size() != 1) {
    return werr(WalErrc::corrupt, "WAL object " + std::string(name) + ": seal marker with data");
  }
  return h;
}

Bytes build_seal_marker(uint64_t broker_id, uint64_t epoch, uint64_t seq, std::string_view token) {
  SegmentWriter w;
  Bytes h = header_block(WalObjectHeader::Kind::seal, broker_id, epoch, seq, token);
  (void)w.add(kWalHeaderStream, static_cast<int64_t>(seq), static_cast<int64_t>(seq), 0, h);
  return w.finish();
}

Result<ObjectRanges> wal_object_ranges(ByteSpan object, std::string key) {
  auto index = SegmentIndex::parse_object(object, key);
  if (!index) return werr(WalErrc::corrupt, index.error().message);
  ObjectRanges r;
  r.key = std::move(key);
  r.object_size = object.size();
  for (const BlockInfo& b : index->blocks()) {
    if (b.stream_id != kWalHeaderStream) r.blocks.push_back(b);
  }
  return r;
}

// ---------------------------------------------------------------- the writer

struct ObjectWal::Obj {
  enum class State { putting, ok, failed, sealed };
  uint64_t seq = 0;
  std::string key;
  std::string bytes;  // freed once written
  ObjectRanges ranges;
  std::string commit_value;  // encode_object_ranges(ranges): its objects/ value
  std::vector<Callback> dones;
  size_t payload_bytes = 0;
  State state = State::putting;
  bool acked = false;
  objstore::Clock::time_point started;
};

ObjectWal::ObjectWal(asio::any_io_executor executor, ObjectWalOptions options, objstore::ObjectStore& objects,
                     meta::MetaStore& meta)
    : strand_(asio::make_strand(executor)),
      options_(std::move(options)),
      keys_{options_.meta_root, options_.object_prefix, options_.broker_id, options_.epoch},
      token_(random_token()),
      objects_(objects),
      meta_(meta),
      flush_wake_(strand_),
      commit_wake_(strand_),
      finished_(strand_) {
  finished_.expires_at(asio::steady_timer::time_point::max());
  options_.inflight = std::max<size_t>(1, options_.inflight);
  options_.max_uncommitted_objects = std::max<size_t>(1, options_.max_uncommitted_objects);
  options_.commit_max_objects = std::clamp<size_t>(options_.commit_max_objects, 1, kMaxCommitObjects);
  options_.commit_max_bytes = std::max<size_t>(1, options_.commit_max_bytes);
  options_.flush_min_spacing = std::max(options_.flush_min_spacing, std::chrono::milliseconds(0));
}

ObjectWal::~ObjectWal() = default;

asio::awaitable<Result<std::unique_ptr<ObjectWal>>> ObjectWal::open(asio::any_io_executor executor,
                                                                    ObjectWalOptions options,
                                                                    objstore::ObjectStore& objects,
                                                                    meta::MetaStore& meta) {
  if (options.meta_root.empty() || options.meta_root.back() != '/') {
    co_return werr(WalErrc::invalid_argument, "object WAL: meta_root must end with '/'");
  }
  if (options.check_conditional_put) {
    auto enforced =
        co_await objstore::enforces_conditional_put(objects, objstore::Clock::now() + options.put_timeout);
    if (!enforced) {
      co_return werr(WalErrc::store_error, "object WAL: conditional-PUT self-test on " + objects.describe() +
                                               " failed: " + enforced.error.message());
    }
    if (!enforced.value) {
      co_return werr(WalErrc::unsafe_store, "object WAL: " + objects.describe() +
                                                " does not reject a second If-None-Match PUT; refusing it");
    }
  }
  std::unique_ptr<ObjectWal> wal(new ObjectWal(executor, std::move(options), objects, meta));
  if (Status st = co_await wal->check_epoch_unused(); !st) co_return st.error();
  asio::co_spawn(wal->strand_, wal->flusher(), asio::detached);
  asio::co_spawn(wal->strand_, wal->committer(), asio::detached);
  log::info(kLog, "open ", wal->keys_.object_dir(), " on ", objects.describe(), " token ", wal->token_);
  co_return wal;
}

asio::awaitable<Status> ObjectWal::check_epoch_unused() {
  meta::RangeRequest req;
  req.key = keys_.meta_dir();
  req.range_end = meta::prefix_end(req.key);
  req.keys_only = true;
  req.limit = 1;
  auto r = co_await meta_.range(req);
  if (!r) co_return werr(WalErrc::store_error, "object WAL: metadata read: " + r.error().message());
  if (!r->kvs.empty()) {
    co_return werr(WalErrc::epoch_in_use, "object WAL: epoch " + keys_.meta_dir() + " has metadata already");
  }
  auto page = co_await objects_.list(keys_.object_dir(), "", 1, objstore::Clock::now() + options_.put_timeout);
  if (!page) co_return werr(WalErrc::store_error, "object WAL: LIST " + keys_.object_dir() + ": " +
                                                     page.error.message());
  if (!page.value.objects.empty()) {
    co_return werr(WalErrc::epoch_in_use, "object WAL: " + keys_.object_dir() + " has objects already");
  }
  co_return ok_status();
}

bool ObjectWal::append(WalAppend entry, Callback done) {
  auto refused_done = done;
  if (std::error_code ec = append_or_refuse(std::move(entry), std::move(done))) {
    refused_done(ec, 0);
    return false;
  }
  return true;
}

std::error_code ObjectWal::append_or_refuse(WalAppend entry, Callback done) {
  WalErrc refuse = WalErrc::ok;
  bool wake = false;
  const size_t size = entry.batches.size();
  {
    std::lock_guard lock(mu_);
    if (!accepting_) {
      refuse = WalErrc::closed;
    } else if (entry.batches.empty() || entry.first_offset < 0 || entry.last_offset < entry.first_offset ||
               entry.stream_id == kWalHeaderStream) {
      refuse = WalErrc::invalid_argument;
    } else if (size > options_.max_entry_bytes || unacked_bytes_ + size > options_.max_buffered_bytes) {
      refuse = WalErrc::too_large;
    } else {
      auto it = buffer_last_.find(entry.stream_id);
      if (it != buffer_last_.end() && entry.first_offset <= it->second) {
        refuse = WalErrc::invalid_argument;  // overlaps what is buffered for the stream
      } else {
        buffer_last_[entry.stream_id] = entry.last_offset;
        buffer_bytes_ += size;
        unacked_bytes_ += size;
        const bool was_empty = buffer_.empty();
        buffer_.push_back(Pending{std::move(entry), std::move(done)});
        // Eager mode: the first append after a cut may be cut at once (no PUT in flight): tell the flusher. One
        // wake per object at most; the flusher decides.
        const bool eager_wake = was_empty && options_.flush_eager;
        if ((eager_wake || buffer_bytes_ >= options_.batch_bytes) && !poke_posted_) {
          poke_posted_ = true;
          wake = true;
        }
      }
    }
  }
  if (refuse != WalErrc::ok) return make_error_code(refuse);
  if (wake) poke();
  return {};
}

void ObjectWal::poke() {
  asio::dispatch(strand_, [this] {
    {
      std::lock_guard lock(mu_);
      poke_posted_ = false;
    }
    wake_pending_ = true;
    flush_wake_.cancel();
  });
}

void ObjectWal::expedite() {
  asio::dispatch(strand_, [this] {
    cut_requested_ = true;
    commit_requested_ = true;
    wake_pending_ = true;
    flush_wake_.cancel();
    commit_wake_.cancel();
  });
}

std::shared_ptr<ObjectWal::Obj> ObjectWal::cut_object(CutReason why) {
  std::vector<Pending> taken;
  {
    std::lock_guard lock(mu_);
    size_t bytes = 0;
    size_t n = 0;
    while (n < buffer_.size() && (n == 0 || bytes + buffer_[n].entry.batches.size() <= options_.batch_bytes)) {
      bytes += buffer_[n].entry.batches.size();
      ++n;
    }
    taken.assign(std::make_move_iterator(buffer_.begin()),
                 std::make_move_iterator(buffer_.begin() + static_cast<std::ptrdiff_t>(n)));
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
    buffer_bytes_ -= bytes;
    if (buffer_.empty()) {
      buffer_last_.clear();
    } else {
      // Entries left behind keep the overlap check for their streams; rebuild it from what remains.
      buffer_last_.clear();
      for (const Pending& p : buffer_) buffer_last_[p.entry.stream_id] = p.entry.last_offset;
    }
    ++stats_.objects;
    switch (why) {
      case CutReason::timer: ++stats_.cuts_timer; break;
      case CutReason::size: ++stats_.cuts_size; break;
      case CutReason::idle: ++stats_.cuts_idle; break;
      case CutReason::request: ++stats_.cuts_request; break;
    }
  }
  auto obj = std::make_shared<Obj>();
  obj->seq = next_seq_++;
  obj->key = keys_.object_key(obj->seq);
  // Blocks: per stream, runs of contiguous offsets, sorted by (stream, offset). Entries of one stream arrive in
  // offset order and never overlap within a cut (append checks), so a stable sort by stream keeps offset order.
  std::vector<size_t> order(taken.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const WalAppend& x = taken[a].entry;
    const WalAppend& y = taken[b].entry;
    return x.stream_id < y.stream_id || (x.stream_id == y.stream_id && x.first_offset < y.first_offset);
  });
  SegmentWriter writer;
  Bytes block;
  const WalAppend* run = nullptr;
  int64_t run_first = 0, run_last = 0, run_ts = 0;
  auto flush_run = [&] {
    if (run == nullptr) return;
    Status st = writer.add(run->stream_id, run_first, run_last, run_ts, block);
    if (!st) log::error(kLog, "cannot build ", obj->key, ": ", st.error().message);  // append checks rule it out
    block.clear();
    run = nullptr;
  };
  for (size_t i : order) {
    const WalAppend& e = taken[i].entry;
    // A new block at a stream change, a gap, or where this append would take the block past block_bytes (one
    // ranged GET per read stays within that; a single append larger than that is a block of its own).
    if (run != nullptr && (run->stream_id != e.stream_id || e.first_offset != run_last + 1 ||
                           block.size() + e.batches.size() > options_.block_bytes)) {
      flush_run();
    }
    if (run == nullptr) {
      run = &e;
      run_first = e.first_offset;
      run_ts = e.max_timestamp;
    }
    run_last = e.last_offset;
    run_ts = std::max(run_ts, e.max_timestamp);
    block.insert(block.end(), e.batches.begin(), e.batches.end());
    obj->payload_bytes += e.batches.size();
  }
  flush_run();
  obj->ranges.blocks = writer.blocks();
  Bytes header = header_block(WalObjectHeader::Kind::data, keys_.broker_id, keys_.epoch, obj->seq, token_);
  (void)writer.add(kWalHeaderStream, static_cast<int64_t>(obj->seq), static_cast<int64_t>(obj->seq), 0, header);
  Bytes bytes = writer.finish();
  obj->ranges.key = obj->key;
  obj->ranges.object_size = bytes.size();
  obj->commit_value = encode_object_ranges(obj->ranges);
  obj->bytes = to_string(bytes);
  obj->dones.reserve(taken.size());
  for (Pending& p : taken) obj->dones.push_back(std::move(p.done));
  obj->started = objstore::Clock::now();
  return obj;
}

// The cut rules are in the header ("When an object is cut").
asio::awaitable<void> ObjectWal::flusher() {
  using objstore::Clock;
  auto next_tick = Clock::now() + options_.flush_interval;
  Clock::time_point last_cut{};  // long ago: the first append may be cut at once
  for (;;) {
    if (stopped_) break;
    size_t buffered = 0;
    bool empty = true;
    {
      std::lock_guard lock(mu_);
      buffered = buffer_bytes_;
      empty = buffer_.empty();
    }
    const auto now = Clock::now();
    const bool room = puts_in_flight_ < options_.inflight &&
                      objs_.size() < options_.inflight + options_.max_uncommitted_objects;
    const bool by_size = buffered >= options_.batch_bytes;
    const bool by_timer = now >= next_tick;
    const bool store_idle = options_.flush_eager && puts_in_flight_ == 0;
    const auto idle_at = last_cut + options_.flush_min_spacing;
    const bool by_idle = store_idle && now >= idle_at;
    const bool by_request = closing_ || cut_requested_;
    if (!empty && room && (by_size || by_timer || by_idle || by_request)) {
      const CutReason why = by_size    ? CutReason::size
                            : by_timer ? CutReason::timer
                            : by_idle  ? CutReason::idle
                                       : CutReason::request;
      cut_requested_ = false;
      auto obj = cut_object(why);
      objs_.push_back(obj);
      ++puts_in_flight_;
      asio::co_spawn(strand_, put_task(obj), asio::detached);
      last_cut = Clock::now();
      next_tick = last_cut + options_.flush_interval;
      continue;
    }
    if (closing_ && empty) break;
    if (empty) {
      cut_requested_ = false;  // nothing to cut
      if (by_timer) next_tick = now + options_.flush_interval;
    }
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    // Wait for the tick, the end of the idle spacing, a full batch or the first append (poke), a finished PUT
    // (put_task wakes us), a commit that makes room, or close. With no room, only a wake helps.
    auto wake_at = asio::steady_timer::time_point::max();
    if (room) {
      wake_at = next_tick;
      if (store_idle && !empty) wake_at = std::min(wake_at, idle_at);
    }
    flush_wake_.expires_at(wake_at);
    std::error_code ec;
    co_await flush_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    wake_pending_ = false;
  }
  flusher_done_ = true;
  commit_wake_.cancel();
  maybe_finished();
}

asio::awaitable<void> ObjectWal::put_task(std::shared_ptr<Obj> obj) {
  using objstore::Clock;
  const auto deadline = obj->started + options_.put_timeout;
  auto backoff = options_.retry_backoff;
  std::mt19937_64 rng(obj->seq * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  Obj::State result = Obj::State::failed;
  bool first = true;
  while (!stopped_) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto attempt_deadline = std::min(deadline, now + options_.attempt_timeout);
    if (!first) {
      std::lock_guard lock(mu_);
      ++stats_.put_retries;
    }
    first = false;
    auto put = co_await put_hedged(obj, attempt_deadline);
    if (put.ok() && put.value.created) {
      result = Obj::State::ok;
      break;
    }
    if (put.ok()) {
      // "Already exists": our own earlier attempt, or a seal marker. Never assume: read it back.
      {
        std::lock_guard lock(mu_);
        ++stats_.readbacks;
      }
      auto got = co_await objects_.get(obj->key, std::nullopt,
                                       std::min(deadline, Clock::now() + options_.attempt_timeout));
      if (got.ok()) {
        ByteSpan bytes(reinterpret_cast<const uint8_t*>(got.value.data()), got.value.size());
        auto h = parse_wal_object(bytes, obj->key);
        if (h && h->kind == WalObjectHeader::Kind::data && h->token == token_ && h->seq == obj->seq &&
            got.value == obj->bytes) {
          std::lock_guard lock(mu_);
          ++stats_.readback_ours;
          result = Obj::State::ok;
          break;
        }
        if (h && h->kind == WalObjectHeader::Kind::seal) {
          log::warn(kLog, obj->key, ": seal marker of ", h->token, " found: epoch sealed");
        } else {
          log::error(kLog, obj->key, ": holds an object that is not ours: ",
                     h ? "another writer's token " + h->token : h.error().message);
        }
        result = Obj::State::sealed;
        break;
      }
      log::warn(kLog, "read-back of ", obj->key, ": ", got.error.message(), "; retrying");
    } else {
      log::debug(kLog, "PUT ", obj->key, ": ", put.error.message(), "; retrying");
    }
    // Backoff with full jitter, bounded by the deadline.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    asio::steady_timer t(strand_);
    t.expires_at(std::min(deadline, Clock::now() + std::chrono::milliseconds(jitter(rng))));
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(1000));
  }
  obj->state = result;
  obj->bytes.clear();
  obj->bytes.shrink_to_fit();
  if (result == Obj::State::ok) {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(objstore::Clock::now() - obj->started).count();
    std::lock_guard lock(mu_);
    put_micros_.push_back(micros);
    if (put_micros_.size() > kMaxPutSamples) put_micros_.pop_front();
  }
  --puts_in_flight_;
  advance();
  wake_pending_ = true;
  flush_wake_.cancel();
  maybe_finished();
}

// One PUT attempt of object k: a put_if_absent of its bytes and, when hedge_after passes with no answer, a twin
// of it. The first "created" answer wins at once; otherwise, once every request answered, a "not created" (resolved
// by the caller's read-back: a twin may have won) is preferred over an error. A twin still running when this
// returns is counted in attempts_in_flight_ (close waits for it); its answer is ignored.
asio::awaitable<objstore::Result<objstore::PutInfo>> ObjectWal::put_hedged(std::shared_ptr<Obj> obj,
                                                                           objstore::Clock::time_point deadline) {
  struct Race {
    explicit Race(asio::strand<asio::any_io_executor> s) : signal(s) {}
    asio::steady_timer signal;
    std::vector<std::optional<objstore::Result<objstore::PutInfo>>> answers;
    size_t pending = 0;
  };
  auto race = std::make_shared<Race>(strand_);
  auto launch = [this, race, obj, deadline] {
    const size_t i = race->answers.size();
    race->answers.emplace_back();
    ++race->pending;
    ++attempts_in_flight_;
    {
      std::lock_guard lock(mu_);
      ++stats_.put_attempts;
      if (i > 0) ++stats_.put_hedges;
    }
    std::string bytes = obj->bytes;  // its own copy: obj->bytes is freed once the object is written
    auto attempt = [this, race, i, key = obj->key, bytes = std::move(bytes), deadline]() mutable
        -> asio::awaitable<void> {
      auto r = co_await objects_.put_if_absent(key, std::move(bytes), deadline);
      race->answers[i] = std::move(r);
      --race->pending;
      --attempts_in_flight_;
      race->signal.cancel();
      maybe_finished();
    };
    asio::co_spawn(strand_, std::move(attempt), asio::detached);
  };
  launch();
  bool hedged = options_.hedge_after.count() <= 0;
  for (;;) {
    for (auto& a : race->answers) {
      if (a && a->ok() && a->value.created) co_return std::move(*a);
    }
    if (race->pending == 0) break;
    const auto now = objstore::Clock::now();
    if (!hedged && now >= deadline) hedged = true;
    race->signal.expires_at(hedged ? asio::steady_timer::time_point::max()
                                   : std::min(deadline, now + options_.hedge_after));
    std::error_code ec;
    co_await race->signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !hedged && race->pending > 0 && !stopped_) {  // the timer ran out: no answer yet
      hedged = true;
      launch();
    }
  }
  objstore::Result<objstore::PutInfo>* chosen = nullptr;
  for (auto& a : race->answers) {
    if (a && a->ok() && (chosen == nullptr || !chosen->ok())) chosen = &*a;
    if (a && chosen == nullptr) chosen = &*a;
  }
  co_return std::move(*chosen);
}

void ObjectWal::advance() {
  for (auto& obj : objs_) {
    if (obj->acked) continue;
    if (obj->state == Obj::State::putting) break;
    if (obj->state == Obj::State::ok) {
      obj->acked = true;
      {
        std::lock_guard lock(mu_);
        unacked_bytes_ -= obj->payload_bytes;
        stats_.acked_seq = obj->seq;
      }
      auto dones = std::move(obj->dones);
      obj->dones.clear();
      for (auto& d : dones) d(std::error_code{}, obj->seq);
      commit_wake_.cancel();
      continue;
    }
    if (obj->state == Obj::State::failed) {
      log::error(kLog, obj->key, ": not written within ", options_.put_timeout.count(),
                 " ms; failing the unacked appends (ambiguous) and recording sealing of the epoch");
      stop(make_error_code(WalErrc::ambiguous), UINT64_MAX);
    } else {  // sealed: this seq is the seal; nothing from here on can be recovered
      stop(make_error_code(WalErrc::not_written), obj->seq);
    }
    break;
  }
}

// Stops the WAL for good: every unacked append fails; seqs >= fenced_from are known not to be in the log
// (not_written), earlier unacked ones may still land and be recovered (ambiguous). Buffered appends were never
// sent: not_written.
void ObjectWal::stop(std::error_code why, uint64_t fenced_from) {
  if (stopped_) return;
  stopped_ = true;
  std::vector<Pending> buffered;
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    failure_ = why;
    stats_.stopped = true;
    buffered = std::move(buffer_);
    buffer_.clear();
    buffer_bytes_ = 0;
    buffer_last_.clear();
    unacked_bytes_ = 0;
  }
  if (options_.on_stop) options_.on_stop(why);
  for (auto& obj : objs_) {
    if (obj->acked) continue;
    const auto ec = obj->seq >= fenced_from ? make_error_code(WalErrc::not_written)
                                             : make_error_code(WalErrc::ambiguous);
    auto dones = std::move(obj->dones);
    obj->dones.clear();
    for (auto& d : dones) d(ec, obj->seq);
    obj->acked = true;  // answered
  }
  for (auto& p : buffered) p.done(make_error_code(WalErrc::not_written), 0);
  if (!sealing_recorded_) {
    sealing_recorded_ = true;
    asio::co_spawn(strand_, record_own_sealing(), asio::detached);
  }
  flush_wake_.cancel();
  commit_wake_.cancel();
}

asio::awaitable<void> ObjectWal::record_own_sealing() {
  // "sealing E" for our own epoch (compare: not yet recorded). From now on no commit of E can succeed but the
  // sealer's; the rest of the seal is not ours to run.
  const auto deadline = objstore::Clock::now() + options_.commit_timeout;
  auto backoff = options_.retry_backoff;
  bool done = false;
  while (!done && objstore::Clock::now() < deadline) {
    meta::TxnRequest txn;
    txn.compares.push_back(meta::Compare::version(keys_.sealing_key(), meta::Compare::Result::equal, 0));
    txn.success.push_back(meta::PutRequest{keys_.sealing_key(), "self " + token_, 0, false});
    auto r = co_await meta_.txn(txn);
    if (r) {
      done = true;
      log::warn(kLog, "recorded sealing of ", keys_.meta_dir(), r->succeeded ? "" : " (already recorded)");
      break;
    }
    log::warn(kLog, "recording sealing of ", keys_.meta_dir(), ": ", r.error().message(), "; retrying");
    asio::steady_timer t(strand_, backoff);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(1000));
  }
  if (!done) log::error(kLog, "could not record sealing of ", keys_.meta_dir(), "; the controller will seal it");
  sealing_recorded_done_ = true;
  maybe_finished();
}

// One commit txn at a time, for the run of acked objects at the front of objs_ (rules in the header, "Commits").
asio::awaitable<void> ObjectWal::committer() {
  using objstore::Clock;
  Clock::time_point last_commit{};  // long ago
  for (;;) {
    if (stopped_) break;
    // The batch: objs_[0, n), acked (written, every earlier one too) and within the txn limits.
    size_t n = 0;
    size_t bytes = 0;
    bool full = false;
    for (const auto& obj : objs_) {
      if (!obj->acked) break;
      const size_t cost = keys_.commit_key(obj->key).size() + obj->commit_value.size();
      if (n > 0 && (n + 1 > options_.commit_max_objects || bytes + cost > options_.commit_max_bytes)) {
        full = true;
        break;
      }
      bytes += cost;
      ++n;
    }
    if (n == options_.commit_max_objects) full = true;
    if (n == 0) {
      if (flusher_done_ && objs_.empty()) break;
      commit_wake_.expires_at(asio::steady_timer::time_point::max());
      std::error_code ec;
      co_await commit_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // Spacing: at most one commit txn per flush_interval, unless something waits for it.
    const bool blocked = objs_.size() >= options_.inflight + options_.max_uncommitted_objects;
    const bool forced = full || blocked || closing_ || flusher_done_ || commit_requested_;
    const auto due = last_commit + options_.flush_interval;
    if (!forced && Clock::now() < due) {
      commit_wake_.expires_at(due);
      std::error_code ec;
      co_await commit_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    commit_requested_ = false;
    last_commit = Clock::now();
    const std::vector<std::shared_ptr<Obj>> batch(objs_.begin(), objs_.begin() + static_cast<std::ptrdiff_t>(n));
    const uint64_t first = batch.front()->seq;
    const uint64_t last = batch.back()->seq;
    const std::string what = n == 1 ? batch.front()->key : batch.front()->key + " .. " + WalKeys::seq_name(last);
    const auto deadline = Clock::now() + options_.commit_timeout;
    auto backoff = options_.retry_backoff;
    enum class Outcome { committed, fenced, gave_up } outcome = Outcome::gave_up;
    while (Clock::now() < deadline) {
      meta::TxnRequest txn;
      txn.compares.push_back(meta::Compare::version(keys_.sealing_key(), meta::Compare::Result::equal, 0));
      if (first == 1) {
        txn.compares.push_back(meta::Compare::version(keys_.cursor_key(), meta::Compare::Result::equal, 0));
      } else {
        txn.compares.push_back(meta::Compare::value_of(keys_.cursor_key(), meta::Compare::Result::equal,
                                                       WalKeys::seq_name(first - 1)));
      }
      for (const auto& obj : batch) {
        txn.success.push_back(meta::PutRequest{keys_.commit_key(obj->key), obj->commit_value, 0, false});
      }
      txn.success.push_back(meta::PutRequest{keys_.cursor_key(), WalKeys::seq_name(last), 0, false});
      auto r = co_await meta_.txn(txn);
      if (r) {
        outcome = r->succeeded ? Outcome::committed : Outcome::fenced;
        break;
      }
      // Unknown outcome: read back the cursor and "sealing", never a blind retry. The txn is atomic: the cursor
      // is first-1 (not applied: retry), last (applied), or "sealing" is there (fenced).
      log::warn(kLog, "commit of ", what, ": ", r.error().message(), "; re-reading the cursor");
      meta::RangeRequest req;
      req.key = keys_.meta_dir();
      req.range_end = meta::prefix_end(req.key);
      auto state = co_await meta_.range(req);
      if (state) {
        std::string cursor;
        bool sealing = false;
        for (const auto& kv : state->kvs) {
          if (kv.key == keys_.cursor_key()) cursor = kv.value;
          if (kv.key == keys_.sealing_key()) sealing = true;
        }
        if (cursor == WalKeys::seq_name(last)) {
          outcome = Outcome::committed;
          break;
        }
        if (sealing) {
          outcome = Outcome::fenced;
          break;
        }
      }
      asio::steady_timer t(strand_, backoff);
      std::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(1000));
    }
    if (outcome != Outcome::committed) {
      if (outcome == Outcome::fenced) {
        log::warn(kLog, "commit of ", what, " refused: ", keys_.meta_dir(), " is being sealed; stopping");
      } else {
        log::error(kLog, "commit of ", what, " failed for ", options_.commit_timeout.count(), " ms; stopping");
      }
      stop(make_error_code(WalErrc::ambiguous), UINT64_MAX);
      break;
    }
    {
      std::lock_guard lock(mu_);
      stats_.committed_seq = last;
      ++stats_.commit_txns;
      stats_.committed_objects += n;
    }
    for (const auto& obj : batch) {
      if (options_.on_commit) options_.on_commit(obj->ranges);
      objs_.pop_front();
    }
    wake_pending_ = true;
    flush_wake_.cancel();
  }
  committer_done_ = true;
  maybe_finished();
}

void ObjectWal::maybe_finished() {
  const bool sealing_settled = !sealing_recorded_ || sealing_recorded_done_;
  if (flusher_done_ && committer_done_ && puts_in_flight_ == 0 && attempts_in_flight_ == 0 && sealing_settled &&
      !finished_flag_) {
    finished_flag_ = true;
    finished_.cancel();
  }
}

asio::awaitable<void> ObjectWal::close() {
  auto self = this;
  auto begin = [self]() -> asio::awaitable<void> {
    {
      std::lock_guard lock(self->mu_);
      self->accepting_ = false;
    }
    self->closing_ = true;
    self->wake_pending_ = true;
    self->flush_wake_.cancel();
    self->commit_wake_.cancel();
    if (!self->finished_flag_) {
      std::error_code ec;
      co_await self->finished_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  };
  co_await asio::co_spawn(strand_, begin, asio::use_awaitable);
}

std::error_code ObjectWal::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

ObjectWalStats ObjectWal::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::vector<int64_t> ObjectWal::put_micros() const {
  std::lock_guard lock(mu_);
  return {put_micros_.begin(), put_micros_.end()};
}

}  // namespace floe::stream
