// The group coordinator's log on the stream engine: partition p of __consumer_offsets is an ordinary partition of
// the shared log (DESIGN §8), so coordinator failover is partition failover. Each append is one record batch.
#pragma once

#include <functional>
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
  // The leader epoch stamped on partition p's appends: fixed (embedded mode), or the partition's current one.
  using EpochOf = std::function<int32_t(int32_t partition)>;
  StreamGroupLog(const cluster::TopicCatalog& catalog, stream::StreamStore& store, int32_t leader_epoch)
      : catalog_(catalog), store_(store), epoch_of_([leader_epoch](int32_t) { return leader_epoch; }) {}
  StreamGroupLog(const cluster::TopicCatalog& catalog, stream::StreamStore& store, EpochOf epoch_of)
      : catalog_(catalog), store_(store), epoch_of_(std::move(epoch_of)) {}

  asio::awaitable<Result<int64_t>> append(int32_t partition, std::vector<group::GroupRecord> records) override;
  asio::awaitable<Result<std::vector<group::StoredRecord>>> read(int32_t partition, int64_t from,
                                                                 size_t max_records) override;
  asio::awaitable<Status> trim(int32_t partition, int64_t offset) override;

 private:
  // The stream of partition `p` of __consumer_offsets, or an error when the topic or partition is missing.
  Result<uint64_t> stream_of(int32_t partition) const;

  const cluster::TopicCatalog& catalog_;
  stream::StreamStore& store_;
  EpochOf epoch_of_;
};

}  // namespace floe::kafka
