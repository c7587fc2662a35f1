#include "kafka/data_metrics.h"

#include "protocol/record/batch_view.h"

namespace floe::kafka {

DataMetrics::DataMetrics(metrics::Registry& r)
    : bytes_in_(
          r.counter("floe_topic_bytes_in_total", "Record batch bytes appended by producers, by topic", {"topic"})),
      records_in_(r.counter("floe_topic_records_in_total", "Records appended by producers, by topic", {"topic"})),
      bytes_out_(r.counter("floe_topic_bytes_out_total", "Record batch bytes sent to consumers, by topic", {"topic"})),
      records_out_(r.counter("floe_topic_records_out_total", "Records sent to consumers, by topic", {"topic"})) {}

void DataMetrics::produced(std::string_view topic, uint64_t bytes, uint64_t records) {
  bytes_in_.with({topic}).inc(bytes);
  records_in_.with({topic}).inc(records);
}

void DataMetrics::fetched(std::string_view topic, proto::ByteSpan batches) {
  if (batches.empty()) return;
  bytes_out_.with({topic}).inc(batches.size());
  records_out_.with({topic}).inc(record_count(batches));
}

uint64_t record_count(proto::ByteSpan batches) {
  uint64_t n = 0;
  record::BatchSplitter split(batches, record::BatchSplitter::Tail::allow_partial);
  for (record::BatchView b; split.next(b);) n += static_cast<uint64_t>(b.header().last_offset_delta) + 1;
  return n;
}

}  // namespace floe::kafka
