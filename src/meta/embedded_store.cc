#include "meta/embedded_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/this_coro.hpp>

#include "base/log.h"
#include "meta/journal.h"
#include "meta/kv_state.h"
#include "meta/wakeup.h"

namespace floe::meta {

using Clock = std::chrono::steady_clock;
using detail::Wakeup;

namespace {

std::error_code last_errno() { return {errno, std::generic_category()}; }

std::string journal_name(uint64_t first_index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "journal-%020" PRIu64 ".log", first_index);
  return buf;
}

struct WatcherState {
  WatcherState(const asio::any_io_executor& ex, WatchRequest r) : request(std::move(r)), wakeup(ex) {}
  WatchRequest request;
  int64_t next_revision = 0;
  int64_t compact_revision = 0;
  bool finished = false;
  std::atomic<bool> cancelled{false};
  Wakeup wakeup;
};

struct SnapshotCopy {
  int64_t revision = 0;
  int64_t next_lease_id = 0;
  uint64_t last_index = 0;
  std::map<std::string, KeyValue, std::less<>> keys;
  std::map<int64_t, int64_t> leases;
};

}  // namespace

struct EmbeddedStore::Core : std::enable_shared_from_this<Core> {
  MetaStats stats;
  Core(asio::any_io_executor ex, EmbeddedConfig c)
      : executor(std::move(ex)), config(std::move(c)), state(config.max_history_events) {}
  ~Core() {
    if (fd >= 0) ::close(fd);
    if (lock_fd >= 0) ::close(lock_fd);
  }

  asio::any_io_executor executor;
  EmbeddedConfig config;
  asio::thread_pool pool{1};  // the sync thread: journal writes, fdatasync, snapshots

  std::mutex mu;
  KvState state;
  uint64_t last_index = 0;       // newest journal record appended to `pending` (or written)
  uint64_t durable_index = 0;    // newest journal record covered by an fdatasync
  int64_t visible_revision = 0;  // newest revision whose record is durable: what reads and watches see
  std::deque<std::pair<uint64_t, int64_t>> pending_revisions;  // (index, revision) not yet durable
  std::string pending;           // framed records waiting for the sync thread
  bool syncing = false;          // a sync_loop is queued or running
  bool closed = false;
  std::error_code failed;        // a journal write or sync failed: no more writes
  uint64_t journal_bytes = 0;    // since the last snapshot
  std::vector<std::pair<uint64_t, std::shared_ptr<Wakeup>>> durable_waiters;
  std::vector<std::weak_ptr<WatcherState>> watchers;
  std::map<int64_t, Clock::time_point> lease_deadlines;

  // Touched only while opening and by the sync thread.
  int fd = -1;
  int lock_fd = -1;
  uint64_t journal_first_index = 1;

  // --- write path (call with mu held) ---
  void append(journal::Type type, std::string_view payload, int64_t revision) {
    const uint64_t index = ++last_index;
    journal::frame(pending, index, type, payload);
    if (revision != 0) pending_revisions.emplace_back(index, revision);
    if (!syncing) {
      syncing = true;
      asio::post(pool, [self = shared_from_this()] { self->sync_loop(); });
    }
  }

  void wake_all_locked() {
    for (auto& [index, w] : durable_waiters) w->notify();
    durable_waiters.clear();
    for (auto& weak : watchers) {
      if (auto w = weak.lock()) w->wakeup.notify();
    }
  }

