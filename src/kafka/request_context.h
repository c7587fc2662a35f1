// What an API handler gets for one request: the parsed header, the body bytes, the connection and the broker.
#pragma once

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

  int16_t version() const { return frame.header.request_api_version; }
  int32_t correlation_id() const { return frame.header.correlation_id; }
};

}  // namespace floe::kafka
