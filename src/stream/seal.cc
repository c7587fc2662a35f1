#include "stream/seal.h"

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <optional>
#include <random>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"

namespace floe::stream {
namespace {

constexpr std::string_view kLog = "seal";
using objstore::Clock;

Error werr(WalErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

// The epoch's recorded state, read in one range (atomic) plus the guard.
struct EpochState {
  uint64_t cursor = 0;  // 0: nothing committed
  bool sealing = false;
  std::optional<uint64_t> seal;
  int64_t guard_revision = 0;  // create revision of the guard key now (0: missing)
};

std::optional<uint64_t> parse_seq(std::string_view s) {
  if (s.size() != 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

class Sealer {
 public:
  Sealer(objstore::ObjectStore& objects, meta::MetaStore& meta, SealOptions o)
      : objects_(objects), meta_(meta), o_(std::move(o)), rng_(std::random_device{}()) {
    std::uniform_int_distribution<uint64_t> d;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(d(rng_)));
    token_ = o_.sealer_id + "/" + buf;
  }

  asio::awaitable<Result<SealResult>> run();
  asio::awaitable<Result<uint64_t>> sweep(uint64_t seal);
  asio::awaitable<Result<EpochState>> read_state();

 private:
  bool guarded() const { return !o_.guard_key.empty(); }
  void add_guard(meta::TxnRequest& txn) const {
    if (guarded()) {
      txn.compares.push_back(
          meta::Compare::create_revision(o_.guard_key, meta::Compare::Result::equal, o_.guard_create_revision));
    }
  }
  bool deposed(const EpochState& s) const { return guarded() && s.guard_revision != o_.guard_create_revision; }
  Error deposed_error() const {
    return werr(WalErrc::deposed, "seal of " + o_.keys.meta_dir() + ": guard " + o_.guard_key + " changed");
  }
  asio::awaitable<void> backoff(std::chrono::milliseconds& delay) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    std::uniform_int_distribution<int64_t> jitter(delay.count() / 2, delay.count());
    t.expires_after(std::chrono::milliseconds(jitter(rng_)));
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::milliseconds(1000));
  }
  // Runs a guarded write txn. Returns nullopt if it succeeded, else the state as read after it (the failure
  // branch's atomic read, or a fresh read when the outcome is unknown: the caller checks whether its effect is
  // visible there).
  asio::awaitable<Result<std::optional<EpochState>>> write(meta::TxnRequest txn, bool* unknown);
  asio::awaitable<Status> record_sealing();
  asio::awaitable<Status> record_seal(uint64_t s);
  asio::awaitable<Result<std::vector<ObjectRanges>>> recovered();

  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;
  SealOptions o_;
  std::mt19937_64 rng_;
  std::string token_;
};

EpochState parse_state(const WalKeys& keys, const std::string& guard_key, const meta::RangeResponse& dir,
                       const meta::RangeResponse* guard) {
  EpochState s;
  for (const auto& kv : dir.kvs) {
    if (kv.key == keys.cursor_key()) s.cursor = parse_seq(kv.value).value_or(0);
    if (kv.key == keys.sealing_key()) s.sealing = true;
    if (kv.key == keys.seal_key()) s.seal = parse_seq(kv.value);
  }
  if (guard != nullptr && !guard_key.empty() && !guard->kvs.empty()) s.guard_revision = guard->kvs[0].create_revision;
  return s;
}

asio::awaitable<Result<EpochState>> Sealer::read_state() {
  const auto deadline = Clock::now() + o_.op_timeout;
  auto delay = o_.retry_backoff;
  for (;;) {
    // One txn of reads: the epoch's keys and the guard at one revision.
    meta::TxnRequest txn;
    meta::RangeRequest dir;
    dir.key = o_.keys.meta_dir();
    dir.range_end = meta::prefix_end(dir.key);
    txn.success.push_back(dir);
    if (guarded()) txn.success.push_back(meta::RangeRequest{o_.guard_key, "", 0, 0, false, false, false});
    auto r = co_await meta_.txn(txn);
    if (r && r->succeeded) {
      const auto* d = std::get_if<meta::RangeResponse>(&r->responses[0]);
      const meta::RangeResponse* g =
          guarded() ? std::get_if<meta::RangeResponse>(&r->responses[1]) : nullptr;
      if (d != nullptr) co_return parse_state(o_.keys, o_.guard_key, *d, g);
    }
    if (Clock::now() >= deadline) {
      co_return werr(WalErrc::store_error, "seal of " + o_.keys.meta_dir() + ": metadata read failed" +
                                               (r ? std::string() : ": " + r.error().message()));
    }
    co_await backoff(delay);
  }
}

asio::awaitable<Result<std::optional<EpochState>>> Sealer::write(meta::TxnRequest txn, bool* unknown) {
  *unknown = false;
  meta::RangeRequest dir;
  dir.key = o_.keys.meta_dir();
  dir.range_end = meta::prefix_end(dir.key);
  txn.failure.push_back(dir);
  if (guarded()) txn.failure.push_back(meta::RangeRequest{o_.guard_key, "", 0, 0, false, false, false});
  auto r = co_await meta_.txn(txn);
  if (r) {
    if (r->succeeded) co_return std::optional<EpochState>{};
    const auto* d = std::get_if<meta::RangeResponse>(&r->responses[0]);
    const meta::RangeResponse* g = guarded() ? std::get_if<meta::RangeResponse>(&r->responses[1]) : nullptr;
    if (d != nullptr) co_return std::optional<EpochState>{parse_state(o_.keys, o_.guard_key, *d, g)};
  }
  log::warn(kLog, o_.keys.meta_dir(), ": txn outcome unknown (", r ? "bad response" : r.error().message(),
            "); re-reading");
  *unknown = true;
  auto s = co_await read_state();
  if (!s) co_return s.error();
  co_return std::optional<EpochState>{*s};
}

asio::awaitable<Status> Sealer::record_sealing() {
  meta::TxnRequest txn;
  add_guard(txn);
  txn.success.push_back(meta::PutRequest{o_.keys.sealing_key(), "sealer " + token_, 0, false});
  bool unknown = false;
  auto r = co_await write(txn, &unknown);
  if (!r) co_return r.error();
  if (!r->has_value()) co_return ok_status();
  const EpochState& s = **r;
  if (deposed(s)) co_return deposed_error();
  if (s.sealing) co_return ok_status();  // the unknown write went through (or someone else recorded it)
  co_return werr(WalErrc::store_error, "seal of " + o_.keys.meta_dir() + ": could not record sealing");
}

asio::awaitable<Status> Sealer::record_seal(uint64_t seal) {
  const auto deadline = Clock::now() + o_.op_timeout;
  auto delay = o_.retry_backoff;
  for (;;) {
    meta::TxnRequest txn;
    add_guard(txn);
    txn.compares.push_back(meta::Compare::version(o_.keys.seal_key(), meta::Compare::Result::equal, 0));
    if (seal == 1) {
      txn.compares.push_back(meta::Compare::version(o_.keys.cursor_key(), meta::Compare::Result::equal, 0));
    } else {
      txn.compares.push_back(meta::Compare::value_of(o_.keys.cursor_key(), meta::Compare::Result::equal,
                                                     WalKeys::seq_name(seal - 1)));
    }
    txn.success.push_back(meta::PutRequest{o_.keys.seal_key(), WalKeys::seq_name(seal), 0, false});
    bool unknown = false;
    auto r = co_await write(txn, &unknown);
    if (!r) co_return r.error();
    if (!r->has_value()) co_return ok_status();
    const EpochState& s = **r;
    if (s.seal) {
      if (*s.seal == seal) co_return ok_status();
      co_return werr(WalErrc::seal_conflict, "seal of " + o_.keys.meta_dir() + ": seal " +
                                                 std::to_string(*s.seal) + " recorded, this sealer found " +
                                                 std::to_string(seal));
    }
    if (deposed(s)) co_return deposed_error();
    if (!unknown) {
      co_return werr(WalErrc::store_error, "seal of " + o_.keys.meta_dir() + ": cursor " +
                                               std::to_string(s.cursor) + " does not end below the seal " +
                                               std::to_string(seal));
    }
    if (Clock::now() >= deadline) co_return werr(WalErrc::store_error, "seal of " + o_.keys.meta_dir() + ": timeout");
    co_await backoff(delay);
  }
}

asio::awaitable<Result<SealResult>> Sealer::run() {
  SealResult out;
  auto state = co_await read_state();
  if (!state) co_return state.error();
  if (state->seal) {
    out.resumed = true;
    out.seal_seq = *state->seal;
  } else {
    // (1) "sealing E".
    if (Status st = co_await record_sealing(); !st) co_return st.error();
    state = co_await read_state();  // linearizable: no writer commit lands after this
    if (!state) co_return state.error();
    if (deposed(*state)) co_return deposed_error();
    // (2) probe from the cursor.
    uint64_t k = state->cursor + 1;
    std::optional<uint64_t> seal = state->seal;
    // Retries of one seq share a deadline; it restarts when the probe moves on.
    uint64_t step_k = 0;
    Clock::time_point step_deadline;
    auto delay = o_.retry_backoff;
    while (!seal) {
      const std::string key = o_.keys.object_key(k);
      if (k != step_k) {
        step_k = k;
        step_deadline = Clock::now() + o_.op_timeout;
        delay = o_.retry_backoff;
      }
      auto got = co_await objects_.get(key, std::nullopt, step_deadline);
      if (!got && got.error == objstore::Errc::not_found) {
        Bytes marker = build_seal_marker(o_.keys.broker_id, o_.keys.epoch, k, token_);
        auto put = co_await objects_.put_if_absent(key, std::string(marker.begin(), marker.end()), step_deadline);
        if (put.ok() && put.value.created) {
          log::info(kLog, key, ": seal marker written");
          seal = k;
          break;
        }
        if (!put.ok()) {
          if (Clock::now() >= step_deadline) {
            co_return werr(WalErrc::store_error, "seal: PUT of marker " + key + ": " + put.error.message());
          }
          co_await backoff(delay);
        }
        continue;  // read the key back: a writer's object, or a marker (ours from an unknown attempt, or another's)
      }
      if (!got) {
        if (Clock::now() >= step_deadline) {
          co_return werr(WalErrc::store_error, "seal: GET " + key + ": " + got.error.message());
        }
        co_await backoff(delay);
        continue;
      }
      ByteSpan bytes(reinterpret_cast<const uint8_t*>(got.value.data()), got.value.size());
      auto h = parse_wal_object(bytes, key);
      if (!h) co_return h.error();
      if (h->broker_id != o_.keys.broker_id || h->epoch != o_.keys.epoch || h->seq != k) {
        co_return werr(WalErrc::corrupt, "seal: " + key + " names broker " + std::to_string(h->broker_id) +
                                             " epoch " + std::to_string(h->epoch) + " seq " + std::to_string(h->seq));
      }
      if (h->kind == WalObjectHeader::Kind::seal) {
        log::info(kLog, key, ": seal marker of ", h->token, " found");
        seal = k;
        break;
      }
      // The writer's object: commit it (cursor k-1 -> k), unless someone else did.
      auto ranges = wal_object_ranges(bytes, key);
      if (!ranges) co_return ranges.error();
      meta::TxnRequest txn;
      add_guard(txn);
      if (k == 1) {
        txn.compares.push_back(meta::Compare::version(o_.keys.cursor_key(), meta::Compare::Result::equal, 0));
      } else {
        txn.compares.push_back(
            meta::Compare::value_of(o_.keys.cursor_key(), meta::Compare::Result::equal, WalKeys::seq_name(k - 1)));
      }
      txn.success.push_back(meta::PutRequest{o_.keys.commit_key(key), encode_object_ranges(*ranges), 0, false});
      txn.success.push_back(meta::PutRequest{o_.keys.cursor_key(), WalKeys::seq_name(k), 0, false});
      bool unknown = false;
      auto w = co_await write(txn, &unknown);
      if (!w) co_return w.error();
      if (!w->has_value()) {
        ++out.committed_by_sealer;
        ++k;
        continue;
      }
      const EpochState& s = **w;
      if (deposed(s)) co_return deposed_error();
      if (s.seal) {  // another sealer finished meanwhile
        seal = s.seal;
        out.resumed = true;
        break;
      }
      if (s.cursor >= k) {
        k = s.cursor + 1;  // committed by someone else (or our unknown write went through)
        continue;
      }
      if (Clock::now() >= step_deadline) co_return werr(WalErrc::store_error, "seal: commit of " + key + " failed");
      co_await backoff(delay);
    }
    // (3) record the seal.
    if (!out.resumed) {
      if (Status st = co_await record_seal(*seal); !st) co_return st.error();
    }
    out.seal_seq = *seal;
  }
  auto swept = co_await sweep(out.seal_seq);
  if (!swept) co_return swept.error();
  out.orphans_deleted = *swept;
  // (4) the recovered ranges, read after the seal is recorded.
  auto rec = co_await recovered();
  if (!rec) co_return rec.error();
  out.recovered = std::move(*rec);
  log::info(kLog, o_.keys.meta_dir(), " sealed at ", out.seal_seq, ": ", out.recovered.size(), " objects recovered, ",
            out.committed_by_sealer, " committed by ", o_.sealer_id, ", ", out.orphans_deleted, " orphans deleted");
  co_return out;
}

asio::awaitable<Result<uint64_t>> Sealer::sweep(uint64_t seal) {
  const auto deadline = Clock::now() + o_.op_timeout;
  const std::string dir = o_.keys.object_dir();
  std::vector<std::string> doomed;
  std::string token;
  for (size_t pages = 0; pages < 1'000'000; ++pages) {
    auto page = co_await objects_.list(dir, token, 1000, deadline);
    if (!page) co_return werr(WalErrc::store_error, "seal: LIST " + dir + ": " + page.error.message());
    for (const auto& o : page.value.objects) {
      auto seq = parse_seq(std::string_view(o.key).substr(dir.size()));
      // Only keys above the seal; the marker (== seal) and the committed objects below it stay.
      if (seq && *seq > seal) doomed.push_back(o.key);
    }
    if (page.value.next.empty()) break;
    token = page.value.next;
  }
  uint64_t deleted = 0;
  for (size_t i = 0; i < doomed.size(); i += 1000) {
    std::vector<std::string> batch(doomed.begin() + static_cast<std::ptrdiff_t>(i),
                                   doomed.begin() + static_cast<std::ptrdiff_t>(std::min(doomed.size(), i + 1000)));
    const size_t n = batch.size();
    auto r = co_await objects_.remove_many(std::move(batch), deadline);
    if (!r) co_return werr(WalErrc::store_error, "seal: DELETE under " + dir + ": " + r.error.message());
    deleted += n - r.value.size();
  }
  co_return deleted;
}

asio::awaitable<Result<std::vector<ObjectRanges>>> Sealer::recovered() {
  std::vector<ObjectRanges> out;
  const std::string prefix = o_.keys.commit_prefix();
  std::string from = prefix;
  for (size_t pages = 0; pages < 1'000'000; ++pages) {
    meta::RangeRequest req;
    req.key = from;
    req.range_end = meta::prefix_end(prefix);
    req.limit = 500;
    auto page = co_await meta_.range(req);
    if (!page) co_return werr(WalErrc::store_error, "seal: reading " + prefix + ": " + page.error().message());
    for (const auto& kv : page->kvs) {
      auto r = decode_object_ranges(kv.key.substr(o_.keys.meta_root.size() + 8), kv.value);  // "objects/"
      if (!r) co_return r.error();
      out.push_back(std::move(*r));
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + '\0';
  }
  co_return out;
}

}  // namespace

asio::awaitable<Result<SealResult>> seal_epoch(objstore::ObjectStore& objects, meta::MetaStore& meta,
                                               SealOptions options) {
  Sealer s(objects, meta, std::move(options));
  co_return co_await s.run();
}

asio::awaitable<Result<uint64_t>> sweep_sealed_epoch(objstore::ObjectStore& objects, meta::MetaStore& meta,
                                                     SealOptions options) {
  Sealer s(objects, meta, std::move(options));
  auto state = co_await s.read_state();
  if (!state) co_return state.error();
  if (!state->seal) co_return werr(WalErrc::invalid_argument, "sweep: the seal of the epoch is not recorded");
  co_return co_await s.sweep(*state->seal);
}

}  // namespace floe::stream
