#include "cluster/watch_probe.h"

#include <mutex>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "cluster/cluster_image.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

struct WatchLagProbe::Core : std::enable_shared_from_this<Core> {
  using Clock = std::chrono::steady_clock;
  Core(asio::any_io_executor ex, meta::MetaStore& m, ClusterImage& img, WatchLagProbeConfig c)
      : strand(asio::make_strand(ex)), meta(m), image(img), config(c), timer(strand),
        done_timer(strand, asio::steady_timer::time_point::max()) {}
  asio::strand<asio::any_io_executor> strand;
  meta::MetaStore& meta;
  ClusterImage& image;
  WatchLagProbeConfig config;
  asio::steady_timer timer;
  asio::steady_timer done_timer;
  std::atomic<bool> stopping{false};
  bool done = false;  // strand
  Log2Histogram lag_us;
  mutable std::mutex mu;
  WatchLagFigures figures;  // guarded by mu (lag_us is filled in on read)
  // Steady-clock time (since its epoch, ns) at which the newest applied probe was sent; 0: none yet.
  std::atomic<int64_t> fresh_as_of_ns{0};

  asio::awaitable<void> probe_once() {
    const std::string key = image.keys().root() + "probes/" + std::to_string(config.broker_id);
    meta::PutRequest put{key, "", config.lease, false};
    const auto sent = Clock::now();  // before the put: the store's state at this time is in revision r (below)
    auto r = co_await meta.put(std::move(put));
    if (!r) {
      std::lock_guard lock(mu);
      ++figures.errors;
      co_return;
    }
    const auto acked = Clock::now();
    const int64_t behind = std::max<int64_t>(0, r->revision - image.revision());
    Status reached = co_await image.wait_for_revision(r->revision, config.timeout);
    const auto lag = reached ? Clock::now() - acked : std::chrono::duration_cast<Clock::duration>(config.timeout);
    lag_us.record(lag);
    if (reached) {
      const int64_t sent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count();
      int64_t prev = fresh_as_of_ns.load();
      while (prev < sent_ns && !fresh_as_of_ns.compare_exchange_weak(prev, sent_ns)) {
      }
    }
    std::lock_guard lock(mu);
    if (reached) ++figures.probes;
    else ++figures.timeouts;
    figures.last_lag_seconds = std::chrono::duration<double>(lag).count();
    figures.last_lag_revisions = behind;
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopping.load()) {
      co_await probe_once();
      if (stopping.load()) break;
      timer.expires_after(config.interval);
      co_await timer.async_wait(kTuple);
    }
    done = true;
    done_timer.cancel();
  }

  static asio::awaitable<void> wait_done(std::shared_ptr<Core> core) {
    while (!core->done) co_await core->done_timer.async_wait(kTuple);
  }
};

WatchLagProbe::WatchLagProbe(std::shared_ptr<Core> core) : core_(std::move(core)) {}
WatchLagProbe::~WatchLagProbe() { stop_async(); }

std::unique_ptr<WatchLagProbe> WatchLagProbe::start(asio::any_io_executor executor, meta::MetaStore& meta,
                                                    ClusterImage& image, WatchLagProbeConfig config) {
  if (config.interval.count() <= 0) config.interval = std::chrono::milliseconds(5000);
  if (config.timeout.count() <= 0) config.timeout = std::chrono::milliseconds(10000);
  auto core = std::make_shared<Core>(executor, meta, image, config);
  asio::co_spawn(core->strand, core->run(), asio::detached);
  return std::unique_ptr<WatchLagProbe>(new WatchLagProbe(core));
}

WatchLagFigures WatchLagProbe::figures() const {
  std::lock_guard lock(core_->mu);
  WatchLagFigures f = core_->figures;
  f.lag_us = core_->lag_us.snapshot();
  return f;
}

std::optional<std::chrono::steady_clock::duration> WatchLagProbe::staleness() const {
  const int64_t ns = core_->fresh_as_of_ns.load();
  if (ns == 0) return std::nullopt;
  const auto as_of = std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
  return std::chrono::steady_clock::now() - as_of;
}

bool WatchLagProbe::fresh_within(std::chrono::steady_clock::duration bound) const {
  auto s = staleness();
  return s && *s <= bound;
}

void WatchLagProbe::stop_async() {
  auto core = core_;
  core->stopping.store(true);
  asio::post(core->strand, [core] { core->timer.cancel(); });
}

asio::awaitable<void> WatchLagProbe::stop() {
  auto core = core_;
  stop_async();
  co_await asio::co_spawn(core->strand, Core::wait_done(core), asio::use_awaitable);
}

}  // namespace floe::cluster
