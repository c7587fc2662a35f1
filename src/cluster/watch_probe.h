// WatchLagProbe: how far this broker's metadata image trails the store (DESIGN §5: every broker acts on its image,
// so a lagging watch delays everything it does; issue 8's "metadata watch lag").
//
// Every `interval` it writes <root>probes/<broker id> (empty value, under the broker's lease so it goes with the
// broker), and from the moment the store acknowledges that put at revision R it times how long the image's watch
// takes to apply R. At the ack it also notes how many revisions the image is behind (R - the image's revision):
// under load the WAL's commits and the controller's txns stream past, and this says how much of that is queued.
// A probe the image does not reach within `timeout` counts as a timeout and reports `timeout` as its lag.
//
// Freshness (DESIGN §7: "a broker whose image lags past half the grace period stops serving committed reads"):
// when the image applies a probe written at local steady time T (taken BEFORE the put was sent), the image holds
// everything the store had committed at T, so its staleness is at most now - T. staleness() is that bound for the
// newest probe applied; it keeps growing while no probe comes back (a stuck watch, an unreachable store), so a
// probe that never returns counts as lagging. Before the first probe is applied the image counts as lagging
// (staleness() is nullopt). For the bound to mean anything, `interval` must be well below it (cluster_node.cc
// sets interval = min(5 s, grace / 8)).
//
// Executors: one coroutine on a strand of the given executor; figures(), staleness() and fresh_within() are
// thread-safe (an atomic). stop() ends it (bounded by
// the store's request timeout and `timeout`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "base/log2_histogram.h"

namespace floe::meta {
class MetaStore;
}

namespace floe::cluster {

class ClusterImage;

struct WatchLagProbeConfig {
  int32_t broker_id = -1;
  int64_t lease = 0;  // the broker's lease (0: none: the key stays)
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{10000};
};

struct WatchLagFigures {
  uint64_t probes = 0;            // probes the image applied
  uint64_t timeouts = 0;          // probes it did not apply within the timeout
  uint64_t errors = 0;            // probe writes that failed
  double last_lag_seconds = 0;    // the last probe: store ack -> image applied it
  int64_t last_lag_revisions = 0; // the last probe: revisions the image was behind at the ack
  Log2HistogramSnapshot lag_us;   // every probe's lag
};

class WatchLagProbe {
 public:
  // The image and the store must outlive the probe (await stop() before destroying them).
  static std::unique_ptr<WatchLagProbe> start(asio::any_io_executor executor, meta::MetaStore& meta,
                                              ClusterImage& image, WatchLagProbeConfig config);
  ~WatchLagProbe();  // stop_async()
  WatchLagProbe(const WatchLagProbe&) = delete;
  WatchLagProbe& operator=(const WatchLagProbe&) = delete;

  WatchLagFigures figures() const;
  // How stale the image may be now (see Freshness above); nullopt before the first probe came back.
  std::optional<std::chrono::steady_clock::duration> staleness() const;
  // The image is known to be at most `bound` behind the store.
  bool fresh_within(std::chrono::steady_clock::duration bound) const;
  // Ends the loop and waits for it.
  asio::awaitable<void> stop();
  void stop_async();

  struct Core;

 private:
  explicit WatchLagProbe(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster
