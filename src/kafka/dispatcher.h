// The Kafka request dispatcher: the net::RequestHandler that turns request frames into API handler calls.
//
// For every frame: parse the header (request header v1 or v2 by the API's flexible versions), then
//   - a header that does not parse, an API key Floe does not know, or an API/version it does not implement:
//     one log line and the connection is closed (Kafka's answer: the client cannot read a response to a request
//     the broker cannot parse);
//   - ApiVersions of a version newer than Floe's: a v0 response with UNSUPPORTED_VERSION and the supported
//     ranges, so the client can retry with a version both sides speak;
//   - otherwise the API's handler; a body that does not decode closes the connection with one log line.
//
// Metrics (with a registry): floe_kafka_requests_total{api,version}, floe_kafka_request_duration_seconds{api}
// (dispatch to response ready), floe_kafka_request_bytes_total{api}, floe_kafka_response_bytes_total{api},
// floe_kafka_requests_in_flight, floe_kafka_request_errors_total{api,error} where error is a Kafka error name for
// an error answer (UNSUPPORTED_VERSION) or closed_{malformed_header,unknown_api,unsupported_version,
// malformed_request,handler_failed} when the connection is closed (api "unknown" when no API was parsed).
// The hot path increments series resolved once per API and version (lock-free); only a version outside the
// protocol's known range goes through the family lookup (bounded by the family's series cap).
#pragma once

#include <memory>

#include "kafka/broker_identity.h"
#include "net/request_handler.h"

namespace floe::metrics {
class Registry;
}

namespace floe::kafka {

struct Services;

class Dispatcher final : public net::RequestHandler {
 public:
  // `registry` (optional) must outlive the dispatcher.
  explicit Dispatcher(BrokerIdentity identity, metrics::Registry* registry = nullptr);
  ~Dispatcher() override;

  asio::awaitable<net::Reply> handle(net::ConnectionContext& conn, std::vector<uint8_t> frame) override;

  const BrokerIdentity& identity() const { return identity_; }
  // The broker's topics and logs (services.h); before serving starts only. Without them only the APIs that need
  // none answer (unit tests).
  void set_services(Services* services) { services_ = services; }
  // Before serving starts only (the port may be known only once the listener is bound).
  void set_advertised_address(std::string host, int32_t port) {
    identity_.advertised_host = std::move(host);
    identity_.advertised_port = port;
  }

 private:
  class Metrics;
  BrokerIdentity identity_;
  Services* services_ = nullptr;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace floe::kafka
