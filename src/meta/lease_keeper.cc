#include "meta/lease_keeper.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace floe::meta {

const char* to_string(LeaseState state) {
  switch (state) {
    case LeaseState::healthy: return "healthy";
    case LeaseState::in_danger: return "in_danger";
    case LeaseState::lost: return "lost";
    case LeaseState::stopped: return "stopped";
  }
  return "?";
}

namespace {

// One wake-up for one waiter (asio 1.22: a lone error_code signature is ambiguous, hence the int).
using Signal = asio::experimental::concurrent_channel<void(std::error_code, int)>;

bool is_final(LeaseState s) { return s == LeaseState::lost || s == LeaseState::stopped; }

void notify_all(std::vector<std::shared_ptr<Signal>>& waiters) {
  for (auto& w : waiters) w->try_send(std::error_code{}, 0);
  waiters.clear();
}

}  // namespace

struct LeaseKeeper::Core : std::enable_shared_from_this<Core> {
  using Strand = asio::strand<asio::any_io_executor>;

  Core(asio::any_io_executor executor, MetaStore& s, int64_t lease_id, int64_t ttl_seconds,
       Clock::time_point granted_at, LeaseKeeperConfig c, Callback cb)
      : strand(asio::make_strand(executor)),
        store(s),
        id(lease_id),
        ttl(std::chrono::seconds(ttl_seconds)),
        config(c),
        callback(std::move(cb)),
        send_timer(strand),
        watch_timer(strand),
        last_ok(granted_at),
        deadline_(granted_at + ttl) {
    if (config.interval.count() == 0) config.interval = std::chrono::milliseconds(ttl_seconds * 1000 / 3);
    config.interval = std::max(config.interval, std::chrono::milliseconds(1));
    config.retry_min = std::clamp(config.retry_min, std::chrono::milliseconds(1), config.interval);
    danger = std::chrono::duration_cast<Clock::duration>(ttl * config.danger_fraction);
    backoff = config.retry_min;
  }

  Strand strand;
  MetaStore& store;
  const int64_t id;
  const Clock::duration ttl;
  LeaseKeeperConfig config;
  Callback callback;
  std::atomic<bool> silenced{false};  // the keeper was destroyed: no more callbacks

  // Strand only.
  asio::steady_timer send_timer;
  asio::steady_timer watch_timer;
  Clock::time_point last_ok;  // send time of the last successful keep-alive (or the grant)
  Clock::duration danger{};
  std::chrono::milliseconds backoff{};
  int failures = 0;
  std::error_code last_error;

  // Shared, under mu.
  mutable std::mutex mu;
  bool stop_requested = false;
  bool in_flight = false;
  LeaseState state_ = LeaseState::healthy;
  std::error_code error_;
  Clock::time_point deadline_;
  std::vector<std::shared_ptr<Signal>> state_waiters;
  std::vector<std::shared_ptr<Signal>> idle_waiters;

  void notify(LeaseState s, std::error_code ec) {
    if (callback && !silenced.load()) callback(s, ec);
  }

  // Strand. Moves to `s` unless the state is final; tells waiters and the callback.
  void set_state(LeaseState s, std::error_code ec) {
    std::vector<std::shared_ptr<Signal>> waiters;
    {
      std::lock_guard lock(mu);
      if (is_final(state_) || stop_requested || state_ == s) return;
      state_ = s;
      error_ = ec;
      if (s == LeaseState::lost) deadline_ = std::min(deadline_, Clock::now());
      waiters.swap(state_waiters);
    }
    notify_all(waiters);
    notify(s, ec);
  }

  bool finished() const {
    std::lock_guard lock(mu);
    return stop_requested || is_final(state_);
  }

  void lose(std::error_code ec) {
    set_state(LeaseState::lost, ec);
    send_timer.cancel();
    watch_timer.cancel();
  }

