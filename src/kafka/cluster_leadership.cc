#include "kafka/cluster_leadership.h"

#include <algorithm>

#include "cluster/cluster_image.h"
#include "cluster/topic_catalog.h"

namespace floe::kafka {
namespace {

BrokerEndpoint endpoint_of(const cluster::BrokerInfo& b) {
  return BrokerEndpoint{b.id, b.host, b.port, b.rack};
}

}  // namespace

PartitionLeader ClusterLeadership::leader(const cluster::TopicInfo& topic, int32_t partition) const {
  std::optional<cluster::Assignment> a = image_.assignment(topic.name, partition);
  if (!a || a->released || a->broker_id < 0) return {};
  PartitionLeader out;
  out.leader_epoch = a->leader_epoch;
  if (self_alive_ && !self_alive_()) return out;  // this broker's view may be stale: it names no leader
  std::optional<cluster::BrokerInfo> b = image_.broker(a->broker_id);
  if (!b || b->epoch != a->broker_epoch) return out;  // its broker epoch died: failing over
  out.leader_id = a->broker_id;
  if (a->broker_id == self_id_) {
    std::lock_guard lock(mu_);
    auto it = local_.find(cluster::stream_id_of(topic.id, partition));
    out.local = it != local_.end() && it->second == a->leader_epoch;
  }
  return out;
}

std::vector<BrokerEndpoint> ClusterLeadership::brokers() const {
  std::vector<BrokerEndpoint> out;
  for (const cluster::BrokerInfo& b : image_.live_brokers()) out.push_back(endpoint_of(b));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.node_id < y.node_id; });
  return out;
}

std::optional<BrokerEndpoint> ClusterLeadership::broker(int32_t node_id) const {
  std::optional<cluster::BrokerInfo> b = image_.broker(node_id);
  if (!b) return std::nullopt;
  return endpoint_of(*b);
}

int32_t ClusterLeadership::controller_id() const { return image_.controller_id().value_or(-1); }

void ClusterLeadership::set_opening(uint64_t stream) { open_gate_.opening(stream); }

void ClusterLeadership::open_failed(uint64_t stream) { open_gate_.closed(stream); }

void ClusterLeadership::set_local(uint64_t stream, int32_t leader_epoch) {
  {
    std::lock_guard lock(mu_);
    local_[stream] = leader_epoch;
  }
  open_gate_.opened(stream);  // after: the first waiter to resume finds it local
}

void ClusterLeadership::clear_local(uint64_t stream) {
  {
    std::lock_guard lock(mu_);
    local_.erase(stream);
  }
  open_gate_.closed(stream);  // after: waiters resume and find it not local
}

void ClusterLeadership::clear_all() {
  {
    std::lock_guard lock(mu_);
    local_.clear();
  }
  open_gate_.close_all();
}

size_t ClusterLeadership::local_count() const {
  std::lock_guard lock(mu_);
  return local_.size();
}

}  // namespace floe::kafka
