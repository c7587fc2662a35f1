// Per-topic traffic counters (issue 8): what producers wrote and consumers read, in bytes of record batches and in
// records. Series per topic are bounded by the families' cap (metrics/metrics.h).
//   floe_topic_bytes_in_total{topic}   floe_topic_records_in_total{topic}    (durable appends from Produce)
//   floe_topic_bytes_out_total{topic}  floe_topic_records_out_total{topic}   (record batches in Fetch responses)
#pragma once

#include <string_view>

#include "metrics/metrics.h"
#include "protocol/wire.h"

namespace floe::kafka {

class DataMetrics {
 public:
  explicit DataMetrics(metrics::Registry& registry);

  void produced(std::string_view topic, uint64_t bytes, uint64_t records);
  // Counts the records of `batches` from their headers (no decompression).
  void fetched(std::string_view topic, proto::ByteSpan batches);

 private:
  metrics::Family<metrics::Counter>& bytes_in_;
  metrics::Family<metrics::Counter>& records_in_;
  metrics::Family<metrics::Counter>& bytes_out_;
  metrics::Family<metrics::Counter>& records_out_;
};

// Records in whole batches (header counts); a partial trailing batch is not counted.
uint64_t record_count(proto::ByteSpan batches);

}  // namespace floe::kafka