  // --- sync thread ---
  void sync_loop() {
    for (;;) {
      std::string buffer;
      uint64_t target = 0;
      std::optional<SnapshotCopy> snapshot;
      {
        std::lock_guard lock(mu);
        if (pending.empty() || failed) {
          syncing = false;
          return;
        }
        buffer.swap(pending);
        target = last_index;
        journal_bytes += buffer.size();
        if (journal_bytes >= config.snapshot_bytes) {
          journal_bytes = 0;
          snapshot.emplace();
          snapshot->revision = state.revision();
          snapshot->next_lease_id = state.lease_id_counter();
          snapshot->last_index = target;
          snapshot->keys = state.keys();
          for (const auto& [id, lease] : state.leases()) snapshot->leases.emplace(id, lease.ttl);
        }
      }
      std::error_code ec = journal::write_all(fd, buffer);
      if (!ec && ::fdatasync(fd) != 0) ec = last_errno();
      if (ec) {
        log::error("meta", "embedded store: journal write failed, refusing further writes: ", ec.message());
        std::lock_guard lock(mu);
        failed = ec;
        syncing = false;
        wake_all_locked();
        return;
      }
      {
        std::lock_guard lock(mu);
        durable_index = target;
        while (!pending_revisions.empty() && pending_revisions.front().first <= target) {
          visible_revision = pending_revisions.front().second;
          pending_revisions.pop_front();
        }
        auto keep = std::partition(durable_waiters.begin(), durable_waiters.end(),
                                   [&](const auto& w) { return w.first > target; });
        for (auto it = keep; it != durable_waiters.end(); ++it) it->second->notify();
        durable_waiters.erase(keep, durable_waiters.end());
        std::erase_if(watchers, [](const std::weak_ptr<WatcherState>& weak) {
          auto w = weak.lock();
          if (!w) return true;
          w->wakeup.notify();
          return false;
        });
      }
      if (snapshot) {
        if (auto sec = rotate_and_snapshot(*snapshot)) {
          log::error("meta", "embedded store: snapshot failed, refusing further writes: ", sec.message());
          std::lock_guard lock(mu);
          failed = sec;
          syncing = false;
          wake_all_locked();
          return;
        }
      }
    }
  }

