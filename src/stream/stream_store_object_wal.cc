// Part of StreamStore (stream_store.h): the object WAL (open, sealing earlier epochs, commits, a stopped WAL) and
// the cluster hooks (acquire, release).
#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <set>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "stream/committed_objects.h"
#include "stream/errc.h"
#include "stream/seal.h"
#include "stream/stream_store.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

using detail::err;
using detail::kLog;
using detail::stream_key;

namespace {

std::string open_marker_dir(const std::string& root, uint64_t broker) {
  return root + "wal-open/" + std::to_string(broker) + "/";
}

// "<digits>" -> value; nullopt for anything else.
std::optional<uint64_t> parse_u64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

asio::awaitable<Status> StreamStore::seal_previous_epochs() {
  // The epochs to look at: those with an open marker (an epoch that died before its first commit has nothing
  // else in metadata, yet may have acked appends) and those with WAL metadata.
  std::set<uint64_t> epochs;
  std::set<uint64_t> sealed_epochs;  // a seal is recorded (<root>wal/<broker>/<epoch>/seal)
  std::set<uint64_t> marked_epochs;  // an open marker is left
  const std::string markers = open_marker_dir(config_.meta_root, config_.broker_id);
  const std::string wal_dir = config_.meta_root + "wal/" + std::to_string(config_.broker_id) + "/";
  const std::array<std::string, 2> prefixes = {markers, wal_dir};
  for (const std::string& prefix : prefixes) {
    meta::RangeRequest req;
    req.key = prefix;
    req.range_end = meta::prefix_end(prefix);
    req.keys_only = true;
    auto r = co_await meta_.range(req);
    if (!r) co_return err(Errc::io_error, "stream: cannot list " + prefix + ": " + r.error().message());
    for (const auto& kv : r->kvs) {
      std::string_view rest = std::string_view(kv.key).substr(prefix.size());
      const size_t slash = rest.find('/');
      auto epoch = parse_u64(rest.substr(0, slash));
      if (!epoch) continue;
      epochs.insert(*epoch);
      if (prefix == markers) marked_epochs.insert(*epoch);
      if (prefix == wal_dir && slash != std::string_view::npos && rest.substr(slash + 1) == "seal") {
        sealed_epochs.insert(*epoch);
      }
    }
  }
  for (uint64_t epoch : epochs) {
    if (epoch == config_.epoch) continue;  // ours: ObjectWal::open refuses it if it was used
    SealOptions so;
    so.keys = WalKeys{config_.meta_root, config_.object_prefix, config_.broker_id, epoch};
    so.sealer_id = "broker " + std::to_string(config_.broker_id) + " epoch " + std::to_string(config_.epoch);
    so.op_timeout = config_.wal_commit_timeout;
    so.retry_backoff = config_.wal_retry_backoff;
    if (!sealed_epochs.count(epoch)) {
      auto sealed = co_await seal_epoch(objects_, meta_, so);
      if (!sealed) {
        co_return err(Errc::io_error,
                      "stream: cannot seal WAL epoch " + so.keys.meta_dir() + ": " + sealed.error().message);
      }
      log::info(kLog, "sealed WAL epoch ", so.keys.meta_dir(), " at seq ", sealed->seal_seq, ": ",
                sealed->recovered.size(), " objects committed (", sealed->committed_by_sealer, " by this start)");
    }
    if (!marked_epochs.count(epoch)) continue;
    meta::DeleteRequest del;
    del.key = markers + WalKeys::seq_name(epoch);
    if (auto r = co_await meta_.del(del); !r) {
      co_return err(Errc::io_error, "stream: cannot delete " + del.key + ": " + r.error().message());
    }
  }
  co_return ok_status();
}

asio::awaitable<Status> StreamStore::open_object_wal() {
  // The open marker first: from now on a later start knows this epoch may hold acked data. Only where a later
  // start seals (seal_previous_epochs); in cluster mode the controller seals from the registrations.
  if (config_.seal_previous_epochs) {
    meta::PutRequest marker;
    marker.key = open_marker_dir(config_.meta_root, config_.broker_id) + WalKeys::seq_name(config_.epoch);
    marker.value = "open";
    if (auto r = co_await meta_.put(marker); !r) {
      co_return err(Errc::io_error, "stream: cannot write " + marker.key + ": " + r.error().message());
    }
  }
  ObjectWalOptions o;
  o.block_bytes = std::max<size_t>(config_.block_bytes, 1);
  o.meta_root = config_.meta_root;
  o.object_prefix = config_.object_prefix;
  o.broker_id = config_.broker_id;
  o.epoch = config_.epoch;
  o.flush_interval = config_.wal_flush_interval;
  o.flush_eager = config_.wal_flush_eager;
  o.flush_min_spacing = config_.wal_flush_min_spacing;
  o.batch_bytes = config_.wal_batch_bytes;
  o.inflight = config_.wal_inflight;
  o.max_uncommitted_objects = config_.wal_max_uncommitted_objects;
  o.max_entry_bytes = config_.max_append_bytes;
  o.max_buffered_bytes = config_.wal_max_buffered_bytes;
  o.put_timeout = config_.wal_put_timeout;
  o.attempt_timeout = config_.wal_attempt_timeout;
  o.commit_timeout = config_.wal_commit_timeout;
  o.retry_backoff = config_.wal_retry_backoff;
  o.hedge_after = config_.wal_put_hedge;
  o.check_conditional_put = config_.wal_check_conditional_put;
  o.on_commit = [this](const ObjectRanges& ranges) { on_object_committed(ranges); };
  o.on_stop = [this](std::error_code ec) { on_wal_stopped(ec); };
  auto wal = co_await ObjectWal::open(base_executor_, std::move(o), objects_, meta_);
  if (!wal) co_return wal.error();
  object_wal_ = std::move(*wal);
  co_return ok_status();
}

// On the WAL strand, in seq order, after the object's commit txn: its data is committed now.
void StreamStore::on_object_committed(const ObjectRanges& ranges) {
  std::lock_guard lock(mu_);
  for (const BlockInfo& b : ranges.blocks) {
    auto found = streams_.find(b.stream_id);
    if (found == streams_.end()) continue;  // released and forgotten (release waits for commits: not expected)
    Stream& s = found->second;
    for (Entry& e : s.entries) {
      if (e.first > b.last_offset) break;
      if (e.first >= b.first_offset && !e.committed) {
        e.committed = true;
        e.durable = true;
        uncommitted_bytes_ -= e.data->size();
        cached_committed_bytes_ += e.data->size();
      }
    }
    s.committed = std::max(s.committed, b.last_offset + 1);
    s.blocks.emplace_back(b, ranges.key);
  }
  evict_committed_locked();
  ++uploads_;
}

// On the WAL strand, once: the WAL failed for good. Later appends fail at once; the owner hears about it on the
// store's strand.
void StreamStore::on_wal_stopped(std::error_code ec) {
  {
    std::lock_guard lock(mu_);
    if (wal_failure_) return;
    wal_failure_ = ec ? ec : make_error_code(WalErrc::closed);
  }
  log::error(kLog, "object WAL stopped: ", ec.message(), "; every append fails until a new epoch opens");
  if (config_.on_wal_stopped) {
    auto callback = config_.on_wal_stopped;
    asio::post(executor_, [callback, ec] { callback(ec); });
  }
}

bool StreamStore::all_committed_locked(const std::map<uint64_t, int64_t>& targets) const {
  for (const auto& [id, target] : targets) {
    auto it = streams_.find(id);
    if (it == streams_.end()) continue;
    // An append that failed moved `next` back: what is left to commit ends there.
    if (it->second.committed < std::min(target, it->second.next)) return false;
  }
  return true;
}

asio::awaitable<Status> StreamStore::wait_committed(std::map<uint64_t, int64_t> targets,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (all_committed_locked(targets)) co_return ok_status();
      if (wal_failure_) {
        co_return err(Errc::unavailable,
                      "stream: the WAL stopped (" + wal_failure_.message() + ") before the data was committed");
      }
    }
    if (!object_wal_) {  // file WAL: have the uploader run now
      asio::post(executor_, [this] { wakeup_.cancel(); });
    } else {  // object WAL: cut and commit now, without waiting out the flush or commit spacing
      object_wal_->expedite();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      co_return err(Errc::timed_out, "stream: data not committed within " + std::to_string(timeout.count()) + " ms");
    }
    // expedite() above has the WAL cut and commit at once: a short poll is cheap and bounds the added delay.
    timer.expires_at(std::min(deadline, now + std::chrono::milliseconds(5)));
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void StreamStore::forget_entries_locked(Stream& s) {
  for (const Entry& e : s.entries) {
    if (e.committed) {
      cached_committed_bytes_ -= e.data->size();
    } else {
      uncommitted_bytes_ -= e.data->size();
    }
  }
  s.entries.clear();
}

// The acquire path's ObjectIndexCache, kept current in the background (object_index_warm_interval): one keys-only
// listing of objects/ per pass plus the values of the records committed since the last one. A failed pass only
// leaves more for the next acquire to decode.
void StreamStore::start_index_warmer() {
  if (!config_.owned_streams_only || config_.object_index_warm_interval.count() <= 0 ||
      config_.object_index_cache_bytes == 0) {
    return;
  }
  index_warm_wakeup_ = std::make_unique<asio::steady_timer>(executor_);
  index_warm_stopped_ = std::make_unique<asio::steady_timer>(executor_);
  index_warm_stopped_->expires_at(asio::steady_timer::time_point::max());
  {
    std::lock_guard lock(mu_);
    index_warm_running_ = true;
  }
  asio::co_spawn(executor_, index_warm_loop(), asio::detached);
}

asio::awaitable<void> StreamStore::index_warm_loop() {
  std::function<Status(const ObjectRanges&)> nothing = [](const ObjectRanges&) { return ok_status(); };
  for (;;) {
    {
      // closing_ is set before stop_index_warmer() cancels the timer on this strand: checked right before the wait
      // starts, a stop is never missed.
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    index_warm_wakeup_->expires_after(config_.object_index_warm_interval);
    std::error_code ec;
    co_await index_warm_wakeup_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard lock(mu_);
      if (closing_) break;
    }
    auto r = co_await read_committed_objects_cached(meta_, config_.meta_root, *object_index_cache_, nothing,
                                                    "stream: warming the object index");
    if (!r) log::debug(kLog, r.error().message);
  }
  {
    std::lock_guard lock(mu_);
    index_warm_running_ = false;
  }
  index_warm_stopped_->cancel();
}

asio::awaitable<void> StreamStore::stop_index_warmer() {
  if (!index_warm_wakeup_) co_return;
  auto stop = [this]() -> asio::awaitable<void> {
    index_warm_wakeup_->cancel();
    bool running = false;
    {
      std::lock_guard lock(mu_);
      running = index_warm_running_;
    }
    if (running) {
      std::error_code ec;
      co_await index_warm_stopped_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  };
  co_await asio::co_spawn(executor_, stop(), asio::use_awaitable);
}

asio::awaitable<Status> StreamStore::acquire(std::vector<uint64_t> stream_ids) {
  {
    std::lock_guard lock(mu_);
    if (closing_) co_return err(Errc::closed, "stream: acquire after close");
  }
  const std::set<uint64_t> wanted(stream_ids.begin(), stream_ids.end());
  std::map<uint64_t, std::vector<std::pair<BlockInfo, std::string>>> blocks;
  std::map<uint64_t, int64_t> starts;
  // One linearizable read: the objects at one revision, and the starts read at that revision too.
  // Through the object index cache: a later wave reads and decodes only the objects committed since.
  std::function<Status(const ObjectRanges&)> add_wanted = [&](const ObjectRanges& o) {
    for (const BlockInfo& b : o.blocks) {
      if (wanted.count(b.stream_id)) blocks[b.stream_id].emplace_back(b, o.key);
    }
    return ok_status();
  };
  auto read = co_await read_committed_objects_cached(meta_, config_.meta_root, *object_index_cache_, add_wanted,
                                                     "stream: acquire");
  if (!read) co_return read.error();
  const int64_t revision = *read;
  // The starts: up to kReadsPerTxn range reads (at that revision) per round trip, not one round trip per stream
  // (a failover opens hundreds of streams at once).
  constexpr size_t kReadsPerTxn = 128;  // etcd's --max-txn-ops
  const std::vector<uint64_t> ids(wanted.begin(), wanted.end());
  for (size_t at = 0; at < ids.size(); at += kReadsPerTxn) {
    meta::TxnRequest txn;
    const size_t n = std::min(kReadsPerTxn, ids.size() - at);
    for (size_t i = 0; i < n; ++i) {
      meta::RangeRequest req;
      req.key = config_.meta_root + "streams/" + stream_key(ids[at + i]) + "/start";
      req.revision = revision;
      txn.success.push_back(std::move(req));
    }
    auto r = co_await meta_.txn(std::move(txn));
    if (!r) co_return err(Errc::io_error, "stream: acquire: cannot read the log starts: " + r.error().message());
    if (!r->succeeded || r->responses.size() != n) {
      co_return err(Errc::io_error, "stream: acquire: the log starts' read returned " +
                                        std::to_string(r->responses.size()) + " of " + std::to_string(n) + " answers");
    }
    for (size_t i = 0; i < n; ++i) {
      const auto* range = std::get_if<meta::RangeResponse>(&r->responses[i]);
      if (range && !range->kvs.empty()) starts[ids[at + i]] = std::stoll(range->kvs.front().value);
    }
  }
  std::lock_guard lock(mu_);
  if (closing_) co_return err(Errc::closed, "stream: acquire after close");
  for (uint64_t id : wanted) {
    if (owned_.count(id)) continue;  // already ours: its state is current
    Stream& s = streams_[id];
    forget_entries_locked(s);
    s.blocks = std::move(blocks[id]);
    std::sort(s.blocks.begin(), s.blocks.end(),
              [](const auto& a, const auto& b) { return a.first.first_offset < b.first.first_offset; });
    s.committed = s.blocks.empty() ? 0 : s.blocks.back().first.last_offset + 1;
    s.start = starts.count(id) ? starts[id] : 0;
    s.durable = s.next = std::max(s.committed, s.start);
    // The epoch history below the end is still true (offsets never change); beyond it, it is not ours.
    std::erase_if(s.epochs, [&](const auto& e) { return e.second >= s.next; });
    owned_.insert(id);
  }
  co_return ok_status();
}

asio::awaitable<Result<std::map<uint64_t, StreamEnds>>> StreamStore::release(std::vector<uint64_t> stream_ids) {
  std::map<uint64_t, int64_t> targets;
  {
    std::lock_guard lock(mu_);
    for (uint64_t id : stream_ids) {
      owned_.erase(id);  // appends fail with not_owner from now on
      auto it = streams_.find(id);
      if (it != streams_.end()) targets[id] = it->second.next;
    }
  }
  if (Status st = co_await wait_committed(targets, config_.release_timeout); !st) co_return st.error();
  std::map<uint64_t, StreamEnds> released;
  std::lock_guard lock(mu_);
  for (uint64_t id : stream_ids) {
    if (owned_.count(id)) continue;  // acquired again meanwhile
    auto it = streams_.find(id);
    if (it == streams_.end()) continue;
    released[id] = StreamEnds{it->second.start, it->second.committed, it->second.durable};
    forget_entries_locked(it->second);
    streams_.erase(it);
  }
  co_return released;
}

}  // namespace floe::stream
