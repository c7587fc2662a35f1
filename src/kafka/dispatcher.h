// The Kafka request dispatcher: the net::RequestHandler that turns request frames into API handler calls.
//
// For every frame: parse the header (request header v1 or v2 by the API's flexible versions), then
//   - a header that does not parse, an API key Floe does not know, or an API/version it does not implement:
//     one log line and the connection is closed (Kafka's answer: the client cannot read a response to a request
//     the broker cannot parse);
//   - ApiVersions of a version newer than Floe's: a v0 response with UNSUPPORTED_VERSION and the supported
//     ranges, so the client can retry with a version both sides speak;
//   - otherwise the API's handler; a body that does not decode closes the connection with one log line.
#pragma once

#include "kafka/broker_identity.h"
#include "net/request_handler.h"

namespace floe::kafka {

class Dispatcher final : public net::RequestHandler {
 public:
  explicit Dispatcher(BrokerIdentity identity) : identity_(std::move(identity)) {}

  asio::awaitable<net::Reply> handle(net::ConnectionContext& conn, std::vector<uint8_t> frame) override;

  const BrokerIdentity& identity() const { return identity_; }
  // Before serving starts only (the port may be known only once the listener is bound).
  void set_advertised_address(std::string host, int32_t port) {
    identity_.advertised_host = std::move(host);
    identity_.advertised_port = port;
  }

 private:
  BrokerIdentity identity_;
};

}  // namespace floe::kafka
