// The group coordinator's log on the stream engine: partition p of __consumer_offsets is an ordinary partition of
// the shared log (DESIGN §8), so coordinator failover is partition failover. Each append is one record batch.
#pragma once

#include <string>

#include "group/group_log.h"

namespace floe::cluster {
class TopicCatalog;
}
namespace floe::stream {
class StreamStore;
}

namespace floe::kafka {

inline constexpr const char* kOffsetsTopic = "__consumer_offsets";

class StreamGroupLog final : public group::GroupLog {
 public:
  StreamGroupLog(const cluster::TopicCatalog& catalog, stream::StreamStore& store, int32_t leader_epoch)
      : catalog_(catalog), store_(store), leader_epoch_(leader_epoch) {}

  asio::awaitable<Result<int64_t>> append(int32_t partition, std::vector<group::GroupRecord> records) override;
  asio::awaitable<Result<std::vector<group::StoredRecord>>> read(int32_t partition, int64_t from,
                                                                 size_t max_records) override;
  asio::awaitable<Status> trim(int32_t partition, int64_t offset) override;

 private:
  // The stream of partition `p` of __consumer_offsets, or an error when the topic or partition is missing.
  Result<uint64_t> stream_of(int32_t partition) const;

  const cluster::TopicCatalog& catalog_;
  stream::StreamStore& store_;
  int32_t leader_epoch_;
};

}  // namespace floe::kafka
