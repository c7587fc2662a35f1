// What an API handler gets for one request: the parsed header, the body bytes, the connection and the broker.
#pragma once

#include <cstdint>
#include <vector>

#include "kafka/broker_identity.h"
#include "protocol/request.h"

namespace floe::net {
class ConnectionContext;
}

namespace floe::kafka {

struct Services;

struct RequestContext {
  const proto::RequestFrame& frame;
  net::ConnectionContext& conn;
  const BrokerIdentity& broker;
  Services* services = nullptr;  // null in dispatcher unit tests (see services.h)
  // The frame's own buffer (frame's views point into it), or null. A handler may take it (std::move) to keep
  // bytes of the request without a copy (Produce: the batches become the log's entry), once nothing it still
  // reads points into what it changes; the dispatcher does not use it after the handler ran.
  std::vector<uint8_t>* frame_buffer = nullptr;

  int16_t version() const { return frame.header.request_api_version; }
  int32_t correlation_id() const { return frame.header.correlation_id; }
};

}  // namespace floe::kafka
