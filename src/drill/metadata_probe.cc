// Metadata straight from one named broker (admincli's blocking Kafka client), not through librdkafka: librdkafka
// sends a metadata request to any broker whose connection is up, a SIGSTOPped one included, and then waits out
// its timeout. The drill asks the brokers it knows are running, one after the other, each bounded.
#include "admincli/kafka_client.h"
#include "drill/load.h"
#include "protocol/msg/metadata.h"

namespace floe::drill {

Result<Leadership> probe_metadata(const std::vector<std::string>& addresses, const std::string& topic,
                                  std::chrono::milliseconds timeout) {
  std::string last = "no broker to ask";
  for (const auto& address : addresses) {
    auto where = admincli::parse_host_port(address);
    if (!where) {
      last = where.error().message;
      continue;
    }
    admincli::KafkaClient client;
    if (auto s = client.connect(*where, timeout); !s) {
      last = address + ": " + s.error().message;
      continue;
    }
    proto::MetadataRequest req;
    proto::MetadataRequest::MetadataRequestTopic rt;
    rt.name = topic;
    req.topics = std::vector<proto::MetadataRequest::MetadataRequestTopic>{rt};
    req.allow_auto_topic_creation = false;
    proto::MetadataResponse resp;
    if (auto v = client.call(req, resp, 1); !v) {
      last = address + ": " + v.error().message;
      continue;
    }
    Leadership l;
    for (const auto& b : resp.brokers) l.brokers.push_back(b.node_id);
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) l.leader_of[p.partition_index] = p.error_code ? -1 : p.leader_id;
    }
    return l;
  }
  return Error{std::make_error_code(std::errc::host_unreachable), "metadata: " + last};
}

}  // namespace floe::drill