  // Starts a new journal file after the snapshot's index, writes the snapshot, then deletes the older journals.
  std::error_code rotate_and_snapshot(const SnapshotCopy& snap) {
    const std::string dir = config.dir;
    const uint64_t first = snap.last_index + 1;
    const std::string path = dir + "/" + journal_name(first);
    int nfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (nfd < 0) return last_errno();
    std::error_code ec = journal::write_all(nfd, journal::kJournalMagic);
    if (!ec && ::fdatasync(nfd) != 0) ec = last_errno();
    if (!ec) ec = journal::sync_dir(dir);
    if (ec) {
      ::close(nfd);
      return ec;
    }
    const uint64_t old_first = journal_first_index;
    ::close(fd);
    fd = nfd;
    journal_first_index = first;

    if (auto sec = write_snapshot(snap)) return sec;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
      uint64_t idx = 0;
      const auto name = entry.path().filename().string();
      if (std::sscanf(name.c_str(), "journal-%" SCNu64 ".log", &idx) == 1 && idx < first && idx >= 1) {
        std::filesystem::remove(entry.path(), ignored);
      }
    }
    (void)old_first;
    return {};
  }

  std::error_code write_snapshot(const SnapshotCopy& snap) {
    std::string out(journal::kSnapshotMagic);
    std::string header;
    journal::put_u64(header, static_cast<uint64_t>(snap.revision));
    journal::put_u64(header, static_cast<uint64_t>(snap.next_lease_id));
    journal::put_u64(header, snap.last_index);
    journal::put_u64(header, snap.leases.size());
    journal::put_u64(header, snap.keys.size());
    journal::frame(out, 0, journal::Type::snap_header, header);
    uint64_t records = 1;
    for (const auto& [id, ttl] : snap.leases) {
      journal::frame(out, 0, journal::Type::snap_lease, journal::encode_lease_grant(id, ttl));
      ++records;
    }
    for (const auto& [key, kv] : snap.keys) {
      std::string p;
      journal::put_str(p, kv.key);
      journal::put_str(p, kv.value);
      journal::put_u64(p, static_cast<uint64_t>(kv.create_revision));
      journal::put_u64(p, static_cast<uint64_t>(kv.mod_revision));
      journal::put_u64(p, static_cast<uint64_t>(kv.version));
      journal::put_u64(p, static_cast<uint64_t>(kv.lease));
      journal::frame(out, 0, journal::Type::snap_key, p);
      ++records;
    }
    std::string end;
    journal::put_u64(end, records);
    journal::frame(out, 0, journal::Type::snap_end, end);

    const std::string tmp = config.dir + "/snapshot.tmp";
    int sfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (sfd < 0) return last_errno();
    std::error_code ec = journal::write_all(sfd, out);
    if (!ec && ::fsync(sfd) != 0) ec = last_errno();
    ::close(sfd);
    if (ec) return ec;
    if (::rename(tmp.c_str(), (config.dir + "/snapshot").c_str()) != 0) return last_errno();
    return journal::sync_dir(config.dir);
  }

  // --- recovery (open) ---
  std::error_code load_snapshot(uint64_t& snapshot_index) {
    const std::string path = config.dir + "/snapshot";
    if (!std::filesystem::exists(path)) return {};
    int64_t revision = 0, next_lease = 1;
    uint64_t lease_count = 0, key_count = 0, records = 0;
    bool header = false, end = false;
    std::map<std::string, KeyValue, std::less<>> keys;
    std::map<int64_t, int64_t> leases;
    auto scanned = journal::scan_file(path, journal::kSnapshotMagic, [&](const journal::Record& r) -> std::error_code {
      journal::Reader in(r.payload);
      if (end) return Errc::corrupt;
      if (!header && r.type != journal::Type::snap_header) return Errc::corrupt;
      switch (r.type) {
        case journal::Type::snap_header:
          if (header || !in.i64(revision) || !in.i64(next_lease) || !in.u64(snapshot_index) ||
              !in.u64(lease_count) || !in.u64(key_count)) {
            return Errc::corrupt;
          }
          header = true;
          break;
        case journal::Type::snap_lease: {
          int64_t id = 0, ttl = 0;
          if (!in.i64(id) || !in.i64(ttl)) return Errc::corrupt;
          leases[id] = ttl;
          break;
        }
        case journal::Type::snap_key: {
          KeyValue kv;
          if (!in.str(kv.key) || !in.str(kv.value) || !in.i64(kv.create_revision) || !in.i64(kv.mod_revision) ||
              !in.i64(kv.version) || !in.i64(kv.lease)) {
            return Errc::corrupt;
          }
          std::string key = kv.key;
          keys.emplace(std::move(key), std::move(kv));
          break;
        }
        case journal::Type::snap_end: {
          uint64_t count = 0;
          if (!in.u64(count) || count != records) return Errc::corrupt;
          end = true;
          break;
        }
        default:
          return Errc::corrupt;
      }
      ++records;
      return {};
    });
    if (!scanned) return scanned.error();
    if (scanned->torn || !end || leases.size() != lease_count || keys.size() != key_count) return Errc::corrupt;
    state.restore(revision, next_lease, std::move(keys), std::move(leases));
    return {};
  }

  std::error_code apply_record(const journal::Record& r) {
    journal::Reader in(r.payload);
    switch (r.type) {
      case journal::Type::apply: {
        Effect effect;
        if (!journal::decode_apply(r.payload, effect)) return Errc::corrupt;
        if (!effect.changes.empty() && effect.revision != state.revision() + 1) return Errc::corrupt;
        state.replay(effect);
        return {};
      }
      case journal::Type::lease_grant: {
        int64_t id = 0, ttl = 0;
        if (!in.i64(id) || !in.i64(ttl)) return Errc::corrupt;
        state.grant_lease(id, ttl);
        return {};
      }
      case journal::Type::compact: {
        int64_t revision = 0;
        if (!in.i64(revision)) return Errc::corrupt;
        (void)state.compact(revision);  // an already older floor (after a snapshot) is fine
        return {};
      }
      default:
        return Errc::corrupt;
    }
  }

  std::error_code recover() {
    std::error_code ec;
    std::filesystem::create_directories(config.dir, ec);
    if (ec) return ec;
    const std::string lock_path = config.dir + "/LOCK";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return last_errno();
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) return errno == EWOULDBLOCK ? Errc::locked : last_errno();
    std::filesystem::remove(config.dir + "/snapshot.tmp", ec);

    uint64_t snapshot_index = 0;
    if (auto sec = load_snapshot(snapshot_index)) return sec;
    last_index = snapshot_index;

    std::vector<uint64_t> files;
    for (const auto& entry : std::filesystem::directory_iterator(config.dir, ec)) {
      uint64_t idx = 0;
      const auto name = entry.path().filename().string();
      char tail = 0;
      if (std::sscanf(name.c_str(), "journal-%" SCNu64 ".lo%c", &idx, &tail) == 2 && tail == 'g' &&
          name == journal_name(idx)) {
        files.push_back(idx);
      }
    }
    if (ec) return ec;
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string path = config.dir + "/" + journal_name(files[i]);
      const bool newest = i + 1 == files.size();
      auto scanned = journal::scan_file(path, journal::kJournalMagic, [&](const journal::Record& r) -> std::error_code {
        if (r.index <= last_index) return {};  // covered by the snapshot
        if (r.index != last_index + 1) return Errc::corrupt;
        if (auto aec = apply_record(r)) return aec;
        last_index = r.index;
        return {};
      });
      if (!scanned) return scanned.error();
      if (scanned->torn) {
        if (!newest) return Errc::corrupt;
        log::warn("meta", "embedded store: dropping a torn journal tail in ", path, " at byte ", scanned->valid_bytes);
        if (scanned->valid_bytes < journal::kHeaderBytes) {
          std::filesystem::remove(path, ec);  // created but its magic never reached the disk
          files.pop_back();
          break;
        }
        if (::truncate(path.c_str(), static_cast<off_t>(scanned->valid_bytes)) != 0) return last_errno();
      }
    }
    // Journals wholly below the snapshot (a crash between writing it and deleting them) and the newest one.
    for (size_t i = 0; i + 1 < files.size(); ++i) {
      if (files[i + 1] <= snapshot_index + 1) std::filesystem::remove(config.dir + "/" + journal_name(files[i]), ec);
    }
    if (!files.empty() && files.back() <= last_index + 1) {
      journal_first_index = files.back();
      const std::string path = config.dir + "/" + journal_name(journal_first_index);
      fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) return last_errno();
      if (::fdatasync(fd) != 0) return last_errno();  // the truncation, if any
    } else {
      journal_first_index = last_index + 1;
      const std::string path = config.dir + "/" + journal_name(journal_first_index);
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0) return last_errno();
      if (auto wec = journal::write_all(fd, journal::kJournalMagic)) return wec;
      if (::fdatasync(fd) != 0) return last_errno();
      if (auto dec = journal::sync_dir(config.dir)) return dec;
    }
    durable_index = last_index;
    visible_revision = state.revision();
    const auto now = Clock::now();
    for (const auto& [id, lease] : state.leases()) lease_deadlines[id] = now + std::chrono::seconds(lease.ttl);
    return {};
  }

  // --- waiting ---
  // Waits until journal record `index` is durable. closed when the store shut down first, the journal error when
  // the write failed.
  asio::awaitable<std::error_code> wait_durable(uint64_t index) {
    std::shared_ptr<Wakeup> wakeup;
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (durable_index >= index) co_return std::error_code{};
        if (failed) co_return make_error_code(Errc::io);
        if (closed && !syncing) co_return make_error_code(Errc::closed);
        if (!wakeup) wakeup = std::make_shared<Wakeup>(executor);
        durable_waiters.emplace_back(index, wakeup);
      }
      co_await wakeup->wait();
    }
  }

  // Waits while too many journal bytes wait for the sync thread; then holds `lock` (mu).
  asio::awaitable<std::error_code> admit(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      lock.lock();
      if (closed) co_return make_error_code(Errc::closed);
      if (failed) co_return make_error_code(Errc::io);
      if (pending.size() < config.max_pending_bytes) co_return std::error_code{};
      const uint64_t target = last_index;
      lock.unlock();
      if (auto ec = co_await wait_durable(target)) co_return ec;
    }
  }

  void expire_leases_locked(Clock::time_point now) {
    for (auto it = lease_deadlines.begin(); it != lease_deadlines.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      const int64_t id = it->first;
      it = lease_deadlines.erase(it);
      if (!state.has_lease(id)) continue;
      Effect effect = state.revoke_lease(id);
      log::debug("meta", "embedded store: lease ", id, " expired, deleted ", effect.changes.size(), " keys");
      append(journal::Type::apply, journal::encode_apply(effect), effect.revision);
    }
  }

  static asio::awaitable<void> expiry_loop(std::shared_ptr<Core> self) {
    asio::steady_timer timer(self->executor);
    for (;;) {
      timer.expires_after(self->config.lease_check_interval);
      std::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      std::lock_guard lock(self->mu);
      if (self->closed) co_return;
      if (!self->failed) self->expire_leases_locked(Clock::now());
    }
  }
};

