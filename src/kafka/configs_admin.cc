#include "kafka/configs_admin.h"

#include <map>

#include "base/log.h"
#include "cluster/cluster_image.h"
#include "cluster/controller.h"
#include "cluster/topic_catalog.h"
#include "cluster/topic_config.h"
#include "kafka/catalog_errors.h"
#include "kafka/errors.h"
#include "kafka/services.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;
constexpr int8_t kSourceTopic = 1;    // DYNAMIC_TOPIC_CONFIG
constexpr int8_t kSourceDynamicBroker = 2;  // DYNAMIC_BROKER_CONFIG
constexpr int8_t kSourceStatic = 4;   // STATIC_BROKER_CONFIG
constexpr int8_t kSourceDefault = 5;  // DEFAULT_CONFIG
constexpr int8_t kTypeString = 2, kTypeInt = 3, kTypeLong = 5, kTypeBoolean = 1;
constexpr int8_t kOpSet = 0, kOpDelete = 1;
// Floe's one dynamic broker config: SET to true on BROKER resource ID drains broker ID (Controller::drain).
constexpr std::string_view kDrainKey = "floe.broker.drain";

int8_t config_type(std::string_view key) {
  if (key == "max.message.bytes" || key == "min.insync.replicas" || key == "segment.bytes") return kTypeInt;
  if (key == "retention.ms" || key == "retention.bytes" || key == "segment.ms") return kTypeLong;
  return kTypeString;
}

bool wanted(const std::optional<std::vector<std::string>>& keys, std::string_view key) {
  if (!keys) return true;
  for (const auto& k : *keys) {
    if (k == key) return true;
  }
  return false;
}

// The common end of AlterConfigs and IncrementalAlterConfigs: a validation error, or (unless validate_only) the
// new overrides stored; the outcome goes into `out`.
template <typename Out>
asio::awaitable<void> store_topic_configs(Services& services, const std::string& topic,
                                          std::map<std::string, std::string> configs,
                                          const std::optional<std::string>& bad, bool validate_only, Out& out) {
  if (bad) {
    out.error_code = code(Errc::invalid_config);
    out.error_message = *bad;
    co_return;
  }
  if (validate_only) co_return;
  auto st = co_await services.catalog.set_configs(topic, std::move(configs));
  if (!st) {
    out.error_code = catalog_error_code(st.error().code);
    out.error_message = st.error().message;
  }
}

template <typename Resp>
void refuse_broker_alter(Resp& r) {
  r.error_code = code(Errc::invalid_request);
  r.error_message =
      "broker configs are static in Floe: set them with flags, FLOE_* variables or the config file (the one dynamic "
      "key is floe.broker.drain, through IncrementalAlterConfigs)";
}

// Whether broker `id`'s live epoch is being drained (drains/<id> names it).
bool draining(const Services* services, int32_t id) {
  if (!services || !services->image) return false;
  auto image = services->image->snapshot();
  auto d = image->drains.find(id);
  auto b = image->brokers.find(id);
  return d != image->drains.end() && b != image->brokers.end() && d->second == b->second.epoch;
}

// IncrementalAlterConfigs on a BROKER resource: the only alterable key is kDrainKey (SET true), turned into
// Controller::drain(id). Any broker may receive it; `id` is the broker to drain, not necessarily this one.
asio::awaitable<void> alter_broker_configs(RequestContext& ctx,
                                           const proto::IncrementalAlterConfigsRequest::AlterConfigsResource& res,
                                           bool validate_only,
                                           proto::IncrementalAlterConfigsResponse::AlterConfigsResourceResponse& out) {
  bool drain = false;
  for (const auto& c : res.configs) {
    if (c.name != kDrainKey) {
      refuse_broker_alter(out);
      co_return;
    }
    if (c.config_operation != kOpSet || !c.value || *c.value != "true") {
      out.error_code = code(Errc::invalid_config);
      out.error_message = std::string(kDrainKey) +
                          " can only be SET to true; a drain ends when the broker restarts (it registers a new epoch)";
      co_return;
    }
    drain = true;
  }
  if (!drain) co_return;
  Services* services = ctx.services;
  if (!services || !services->controller) {
    out.error_code = code(Errc::invalid_request);
    out.error_message = "drain needs cluster mode: an embedded broker has no other broker to move its partitions to";
    co_return;
  }
  const std::string& name = res.resource_name;
  int32_t id = -1;
  if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos) {
    out.error_code = code(Errc::invalid_request);
    out.error_message = "bad broker id '" + name + "'";
    co_return;
  }
  id = std::stoi(name);
  std::vector<BrokerEndpoint> live = services->leadership.brokers();
  std::string live_ids;
  bool known = false;
  for (const auto& b : live) {
    live_ids += (live_ids.empty() ? "" : ",") + std::to_string(b.node_id);
    known = known || b.node_id == id;
  }
  if (!known) {
    out.error_code = code(Errc::broker_not_available);
    out.error_message = "broker " + name + " is not a live broker (live: " + (live_ids.empty() ? "none" : live_ids) + ")";
    co_return;
  }
  if (live.size() < 2) {
    out.error_code = code(Errc::invalid_request);
    out.error_message = "broker " + name + " is the only live broker: there is nowhere to move its partitions";
    co_return;
  }
  if (validate_only) co_return;
  asio::awaitable<Status> op = services->controller->drain(id);
  Status st = co_await std::move(op);
  if (!st) {
    out.error_code = st.error().code == make_error_code(cluster::ClusterErrc::unknown_broker)
                         ? code(Errc::broker_not_available)
                         : code(Errc::unknown_server_error);
    out.error_message = st.error().message;
    co_return;
  }
  log::info("kafka", "broker ", id, " is being drained (requested through broker ", ctx.broker.node_id, ")");
}

}  // namespace

