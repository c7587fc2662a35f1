#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/create_topics.h"
#include "protocol/msg/delete_topics.h"

namespace floe::kafka {

// CreateTopics v0-7: name and config validation (errors name the key), partitions (-1: num.partitions), any
// replication factor >= 1 or -1 is accepted (one shared log: replicas = ISR = [leader], documented), manual
// replica assignments are refused, validate_only checks without creating. v5+ answers with the effective configs.
asio::awaitable<proto::CreateTopicsResponse> handle_create_topics(RequestContext& ctx, proto::CreateTopicsRequest& req);

// DeleteTopics v0-6 by name (and v6 by id). The topic disappears at once; its data in object storage is deleted
// later by retention of the unreferenced streams.
asio::awaitable<proto::DeleteTopicsResponse> handle_delete_topics(RequestContext& ctx, proto::DeleteTopicsRequest& req);

}  // namespace floe::kafka