namespace {

class EmbeddedWatch final : public Watch {
 public:
  EmbeddedWatch(std::shared_ptr<EmbeddedStore::Core> core, std::shared_ptr<WatcherState> state)
      : core_(std::move(core)), state_(std::move(state)) {}
  ~EmbeddedWatch() override { cancel(); }

  asio::awaitable<Result<WatchBatch>> next() override {
    auto core = core_;
    auto w = state_;
    for (;;) {
      WatchBatch batch;
      {
        std::lock_guard lock(core->mu);
        if (w->cancelled) co_return Errc::cancelled;
        if (w->finished) co_return Errc::compacted;
        if (core->closed) co_return Errc::closed;
        const int64_t floor = core->state.history_floor();
        if (w->next_revision <= floor) {
          w->compact_revision = floor + 1;
          w->finished = true;
          co_return Errc::compacted;
        }
        KeyRange range{w->request.key, w->request.range_end};
        w->next_revision = core->state.collect(range, w->next_revision, core->visible_revision, w->request.prev_kv,
                                               core->config.watch_batch_events, batch.events);
      }
      if (!batch.events.empty()) co_return batch;
      co_await w->wakeup.wait();
    }
  }

  void cancel() override {
    state_->cancelled = true;
    state_->wakeup.notify();
  }

