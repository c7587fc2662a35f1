// Who this broker is, as the Kafka protocol shows it to clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace floe::kafka {

struct BrokerIdentity {
  int32_t node_id = 1;
  std::string advertised_host = "127.0.0.1";  // what Metadata tells clients to connect to
  int32_t advertised_port = 9092;
  std::optional<std::string> rack;  // the broker's zone
  std::string cluster_id;
};

}  // namespace floe::kafka
