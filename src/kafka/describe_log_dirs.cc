#include "kafka/describe_log_dirs.h"

#include <algorithm>

#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/services.h"
#include "protocol/record/batch_view.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

// Bytes of the stream's log in [log start, high watermark): see the header for how it is measured.
asio::awaitable<int64_t> partition_bytes(stream::StreamStore& store, uint64_t stream, size_t sample_bytes) {
  const stream::StreamEnds ends = store.ends(stream);
  if (ends.durable <= ends.start) co_return 0;
  auto sample = co_await store.read(stream, ends.start, sample_bytes);
  if (!sample) co_return -1;  // unreadable now (e.g. the object store is down): unknown, as Kafka's -1
  int64_t first = -1;
  int64_t end = -1;  // one past the last offset of the sample
  size_t bytes = 0;
  record::BatchSplitter split(proto::ByteSpan(sample->batches), record::BatchSplitter::Tail::allow_partial);
  record::BatchView batch;
  while (split.next(batch)) {
    if (first < 0) first = batch.header().base_offset;
    end = batch.header().base_offset + batch.header().last_offset_delta + 1;
    bytes += batch.bytes().size();
  }
  if (first < 0 || end <= first) co_return 0;
  if (end >= sample->high_watermark) co_return static_cast<int64_t>(bytes);  // the whole log was in the sample
  const double per_offset = static_cast<double>(bytes) / static_cast<double>(end - first);
  co_return static_cast<int64_t>(per_offset * static_cast<double>(sample->high_watermark - sample->log_start));
}

}  // namespace

asio::awaitable<proto::DescribeLogDirsResponse> handle_describe_log_dirs(RequestContext& ctx,
                                                                        proto::DescribeLogDirsRequest& req) {
  proto::DescribeLogDirsResponse resp;
  if (!ctx.services) {
    resp.error_code = code(Errc::unknown_server_error);
    co_return resp;
  }
  Services& services = *ctx.services;
  auto& dir = resp.results.emplace_back();
  dir.log_dir = services.settings.log_dir;
  dir.total_bytes = -1;
  dir.usable_bytes = -1;

  // What to describe: (topic, its partitions).
  std::vector<std::pair<cluster::TopicInfo, std::vector<int32_t>>> wanted;
  if (!req.topics) {
    for (auto& topic : services.catalog.list()) {
      std::vector<int32_t> all(static_cast<size_t>(std::max(topic.partitions, 0)));
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
      wanted.emplace_back(std::move(topic), std::move(all));
    }
  } else {
    for (const auto& t : *req.topics) {
      auto topic = services.catalog.find(t.topic);
      if (!topic) continue;
      std::vector<int32_t> parts;
      for (int32_t p : t.partitions) {
        if (p >= 0 && p < topic->partitions && std::find(parts.begin(), parts.end(), p) == parts.end()) {
          parts.push_back(p);
        }
      }
      wanted.emplace_back(std::move(*topic), std::move(parts));
    }
  }
  std::sort(wanted.begin(), wanted.end(), [](const auto& a, const auto& b) { return a.first.name < b.first.name; });
  size_t partitions = 0;
  for (const auto& w : wanted) partitions += w.second.size();
  const size_t sample_bytes =
      std::clamp(kLogDirSampleBudget / std::max<size_t>(partitions, 1), kLogDirMinSampleBytes, kLogDirSampleBytes);

  for (const auto& [topic, parts] : wanted) {
    if (parts.empty()) continue;
    auto& out = dir.topics.emplace_back();
    out.name = topic.name;
    for (int32_t p : parts) {
      auto& part = out.partitions.emplace_back();
      part.partition_index = p;
      part.partition_size = co_await partition_bytes(services.store, cluster::stream_id_of(topic.id, p), sample_bytes);
      part.offset_lag = 0;
      part.is_future_key = false;
    }
  }
  co_return resp;
}

}  // namespace floe::kafka