  int64_t compact_revision() const override {
    std::lock_guard lock(core_->mu);
    return state_->compact_revision;
  }

 private:
  std::shared_ptr<EmbeddedStore::Core> core_;
  std::shared_ptr<WatcherState> state_;
};

}  // namespace

Result<std::unique_ptr<EmbeddedStore>> EmbeddedStore::open(asio::any_io_executor executor, EmbeddedConfig config) {
  if (config.dir.empty()) return Errc::invalid_argument;
  auto core = std::make_shared<Core>(executor, std::move(config));
  if (auto ec = core->recover()) return ec;
  log::debug("meta", "embedded store open at ", core->config.dir, ": revision ", core->state.revision(), ", ",
            core->state.keys().size(), " keys, ", core->state.leases().size(), " leases, journal index ",
            core->last_index);
  auto loop = [core]() -> asio::awaitable<void> { co_await Core::expiry_loop(core); };
  asio::co_spawn(executor, std::move(loop), asio::detached);
  return std::unique_ptr<EmbeddedStore>(new EmbeddedStore(std::move(core)));
}

EmbeddedStore::EmbeddedStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}

EmbeddedStore::~EmbeddedStore() { shutdown(); }

void EmbeddedStore::shutdown() {
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) return;
    core_->closed = true;
  }
  core_->pool.join();  // the queued sync finishes: what was appended becomes durable
  std::lock_guard lock(core_->mu);
  core_->wake_all_locked();
  // Release the files now (the lease-expiry coroutine may keep Core alive until its next tick).
  if (core_->fd >= 0) ::close(core_->fd);
  if (core_->lock_fd >= 0) ::close(core_->lock_fd);
  core_->fd = -1;
  core_->lock_fd = -1;
}

MetaStatsSnapshot EmbeddedStore::stats() const { return core_->stats.snapshot(); }

asio::awaitable<Result<RangeResponse>> EmbeddedStore::range(RangeRequest request) {
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::range);
  std::lock_guard lock(core->mu);
  if (core->closed) co_return Errc::closed;
  if (request.revision > core->visible_revision) co_return Errc::future_revision;
  const int64_t at = request.revision != 0 ? request.revision : core->visible_revision;
  auto response = core->state.range(request, at);
  if (response) response->revision = core->visible_revision;
  co_return response;
}

asio::awaitable<Result<TxnResponse>> EmbeddedStore::txn(TxnRequest request) {
  if (auto ec = validate_txn(request, core_->config.limits)) co_return ec;
  auto core = core_;
  MetaStats::Timer timer(core->stats, MetaOp::txn);
  uint64_t wait_index = 0;
  Result<TxnResponse> response = Errc::closed;
  {
    std::unique_lock lock(core->mu, std::defer_lock);
    if (auto ec = co_await core->admit(lock)) co_return ec;
    Effect effect;
    response = core->state.txn(request, effect);
    if (!response) co_return response;
    if (effect.revision != 0) core->append(journal::Type::apply, journal::encode_apply(effect), effect.revision);
    wait_index = core->last_index;  // also what this txn read: nothing it saw may vanish in a crash
  }
  if (auto ec = co_await core->wait_durable(wait_index)) co_return ec;
  co_return response;
}