asio::awaitable<proto::DescribeConfigsResponse> handle_describe_configs(RequestContext& ctx,
                                                                        proto::DescribeConfigsRequest& req) {
  proto::DescribeConfigsResponse resp;
  Services* services = ctx.services;
  for (const auto& res : req.resources) {
    auto& out = resp.results.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    if (res.resource_type == kResourceTopic) {
      std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(res.resource_name) : std::nullopt;
      if (!topic) {
        out.error_code = code(Errc::unknown_topic_or_partition);
        out.error_message = "topic " + res.resource_name + " does not exist";
        continue;
      }
      for (const auto& key : cluster::topic_config_keys()) {
        if (!wanted(res.configuration_keys, key.name)) continue;
        auto& c = out.configs.emplace_back();
        c.name = std::string(key.name);
        auto it = topic->configs.find(c.name);
        c.value = it != topic->configs.end() ? it->second : std::string(key.default_value);
        c.is_default = it == topic->configs.end();
        c.config_source = c.is_default ? kSourceDefault : kSourceTopic;
        c.config_type = config_type(key.name);
        if (req.include_documentation) c.documentation = std::string(key.doc);
      }
    } else if (res.resource_type == kResourceBroker) {
      if (res.resource_name != std::to_string(ctx.broker.node_id) && !res.resource_name.empty()) {
        out.error_code = code(Errc::invalid_request);
        out.error_message = "this broker is " + std::to_string(ctx.broker.node_id);
        continue;
      }
      std::vector<std::tuple<std::string, std::string, int8_t>> settings = {
          {"broker.id", std::to_string(ctx.broker.node_id), kTypeInt},
          {"broker.rack", ctx.broker.rack.value_or(""), kTypeString},
      };
      if (services) {
        settings.emplace_back("auto.create.topics.enable", services->settings.auto_create_topics ? "true" : "false",
                              kTypeBoolean);
        settings.emplace_back("num.partitions", std::to_string(services->settings.num_partitions), kTypeInt);
      }
      for (const auto& [name, value, type] : settings) {
        if (!wanted(res.configuration_keys, name)) continue;
        auto& c = out.configs.emplace_back();
        c.name = name;
        c.value = value;
        c.read_only = true;
        c.config_source = kSourceStatic;
        c.config_type = type;
      }
      if (services && services->controller && wanted(res.configuration_keys, kDrainKey)) {
        auto& c = out.configs.emplace_back();
        c.name = std::string(kDrainKey);
        const bool on = draining(services, ctx.broker.node_id);
        c.value = on ? "true" : "false";
        c.is_default = !on;
        c.config_source = on ? kSourceDynamicBroker : kSourceDefault;
        c.config_type = kTypeBoolean;
        if (req.include_documentation) {
          c.documentation = "true while this broker is being drained: the controller moves its partitions to other "
                            "brokers and assigns it none (set it with IncrementalAlterConfigs; ends at restart)";
        }
      }
    } else {
      out.error_code = code(Errc::invalid_request);
      out.error_message = "unsupported resource type " + std::to_string(res.resource_type);
    }
  }
  co_return resp;
}

asio::awaitable<proto::AlterConfigsResponse> handle_alter_configs(RequestContext& ctx,
                                                                  proto::AlterConfigsRequest& req) {
  proto::AlterConfigsResponse resp;
  Services* services = ctx.services;
  for (const auto& res : req.resources) {
    auto& out = resp.responses.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    if (res.resource_type == kResourceBroker) {
      refuse_broker_alter(out);
      continue;
    }
    if (res.resource_type != kResourceTopic || !services) {
      out.error_code = code(Errc::invalid_request);
      continue;
    }
    std::map<std::string, std::string> configs;
    std::optional<std::string> bad;
    for (const auto& c : res.configs) {
      if (!c.value) continue;
      if (auto e = cluster::validate_topic_config(c.name, *c.value)) bad = *e;
      configs[c.name] = *c.value;
    }
    if (!bad && !services->catalog.find(res.resource_name)) {
      out.error_code = code(Errc::unknown_topic_or_partition);
      continue;
    }
    co_await store_topic_configs(*services, res.resource_name, std::move(configs), bad, req.validate_only, out);
  }
  co_return resp;
}

