#include "app/group_lag.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <map>

#include "cluster/topic_catalog.h"
#include "group/coordinator.h"
#include "protocol/msg/list_groups.h"
#include "protocol/msg/offset_fetch.h"
#include "stream/stream_store.h"

namespace floe::app {
namespace {

constexpr int16_t kListGroupsVersion = 4;
constexpr int16_t kOffsetFetchVersion = 7;  // one group; topics null = every committed partition

}  // namespace

GroupLagGauge::GroupLagGauge(asio::any_io_executor executor, group::GroupCoordinator& groups,
                             const cluster::TopicCatalog& catalog, const stream::StreamStore& streams,
                             std::chrono::milliseconds min_interval, std::size_t max_series)
    : executor_(std::move(executor)),
      groups_(groups),
      catalog_(catalog),
      streams_(streams),
      min_interval_(min_interval),
      max_series_(max_series) {}

void GroupLagGauge::refresh_if_stale() {
  const int64_t last = refreshed_ns_.load(std::memory_order_relaxed);
  const int64_t age = std::chrono::steady_clock::now().time_since_epoch().count() - last;
  if ((last != 0 && age < std::chrono::nanoseconds(min_interval_).count()) || refreshing_.exchange(true)) return;
  auto work = refresh();
  asio::co_spawn(executor_, std::move(work), asio::detached);
}

asio::awaitable<void> GroupLagGauge::refresh() {
  refreshing_.store(true);
  std::vector<Lag> lags;
  uint64_t dropped = 0;
  proto::ListGroupsResponse listed = co_await groups_.list_groups(kListGroupsVersion, proto::ListGroupsRequest{});
  std::vector<std::string> names;
  for (const auto& g : listed.groups) names.push_back(g.group_id);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    proto::OffsetFetchRequest req;
    req.group_id = name;  // topics unset: every partition the group committed
    proto::OffsetFetchResponse resp = co_await groups_.offset_fetch(kOffsetFetchVersion, std::move(req));
    if (resp.error_code != 0) continue;  // e.g. the coordinator is stopping
    std::map<std::pair<std::string, int32_t>, int64_t> committed;  // sorted by topic, partition
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) {
        if (p.error_code == 0 && p.committed_offset >= 0) committed[{t.name, p.partition_index}] = p.committed_offset;
      }
    }
    for (const auto& [tp, offset] : committed) {
      const auto topic = catalog_.find(tp.first);
      if (!topic || tp.second >= topic->partitions) continue;  // deleted or shrunk since the commit
      const uint64_t stream = cluster::stream_id_of(topic->id, tp.second);
      // Cluster mode: only partitions open here have a known high watermark (always true for the single broker).
      if (!streams_.owns(stream)) continue;
      if (lags.size() >= max_series_) {
        ++dropped;
        continue;
      }
      const int64_t hw = streams_.ends(stream).durable;
      lags.push_back({name, tp.first, tp.second, offset, hw, std::max<int64_t>(0, hw - offset)});
    }
  }
  {
    std::lock_guard lock(mu_);
    lags_ = std::move(lags);
    dropped_ = dropped;
  }
  refreshed_ns_.store(std::max<int64_t>(1, std::chrono::steady_clock::now().time_since_epoch().count()),
                      std::memory_order_relaxed);
  refreshing_.store(false);
}

std::vector<GroupLagGauge::Lag> GroupLagGauge::snapshot() const {
  std::lock_guard lock(mu_);
  return lags_;
}

void GroupLagGauge::expose(metrics::Exposition& e) const {
  std::lock_guard lock(mu_);
  e.family("floe_group_lag_records", "Consumer-group lag: high watermark minus committed offset, per partition",
           metrics::Type::gauge);
  for (const Lag& l : lags_) {
    const std::string partition = std::to_string(l.partition);
    e.sample({{"group", l.group}, {"topic", l.topic}, {"partition", partition}}, static_cast<double>(l.lag));
  }
  e.family("floe_group_lag_total_records", "Consumer-group lag summed over the group's partitions",
           metrics::Type::gauge);
  for (std::size_t i = 0; i < lags_.size();) {
    int64_t sum = 0;
    std::size_t j = i;
    for (; j < lags_.size() && lags_[j].group == lags_[i].group; ++j) sum += lags_[j].lag;
    e.sample({{"group", lags_[i].group}}, static_cast<double>(sum));
    i = j;
  }
  e.family("floe_group_lag_series_dropped", "Group partitions left out of floe_group_lag_records by its series bound",
           metrics::Type::gauge);
  e.sample({}, static_cast<double>(dropped_));
}

}  // namespace floe::app
