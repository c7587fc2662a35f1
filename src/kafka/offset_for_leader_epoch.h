#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/offset_for_leader_epoch.h"

namespace floe::kafka {

// OffsetForLeaderEpoch v0-4: for each partition, the largest leader epoch at or below the one asked and the
// offset where it ended (the next epoch's first offset, or the high watermark for the current epoch); UNDEFINED
// (-1, -1) below the oldest known epoch. v2+ checks current_leader_epoch (FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH).
asio::awaitable<proto::OffsetForLeaderEpochResponse> handle_offset_for_leader_epoch(
    RequestContext& ctx, proto::OffsetForLeaderEpochRequest& req);

}  // namespace floe::kafka
