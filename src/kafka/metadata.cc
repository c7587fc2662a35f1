#include "kafka/metadata.h"

#include <cstdint>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/services.h"

namespace floe::kafka {

bool valid_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

// One topic as Kafka shows it: each partition with its leader and leader epoch; replicas = ISR = [leader] (one shared
// log, DESIGN §7). A partition with no leader now (being assigned or failed over) gets LEADER_NOT_AVAILABLE.
void describe_topic(const Services& services, const cluster::TopicInfo& topic, proto::MetadataResponse& resp) {
  auto& t = resp.topics.emplace_back();
  t.name = topic.name;
  t.topic_id = topic.id;
  t.is_internal = topic.name.rfind("__", 0) == 0;
  t.partitions.reserve(static_cast<size_t>(topic.partitions));
  for (int32_t p = 0; p < topic.partitions; ++p) {
    auto& part = t.partitions.emplace_back();
    part.partition_index = p;
    const PartitionLeader leader = services.leadership.leader(topic, p);
    part.leader_id = leader.leader_id;
    part.leader_epoch = leader.leader_epoch;
    if (leader.leader_id < 0) {
      part.error_code = code(Errc::leader_not_available);
      continue;
    }
    part.replica_nodes = {leader.leader_id};
    part.isr_nodes = {leader.leader_id};
  }
}

}  // namespace

asio::awaitable<proto::MetadataResponse> handle_metadata(RequestContext& ctx, proto::MetadataRequest& req) {
  const BrokerIdentity& self = ctx.broker;
  proto::MetadataResponse resp;
  resp.cluster_id = self.cluster_id;
  Services* services = ctx.services;
  if (services) {
    for (const BrokerEndpoint& b : services->leadership.brokers()) {
      auto& broker = resp.brokers.emplace_back();
      broker.node_id = b.node_id;
      broker.host = b.host;
      broker.port = b.port;
      broker.rack = b.rack;
    }
    resp.controller_id = services->leadership.controller_id();
  } else {  // dispatcher unit tests: the broker itself
    auto& broker = resp.brokers.emplace_back();
    broker.node_id = self.node_id;
    broker.host = self.advertised_host;
    broker.port = self.advertised_port;
    broker.rack = self.rack;
    resp.controller_id = self.node_id;
  }

  // v0: an empty list means every topic; v1+: null means every topic and an empty list none.
  const bool all_topics = !req.topics || (ctx.version() == 0 && req.topics->empty());
  if (all_topics) {
    if (services) {
      for (const cluster::TopicInfo& topic : services->catalog.list()) describe_topic(*services, topic, resp);
    }
    co_return resp;
  }
  // Kafka creates topics on Metadata requests when the broker allows it and the client asks (v4+; always before).
  const bool may_create = services && services->settings.auto_create_topics &&
                          (ctx.version() < 4 || req.allow_auto_topic_creation);
  for (const auto& wanted : *req.topics) {
    std::optional<cluster::TopicInfo> topic;
    if (services) topic = wanted.name ? services->catalog.find(*wanted.name) : services->catalog.find(wanted.topic_id);
    if (!topic && wanted.name && may_create && valid_topic_name(*wanted.name)) {
      auto created = co_await services->catalog.create(*wanted.name, services->settings.num_partitions, {});
      if (created) {
        log::info("kafka", "auto-created topic ", *wanted.name, " with ", created->partitions, " partition(s)");
        topic = *created;
      } else {
        topic = services->catalog.find(*wanted.name);  // created concurrently by another request
      }
    }
    if (topic) {
      describe_topic(*services, *topic, resp);
      continue;
    }
    auto& t = resp.topics.emplace_back();
    t.topic_id = wanted.topic_id;
    if (!wanted.name) {  // v10+: asked by id only
      t.name = std::nullopt;
      t.error_code = code(Errc::unknown_topic_id);
      continue;
    }
    t.name = wanted.name;
    t.error_code = valid_topic_name(*wanted.name) ? code(Errc::unknown_topic_or_partition)
                                                  : code(Errc::invalid_topic_exception);
  }
  co_return resp;
}

}  // namespace floe::kafka
