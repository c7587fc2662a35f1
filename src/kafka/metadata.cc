#include "kafka/metadata.h"

#include <cstdint>

#include "kafka/errors.h"

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

asio::awaitable<proto::MetadataResponse> handle_metadata(RequestContext& ctx, proto::MetadataRequest& req) {
  const BrokerIdentity& self = ctx.broker;
  proto::MetadataResponse resp;
  auto& broker = resp.brokers.emplace_back();
  broker.node_id = self.node_id;
  broker.host = self.advertised_host;
  broker.port = self.advertised_port;
  broker.rack = self.rack;
  resp.cluster_id = self.cluster_id;
  resp.controller_id = self.node_id;

  // v0: an empty list means every topic; v1+: null means every topic and an empty list none.
  const bool all_topics = !req.topics || (ctx.version() == 0 && req.topics->empty());
  if (!all_topics) {
    for (const auto& wanted : *req.topics) {
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
  }
  co_return resp;
}

}  // namespace floe::kafka