asio::awaitable<proto::IncrementalAlterConfigsResponse> handle_incremental_alter_configs(
    RequestContext& ctx, proto::IncrementalAlterConfigsRequest& req) {
  proto::IncrementalAlterConfigsResponse resp;
  Services* services = ctx.services;
  for (const auto& res : req.resources) {
    auto& out = resp.responses.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = res.resource_name;
    if (res.resource_type == kResourceBroker) {
      co_await alter_broker_configs(ctx, res, req.validate_only, out);
      continue;
    }
    std::optional<cluster::TopicInfo> topic;
    if (res.resource_type == kResourceTopic && services) topic = services->catalog.find(res.resource_name);
    if (!topic) {
      out.error_code =
          res.resource_type == kResourceTopic ? code(Errc::unknown_topic_or_partition) : code(Errc::invalid_request);
      continue;
    }
    std::map<std::string, std::string> configs = topic->configs;
    std::optional<std::string> bad;
    for (const auto& c : res.configs) {
      if (c.config_operation == kOpSet) {
        if (!c.value) {
          bad = "SET of " + c.name + " needs a value";
        } else if (auto e = cluster::validate_topic_config(c.name, *c.value)) {
          bad = *e;
        } else {
          configs[c.name] = *c.value;
        }
      } else if (c.config_operation == kOpDelete) {
        if (!cluster::find_topic_config(c.name)) bad = "unknown topic config " + c.name;
        configs.erase(c.name);
      } else {
        bad = c.name + " is not a list config: APPEND and SUBTRACT do not apply";
      }
    }
    co_await store_topic_configs(*services, res.resource_name, std::move(configs), bad, req.validate_only, out);
  }
  co_return resp;
}

asio::awaitable<proto::CreatePartitionsResponse> handle_create_partitions(RequestContext& ctx,
                                                                          proto::CreatePartitionsRequest& req) {
  proto::CreatePartitionsResponse resp;
  Services* services = ctx.services;
  for (const auto& t : req.topics) {
    auto& out = resp.results.emplace_back();
    out.name = t.name;
    std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(t.name) : std::nullopt;
    if (!topic) {
      out.error_code = code(Errc::unknown_topic_or_partition);
      continue;
    }
    if (t.assignments && !t.assignments->empty()) {
      out.error_code = code(Errc::invalid_request);
      out.error_message = "manual replica assignment is not supported: the log is shared";
      continue;
    }
    if (t.count <= topic->partitions) {
      out.error_code = code(Errc::invalid_partitions);
      out.error_message =
          "topic " + t.name + " has " + std::to_string(topic->partitions) + " partitions; the new count must be larger";
      continue;
    }
    if (req.validate_only) continue;
    auto st = co_await services->catalog.set_partitions(t.name, t.count);
    if (!st) {
      out.error_code = catalog_error_code(st.error().code);
      out.error_message = st.error().message;
      continue;
    }
    log::info("kafka", "topic ", t.name, " now has ", t.count, " partitions");
  }
  co_return resp;
}

asio::awaitable<proto::DeleteRecordsResponse> handle_delete_records(RequestContext& ctx,
                                                                    proto::DeleteRecordsRequest& req) {
  proto::DeleteRecordsResponse resp;
  Services* services = ctx.services;
  for (const auto& t : req.topics) {
    auto& out = resp.topics.emplace_back();
    out.name = t.name;
    std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(t.name) : std::nullopt;
    for (const auto& p : t.partitions) {
      auto& r = out.partitions.emplace_back();
      r.partition_index = p.partition_index;
      r.low_watermark = -1;
      if (!topic || p.partition_index < 0 || p.partition_index >= topic->partitions) {
        r.error_code = code(Errc::unknown_topic_or_partition);
        continue;
      }
      const uint64_t stream = cluster::stream_id_of(topic->id, p.partition_index);
      const stream::StreamEnds ends = services->store.ends(stream);
      const int64_t target = p.offset == -1 ? ends.durable : p.offset;
      if (target < 0 || target > ends.durable) {
        r.error_code = code(Errc::offset_out_of_range);
        continue;
      }
      auto st = co_await services->store.trim(stream, target);
      if (!st) {
        r.error_code = code(Errc::kafka_storage_error);
        continue;
      }
      r.low_watermark = services->store.ends(stream).start;
    }
  }
  co_return resp;
}

asio::awaitable<proto::DescribeClusterResponse> handle_describe_cluster(RequestContext& ctx,
                                                                        proto::DescribeClusterRequest& req) {
  proto::DescribeClusterResponse resp;
  resp.endpoint_type = req.endpoint_type;
  resp.cluster_id = ctx.broker.cluster_id;
  if (ctx.services) {
    resp.controller_id = ctx.services->leadership.controller_id();
    for (const BrokerEndpoint& e : ctx.services->leadership.brokers()) {
      auto& b = resp.brokers.emplace_back();
      b.broker_id = e.node_id;
      b.host = e.host;
      b.port = e.port;
      b.rack = e.rack;
    }
    co_return resp;
  }
  resp.controller_id = ctx.broker.node_id;
  auto& b = resp.brokers.emplace_back();
  b.broker_id = ctx.broker.node_id;
  b.host = ctx.broker.advertised_host;
  b.port = ctx.broker.advertised_port;
  b.rack = ctx.broker.rack;
  co_return resp;
}

}  // namespace floe::kafka