asio::awaitable<Result<PutResponse>> EmbeddedStore::put(PutRequest request) {
  TxnRequest txn_request;
  txn_request.success.emplace_back(std::move(request));
  auto response = co_await txn(std::move(txn_request));
  if (!response) co_return response.error();
  co_return std::get<PutResponse>(std::move(response->responses.front()));
}

asio::awaitable<Result<DeleteResponse>> EmbeddedStore::del(DeleteRequest request) {
  TxnRequest txn_request;
  txn_request.success.emplace_back(std::move(request));
  auto response = co_await txn(std::move(txn_request));
  if (!response) co_return response.error();
  co_return std::get<DeleteResponse>(std::move(response->responses.front()));
}

asio::awaitable<Result<LeaseGrantResponse>> EmbeddedStore::lease_grant(int64_t ttl_seconds, int64_t id) {
  if (ttl_seconds <= 0 || id < 0) co_return Errc::invalid_argument;
  auto core = core_;
  uint64_t wait_index = 0;
  {
    std::unique_lock lock(core->mu, std::defer_lock);
    if (auto ec = co_await core->admit(lock)) co_return ec;
    if (id == 0) {
      id = core->state.next_lease_id();
    } else if (core->state.has_lease(id)) {
      co_return Errc::invalid_argument;
    }
    core->state.grant_lease(id, ttl_seconds);
    core->lease_deadlines[id] = Clock::now() + std::chrono::seconds(ttl_seconds);
    core->append(journal::Type::lease_grant, journal::encode_lease_grant(id, ttl_seconds), 0);
    wait_index = core->last_index;
  }
  if (auto ec = co_await core->wait_durable(wait_index)) co_return ec;
  co_return LeaseGrantResponse{id, ttl_seconds};
}

asio::awaitable<Result<int64_t>> EmbeddedStore::lease_keepalive(int64_t id) {
  auto core = core_;
  std::lock_guard lock(core->mu);
  if (core->closed) co_return Errc::closed;
  auto it = core->state.leases().find(id);
  if (it == core->state.leases().end()) co_return Errc::lease_not_found;
  core->lease_deadlines[id] = Clock::now() + std::chrono::seconds(it->second.ttl);
  co_return it->second.ttl;
}

asio::awaitable<std::error_code> EmbeddedStore::lease_revoke(int64_t id) {
  auto core = core_;
  uint64_t wait_index = 0;
  {
    std::unique_lock lock(core->mu, std::defer_lock);
    if (auto ec = co_await core->admit(lock)) co_return ec;
    if (!core->state.has_lease(id)) co_return make_error_code(Errc::lease_not_found);
    core->lease_deadlines.erase(id);
    Effect effect = core->state.revoke_lease(id);
    core->append(journal::Type::apply, journal::encode_apply(effect), effect.revision);
    wait_index = core->last_index;
  }
  co_return co_await core->wait_durable(wait_index);
}

asio::awaitable<std::error_code> EmbeddedStore::compact(int64_t revision) {
  auto core = core_;
  uint64_t wait_index = 0;
  {
    std::unique_lock lock(core->mu, std::defer_lock);
    if (auto ec = co_await core->admit(lock)) co_return ec;
    if (revision > core->visible_revision) co_return make_error_code(Errc::future_revision);
    if (auto ec = core->state.compact(revision)) co_return ec;
    core->append(journal::Type::compact, journal::encode_i64(revision), 0);
    wait_index = core->last_index;
  }
  co_return co_await core->wait_durable(wait_index);
}

std::unique_ptr<Watch> EmbeddedStore::watch(WatchRequest request) {
  auto state = std::make_shared<WatcherState>(core_->executor, std::move(request));
  std::lock_guard lock(core_->mu);
  state->next_revision =
      state->request.start_revision != 0 ? state->request.start_revision : core_->visible_revision + 1;
  core_->watchers.push_back(state);
  return std::make_unique<EmbeddedWatch>(core_, std::move(state));
}

}  // namespace floe::meta
