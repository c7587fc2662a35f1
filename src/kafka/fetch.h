#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/fetch.h"

namespace floe::kafka {

// Fetch v4-17: whole batches as stored, from the log cache or objects, never past the high watermark; min_bytes
// and max_wait_ms long-poll, woken by appends; max_bytes and partition_max_bytes (at least one batch in the first
// non-empty partition). Incremental fetch sessions (KIP-227) as in fetch_sessions.h. read_committed sees
// the same data (no transactions yet: last stable offset = high watermark).
asio::awaitable<proto::FetchResponse> handle_fetch(RequestContext& ctx, proto::FetchRequest& req);

}  // namespace floe::kafka
