#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/api_versions.h"

namespace floe::kafka {

// ApiVersions v0-4: the APIs and versions this broker implements (from implemented_apis()).
asio::awaitable<proto::ApiVersionsResponse> handle_api_versions(RequestContext& ctx, proto::ApiVersionsRequest& req);

// The answer to an ApiVersions request of a version newer than Floe knows: a v0 body with UNSUPPORTED_VERSION and
// the supported ranges, so the client retries with a version both sides speak.
proto::Bytes unsupported_api_versions_frame(int32_t correlation_id);

}  // namespace floe::kafka
