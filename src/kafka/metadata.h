#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/metadata.h"

namespace floe::kafka {

// Metadata v0-12: this broker, the cluster id, the controller (this broker in embedded mode) and the requested
// topics. Topics arrive with the topic catalog (CreateTopics, auto-creation); until then every named topic is
// reported unknown, so clients fail fast instead of waiting for a leader.
asio::awaitable<proto::MetadataResponse> handle_metadata(RequestContext& ctx, proto::MetadataRequest& req);

// Kafka's legal topic names: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
bool valid_topic_name(const std::string& name);

}  // namespace floe::kafka
