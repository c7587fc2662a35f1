#include "kafka/list_offsets.h"

#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/services.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

}  // namespace

asio::awaitable<proto::ListOffsetsResponse> handle_list_offsets(RequestContext& ctx, proto::ListOffsetsRequest& req) {
  proto::ListOffsetsResponse resp;
  Services* services = ctx.services;
  for (const auto& lt : req.topics) {
    auto& topic_resp = resp.topics.emplace_back();
    topic_resp.name = lt.name;
    std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(lt.name) : std::nullopt;
    for (const auto& lp : lt.partitions) {
      auto& p = topic_resp.partitions.emplace_back();
      p.partition_index = lp.partition_index;
      if (!topic || lp.partition_index < 0 || lp.partition_index >= topic->partitions) {
        p.error_code = code(Errc::unknown_topic_or_partition);
        continue;
      }
      const PartitionLeader leader = services->leadership.leader(*topic, lp.partition_index);
      const int32_t epoch = leader.leader_epoch;
      if (int16_t e = serve_error(leader, lp.current_leader_epoch); e != 0) {
        p.error_code = e;
        continue;
      }
      const uint64_t stream = cluster::stream_id_of(topic->id, lp.partition_index);
      const stream::StreamEnds ends = services->store.ends(stream);
      p.leader_epoch = epoch;
      if (lp.timestamp == kLatest) {
        p.offset = ends.durable;
      } else if (lp.timestamp == kEarliest) {
        p.offset = ends.start;
      } else if (lp.timestamp == stream::StreamStore::kMaxTimestamp || lp.timestamp >= 0) {
        auto hit = co_await services->store.find_timestamp_for_client(stream, lp.timestamp);
        if (!hit) {
          // image_lagging (DESIGN §7, as in Fetch): REPLICA_NOT_AVAILABLE. The Java consumer (OffsetFetcher) and
          // admin client retry it after a metadata refresh, librdkafka refreshes metadata and queries the offset
          // again after a backoff; every ListOffsets version has it (OFFSET_NOT_AVAILABLE needs v5+).
          p.error_code = hit.error().code == stream::Errc::image_lagging ? code(Errc::replica_not_available)
                                                                          : code(Errc::kafka_storage_error);
          continue;
        }
        if (*hit) {
          p.offset = (*hit)->offset;
          p.timestamp = (*hit)->timestamp;
        } else {
          p.offset = -1;  // no record at or after that time (Kafka answers -1, timestamp -1)
        }
      } else {
        p.error_code = code(Errc::invalid_request);
        continue;
      }
      if (ctx.version() == 0) {
        // v0: up to max_num_offsets offsets, newest first; Floe has no segment boundaries, so one offset.
        if (lp.max_num_offsets > 0 && p.offset >= 0) p.old_style_offsets = {p.offset};
      }
    }
  }
  co_return resp;
}

}  // namespace floe::kafka
