#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/init_producer_id.h"

namespace floe::kafka {

// InitProducerId v0-5 for idempotent producers: a fresh producer id (from the cluster-wide counter, in blocks) with
// epoch 0. Transactional ids are refused (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) until transactions exist.
asio::awaitable<proto::InitProducerIdResponse> handle_init_producer_id(RequestContext& ctx,
                                                                       proto::InitProducerIdRequest& req);

}  // namespace floe::kafka
