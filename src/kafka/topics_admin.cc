#include "kafka/topics_admin.h"

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "cluster/topic_config.h"
#include "kafka/catalog_errors.h"
#include "kafka/errors.h"
#include "kafka/metadata.h"
#include "kafka/services.h"

namespace floe::kafka {
namespace {

constexpr int8_t kConfigSourceDefault = 5;  // DEFAULT_CONFIG
constexpr int8_t kConfigSourceTopic = 1;    // DYNAMIC_TOPIC_CONFIG


}  // namespace

asio::awaitable<proto::CreateTopicsResponse> handle_create_topics(RequestContext& ctx,
                                                                  proto::CreateTopicsRequest& req) {
  proto::CreateTopicsResponse resp;
  Services* services = ctx.services;
  for (const auto& ct : req.topics) {
    auto& r = resp.topics.emplace_back();
    r.name = ct.name;
    auto fail = [&](int16_t err, std::string message) {
      r.error_code = err;
      r.error_message = std::move(message);
    };
    if (!services) {
      fail(code(Errc::unknown_server_error), "no topic catalog");
      continue;
    }
    if (!valid_topic_name(ct.name)) {
      fail(code(Errc::invalid_topic_exception), "topic name '" + ct.name + "' is not valid (1-249 of [a-zA-Z0-9._-])");
      continue;
    }
    if (!ct.assignments.empty()) {
      fail(code(Errc::invalid_request), "manual replica assignment is not supported: the log is shared");
      continue;
    }
    if (ct.replication_factor == 0 || ct.replication_factor < -1) {
      fail(code(Errc::invalid_replication_factor), "replication factor must be -1 or at least 1");
      continue;
    }
    const int32_t partitions = ct.num_partitions == -1 ? services->settings.num_partitions : ct.num_partitions;
    std::map<std::string, std::string> configs;
    std::optional<std::string> bad;
    for (const auto& c : ct.configs) {
      if (!c.value) continue;  // null: the default
      if (auto e = cluster::validate_topic_config(c.name, *c.value)) bad = *e;
      configs[c.name] = *c.value;
    }
    if (bad) {
      fail(code(Errc::invalid_config), *bad);
      continue;
    }
    if (partitions <= 0) {
      fail(code(Errc::invalid_partitions), "number of partitions must be at least 1");
      continue;
    }
    if (req.validate_only) {
      if (services->catalog.find(ct.name))
        fail(code(Errc::topic_already_exists), "topic " + ct.name + " already exists");
      r.num_partitions = partitions;
      r.replication_factor = 1;
      continue;
    }
    auto created = co_await services->catalog.create(ct.name, partitions, configs);
    if (!created) {
      fail(catalog_error_code(created.error().code), created.error().message);
      continue;
    }
    log::info("kafka", "created topic ", ct.name, " with ", partitions, " partition(s)");
    r.topic_id = created->id;
    r.num_partitions = partitions;
    r.replication_factor = 1;
    if (ctx.version() >= 5) {
      auto& list = r.configs.emplace();
      for (const auto& key : cluster::topic_config_keys()) {
        auto& c = list.emplace_back();
        c.name = std::string(key.name);
        auto it = configs.find(c.name);
        c.value = it != configs.end() ? it->second : std::string(key.default_value);
        c.config_source = it != configs.end() ? kConfigSourceTopic : kConfigSourceDefault;
      }
    }
  }
  co_return resp;
}

asio::awaitable<proto::DeleteTopicsResponse> handle_delete_topics(RequestContext& ctx,
                                                                  proto::DeleteTopicsRequest& req) {
  proto::DeleteTopicsResponse resp;
  Services* services = ctx.services;
  // v0-5 name topics in topic_names; v6 in topics (by name or id).
  std::vector<std::pair<std::optional<std::string>, proto::Uuid>> wanted;
  for (const auto& n : req.topic_names) wanted.emplace_back(n, proto::Uuid{});
  for (const auto& t : req.topics) wanted.emplace_back(t.name, t.topic_id);
  for (const auto& [name, id] : wanted) {
    auto& r = resp.responses.emplace_back();
    r.name = name;
    r.topic_id = id;
    std::optional<cluster::TopicInfo> topic;
    if (services) topic = name ? services->catalog.find(*name) : services->catalog.find(id);
    if (!topic) {
      r.error_code = name ? code(Errc::unknown_topic_or_partition) : code(Errc::unknown_topic_id);
      continue;
    }
    r.name = topic->name;
    r.topic_id = topic->id;
    auto st = co_await services->catalog.remove(topic->name);
    if (!st) {
      r.error_code = catalog_error_code(st.error().code);
      r.error_message = st.error().message;
      continue;
    }
    log::info("kafka", "deleted topic ", topic->name);
  }
  co_return resp;
}

}  // namespace floe::kafka
