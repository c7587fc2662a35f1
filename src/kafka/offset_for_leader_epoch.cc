#include "kafka/offset_for_leader_epoch.h"

#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/services.h"
#include "stream/stream_store.h"

namespace floe::kafka {
asio::awaitable<proto::OffsetForLeaderEpochResponse> handle_offset_for_leader_epoch(
    RequestContext& ctx, proto::OffsetForLeaderEpochRequest& req) {
  proto::OffsetForLeaderEpochResponse resp;
  Services* services = ctx.services;
  for (const auto& t : req.topics) {
    auto& out = resp.topics.emplace_back();
    out.topic = t.topic;
    std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(t.topic) : std::nullopt;
    for (const auto& p : t.partitions) {
      auto& r = out.partitions.emplace_back();
      r.partition = p.partition;
      if (!topic || p.partition < 0 || p.partition >= topic->partitions) {
        r.error_code = code(Errc::unknown_topic_or_partition);
        continue;
      }
      const PartitionLeader leader = services->leadership.leader(*topic, p.partition);
      if (int16_t e = serve_error(leader, p.current_leader_epoch); e != 0) {
        r.error_code = e;
        continue;
      }
      auto [epoch, end] =
          services->store.epoch_end_offset(cluster::stream_id_of(topic->id, p.partition), p.leader_epoch);
      r.leader_epoch = epoch;
      r.end_offset = end;
    }
  }
  co_return resp;
}

}  // namespace floe::kafka