  // Strand: recomputes the state from the clock and arms the watchdog for the next instant it may change.
  void evaluate() {
    if (finished()) return;
    const auto now = Clock::now();
    Clock::time_point deadline;
    {
      std::lock_guard lock(mu);
      deadline = deadline_;
    }
    if (now >= deadline) {
      lose(make_error_code(Errc::timeout));
      return;
    }
    const auto danger_at = last_ok + danger;
    Clock::time_point next = deadline;
    if (failures > 0) {
      set_state(LeaseState::in_danger, last_error);
    } else if (now >= danger_at) {
      set_state(LeaseState::in_danger, make_error_code(Errc::timeout));
    } else {
      set_state(LeaseState::healthy, {});
      next = std::min(danger_at, deadline);
    }
    watch_timer.expires_at(next);
    watch_timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->evaluate();
    });
  }

  void schedule_send(Clock::time_point at) {
    send_timer.expires_at(at);
    send_timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->send();
    });
  }

  // Strand: one keep-alive, at most one in flight.
  void send() {
    {
      std::lock_guard lock(mu);
      if (stop_requested || is_final(state_) || in_flight) return;
      in_flight = true;
    }
    asio::co_spawn(strand, attempt(shared_from_this(), Clock::now()), asio::detached);
  }

  // A static coroutine with its inputs as parameters (copied into the frame): no captured lambda to outlive.
  static asio::awaitable<void> attempt(std::shared_ptr<Core> self, Clock::time_point sent) {
    Result<int64_t> result = co_await self->store.lease_keepalive(self->id);
    // Back on the strand (the coroutine was spawned there).
    self->on_result(std::move(result), sent);
  }

  void on_result(Result<int64_t> result, Clock::time_point sent) {
    std::vector<std::shared_ptr<Signal>> idle;
    {
      std::lock_guard lock(mu);
      in_flight = false;
      idle.swap(idle_waiters);
    }
    notify_all(idle);
    if (finished()) return;
    if (result.ok() && *result <= 0) result = Errc::lease_not_found;  // etcd's "TTL -1": the lease is gone
    if (result.ok()) {
      failures = 0;
      last_error = {};
      backoff = config.retry_min;
      last_ok = std::max(last_ok, sent);
      {
        std::lock_guard lock(mu);
        deadline_ = std::max(deadline_, sent + std::chrono::seconds(*result));
      }
      evaluate();
      schedule_send(sent + config.interval);
      return;
    }
    if (result.error() == Errc::lease_not_found) {
      lose(result.error());
      return;
    }
    ++failures;
    last_error = result.error();
    evaluate();
    schedule_send(Clock::now() + backoff);
    backoff = std::min(backoff * 2, config.interval);
  }

  void stop_async() {
    bool changed = false;
    std::vector<std::shared_ptr<Signal>> waiters;
    {
      std::lock_guard lock(mu);
      if (stop_requested) return;
      stop_requested = true;
      if (!is_final(state_)) {
        state_ = LeaseState::stopped;
        error_ = {};
        changed = true;
        waiters.swap(state_waiters);
      }
    }
    notify_all(waiters);
    asio::post(strand, [self = shared_from_this(), changed] {
      self->send_timer.cancel();
      self->watch_timer.cancel();
      if (changed) self->notify(LeaseState::stopped, {});
    });
  }
};

Result<std::unique_ptr<LeaseKeeper>> LeaseKeeper::start(asio::any_io_executor executor, MetaStore& store,
                                                        int64_t lease_id, int64_t ttl_seconds,
                                                        Clock::time_point granted_at, LeaseKeeperConfig config,
                                                        Callback callback) {
  if (lease_id == 0 || ttl_seconds <= 0 || !(config.danger_fraction > 0.0 && config.danger_fraction <= 1.0) ||
      config.interval.count() < 0 || config.retry_min.count() < 0) {
    return Errc::invalid_argument;
  }
  auto core = std::make_shared<Core>(std::move(executor), store, lease_id, ttl_seconds, granted_at, config,
                                     std::move(callback));
  asio::post(core->strand, [core] {
    core->evaluate();
    core->send();
  });
  return std::unique_ptr<LeaseKeeper>(new LeaseKeeper(std::move(core)));
}

LeaseKeeper::LeaseKeeper(std::shared_ptr<Core> core) : core_(std::move(core)) {}

LeaseKeeper::~LeaseKeeper() {
  core_->silenced.store(true);
  core_->stop_async();
}

int64_t LeaseKeeper::lease_id() const { return core_->id; }

LeaseState LeaseKeeper::state() const {
  std::lock_guard lock(core_->mu);
  return core_->state_;
}

std::error_code LeaseKeeper::error() const {
  std::lock_guard lock(core_->mu);
  return core_->error_;
}

LeaseKeeper::Clock::time_point LeaseKeeper::deadline() const {
  std::lock_guard lock(core_->mu);
  return core_->deadline_;
}

bool LeaseKeeper::alive(Clock::time_point now) const {
  std::lock_guard lock(core_->mu);
  return !is_final(core_->state_) && now < core_->deadline_;
}

asio::awaitable<LeaseState> LeaseKeeper::changed(LeaseState seen) {
  auto core = core_;
  auto signal = std::make_shared<Signal>(co_await asio::this_coro::executor, 1);
  {
    std::lock_guard lock(core->mu);
    if (core->state_ != seen) co_return core->state_;
    core->state_waiters.push_back(signal);
  }
  std::error_code ec;
  (void)co_await signal->async_receive(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(core->mu);
  co_return core->state_;
}

void LeaseKeeper::stop_async() { core_->stop_async(); }

asio::awaitable<std::error_code> LeaseKeeper::stop(bool revoke) {
  auto core = core_;
  core->stop_async();
  for (;;) {
    auto signal = std::make_shared<Signal>(co_await asio::this_coro::executor, 1);
    {
      std::lock_guard lock(core->mu);
      if (!core->in_flight) break;
      core->idle_waiters.push_back(signal);
    }
    std::error_code ec;
    (void)co_await signal->async_receive(asio::redirect_error(asio::use_awaitable, ec));
  }
  // Everything queued on the strand before this (timer cancels, the last callback) has run when this completes.
  co_await asio::post(core->strand, asio::use_awaitable);
  if (revoke) co_return co_await core->store.lease_revoke(core->id);
  co_return std::error_code{};
}

}  // namespace floe::meta
