#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/alter_configs.h"
#include "protocol/msg/create_partitions.h"
#include "protocol/msg/delete_records.h"
#include "protocol/msg/describe_cluster.h"
#include "protocol/msg/describe_configs.h"
#include "protocol/msg/incremental_alter_configs.h"

namespace floe::kafka {

// DescribeConfigs v0-4: topic configs (every key of cluster/topic_config.h, overrides as DYNAMIC_TOPIC_CONFIG, the
// rest as DEFAULT_CONFIG) and the broker's static settings (read-only).
asio::awaitable<proto::DescribeConfigsResponse> handle_describe_configs(RequestContext& ctx,
                                                                        proto::DescribeConfigsRequest& req);
// AlterConfigs v0-2 (replaces a topic's overrides) and IncrementalAlterConfigs v0-1 (SET, DELETE; APPEND and
// SUBTRACT only for list configs, which Floe's topics do not have). Broker configs are static: set them at start.
asio::awaitable<proto::AlterConfigsResponse> handle_alter_configs(RequestContext& ctx, proto::AlterConfigsRequest& req);
asio::awaitable<proto::IncrementalAlterConfigsResponse> handle_incremental_alter_configs(
    RequestContext& ctx, proto::IncrementalAlterConfigsRequest& req);
// CreatePartitions v0-3: grows a topic (manual assignments refused: the log is shared).
asio::awaitable<proto::CreatePartitionsResponse> handle_create_partitions(RequestContext& ctx,
                                                                          proto::CreatePartitionsRequest& req);
// DeleteRecords v0-2: moves the log start offset forward (-1: to the high watermark), committed before answering.
asio::awaitable<proto::DeleteRecordsResponse> handle_delete_records(RequestContext& ctx,
                                                                    proto::DeleteRecordsRequest& req);
// DescribeCluster v0-1: this broker, the cluster id and the controller.
asio::awaitable<proto::DescribeClusterResponse> handle_describe_cluster(RequestContext& ctx,
                                                                        proto::DescribeClusterRequest& req);

}  // namespace floe::kafka
