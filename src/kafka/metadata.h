#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/metadata.h"

namespace floe::kafka {

// Metadata v0-12: this broker, the cluster id, the controller (this broker in embedded mode) and the requested
// topics from the catalog, every partition led by this broker with replicas = ISR = [this broker]. Named topics
// that do not exist are created when auto.create.topics.enable is on and the client allows it (v4+), else
// reported unknown (as every topic is without services, in dispatcher unit tests).
asio::awaitable<proto::MetadataResponse> handle_metadata(RequestContext& ctx, proto::MetadataRequest& req);

// Kafka's legal topic names: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
bool valid_topic_name(const std::string& name);

}  // namespace floe::kafka
