#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/fetch.h"

namespace floe::kafka {

// Fetch v4-17: whole batches as stored, from the log cache or objects, never past the high watermark; min_bytes
// and max_wait_ms long-poll, woken by appends; max_bytes and partition_max_bytes (at least one batch in the first
// non-empty partition). Fetch sessions are not kept: every response has session id 0, which tells clients to keep
// sending full fetch requests (a request naming a session gets FETCH_SESSION_ID_NOT_FOUND). read_committed sees
// the same data (no transactions yet: last stable offset = high watermark).
asio::awaitable<proto::FetchResponse> handle_fetch(RequestContext& ctx, proto::FetchRequest& req);

}  // namespace floe::kafka
