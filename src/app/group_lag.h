// Consumer-group lag per partition (issue 8), for /metrics:
//   floe_group_lag_records{group,topic,partition}   high watermark - committed offset (partitions with a commit)
//   floe_group_lag_total_records{group}             the sum over the group's partitions
// Computed from the group coordinator (ListGroups, then OffsetFetch of every committed partition, the same calls
// `floe group describe` makes) and the partition logs' high watermarks. A collector may not wait, so a scrape shows
// the previous refresh and starts the next one in the background when that one is older than `min_interval` (one at
// a time): the figures lag one scrape behind. Series are bounded: at most `max_series` partitions (groups and
// topics in name order); what is cut is counted in floe_group_lag_series_dropped.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace floe::group {
class GroupCoordinator;
}
namespace floe::cluster {
class TopicCatalog;
}
namespace floe::stream {
class StreamStore;
}

namespace floe::app {

class GroupLagGauge {
 public:
  struct Lag {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    int64_t committed = 0;
    int64_t high_watermark = 0;
    int64_t lag = 0;  // max(0, high_watermark - committed)
  };

  GroupLagGauge(asio::any_io_executor executor, group::GroupCoordinator& groups, const cluster::TopicCatalog& catalog,
                const stream::StreamStore& streams, std::chrono::milliseconds min_interval, std::size_t max_series);

  // Starts a refresh unless one runs or the last one is younger than min_interval. Any thread.
  void refresh_if_stale();
  // One refresh, awaited (tests).
  asio::awaitable<void> refresh();
  // The last refresh's figures as the families above.
  void expose(metrics::Exposition& e) const;
  std::vector<Lag> snapshot() const;

 private:
  asio::any_io_executor executor_;
  group::GroupCoordinator& groups_;
  const cluster::TopicCatalog& catalog_;
  const stream::StreamStore& streams_;
  std::chrono::milliseconds min_interval_;
  std::size_t max_series_;
  std::atomic<bool> refreshing_{false};
  std::atomic<int64_t> refreshed_ns_{0};
  mutable std::mutex mu_;
  std::vector<Lag> lags_;  // sorted by group, topic, partition
  uint64_t dropped_ = 0;
};

}  // namespace floe::app
