#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/list_offsets.h"

namespace floe::kafka {

// ListOffsets v0-9: -2 earliest (log start), -1 latest (high watermark; also the last stable offset), -3 the offset
// of the largest timestamp, else the first offset whose timestamp is at or after the one asked (from the ranges'
// max timestamps, then one block). v0 answers in its old style (an offsets array).
asio::awaitable<proto::ListOffsetsResponse> handle_list_offsets(RequestContext& ctx, proto::ListOffsetsRequest& req);

}  // namespace floe::kafka
