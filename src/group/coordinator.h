// GroupCoordinator: the classic (pre-KIP-848) consumer-group coordinator for the __consumer_offsets partitions this
// broker leads. Group membership, rebalances, static membership, offsets; state is stored through a GroupLog and
// rebuilt from it when a partition is loaded. See README.md for the protocol rules it follows.
//
// Threading: every public coroutine may be awaited from any executor; the work runs on the coordinator's own strand
// and the result comes back to the caller's executor. Group state is touched only on that strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>  // before asio/awaitable.hpp
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "base/result.h"
#include "group/group_log.h"
#include "group/records.h"
#include "protocol/msg/delete_groups.h"
#include "protocol/msg/describe_groups.h"
#include "protocol/msg/heartbeat.h"
#include "protocol/msg/join_group.h"
#include "protocol/msg/leave_group.h"
#include "protocol/msg/list_groups.h"
#include "protocol/msg/offset_commit.h"
#include "protocol/msg/offset_delete.h"
#include "protocol/msg/offset_fetch.h"
#include "protocol/msg/sync_group.h"

namespace floe::group {

struct GroupConfig {
  int32_t offsets_partitions = 50;                 // offsets.topic.num.partitions
  int32_t min_session_timeout_ms = 6000;           // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;        // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;       // group.initial.rebalance.delay.ms
  int32_t max_group_size = 1000;                   // group.max.size (members + members awaiting their id)
  size_t max_groups = 100000;                      // groups held by this coordinator, all partitions together
  size_t max_offsets_per_group = 100000;           // committed partitions per group
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;  // offsets.retention.minutes
  int32_t offset_metadata_max_bytes = 4096;        // offset.metadata.max.bytes
  int64_t retention_check_interval_ms = 600000;    // offsets.retention.check.interval.ms
  int64_t snapshot_every_records = 1000;           // appended records between snapshots of a partition
  size_t load_batch_records = 1000;                // records per GroupLog::read while loading
  std::chrono::milliseconds tick_interval{100};    // timer resolution; 0: no background ticker (tests call tick())
  std::function<int64_t()> clock;                  // milliseconds; empty: the system clock
};

// Who sent a request (from the request header and the connection).
struct ClientInfo {
  std::string client_id;
  std::string client_host;  // as Kafka shows it: "/127.0.0.1"
};

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
const char* state_name(GroupState s);  // "Empty", "PreparingRebalance", ... as Kafka names them

class GroupCoordinator {
 public:
  GroupCoordinator(asio::any_io_executor executor, GroupLog& log, GroupConfig config);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Starts the background ticker (when config.tick_interval > 0).
  void start();
  // Answers every waiting request (COORDINATOR_NOT_AVAILABLE), stops the ticker and waits (bounded by `timeout`) for
  // appends and loads in flight. After it, no operation of this object is pending.
  asio::awaitable<void> stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Partition leadership. Load reads the partition from its latest snapshot; meanwhile requests for its groups get
  // COORDINATOR_LOAD_IN_PROGRESS. Unload answers the partition's waiting requests NOT_COORDINATOR and drops its
  // groups.
  asio::awaitable<Status> load_partition(int32_t partition);
  asio::awaitable<void> unload_partition(int32_t partition);
  int32_t partition_for(const std::string& group_id) const;

  // Runs due timers (session expiry, rebalance and initial delays, sync timeouts, offset retention, snapshots) at
  // the clock's current time. The ticker calls it; tests with a fake clock call it directly.
  asio::awaitable<void> tick();

  // The Kafka APIs, every version of each (request struct decoded at `version`, response to be encoded at it).
  asio::awaitable<proto::JoinGroupResponse> join_group(ClientInfo client, int16_t version, proto::JoinGroupRequest req);
  asio::awaitable<proto::SyncGroupResponse> sync_group(int16_t version, proto::SyncGroupRequest req);
  asio::awaitable<proto::HeartbeatResponse> heartbeat(int16_t version, proto::HeartbeatRequest req);
  asio::awaitable<proto::LeaveGroupResponse> leave_group(int16_t version, proto::LeaveGroupRequest req);
  asio::awaitable<proto::OffsetCommitResponse> offset_commit(int16_t version, proto::OffsetCommitRequest req);
  asio::awaitable<proto::OffsetFetchResponse> offset_fetch(int16_t version, proto::OffsetFetchRequest req);
  asio::awaitable<proto::ListGroupsResponse> list_groups(int16_t version, proto::ListGroupsRequest req);
  asio::awaitable<proto::DescribeGroupsResponse> describe_groups(int16_t version, proto::DescribeGroupsRequest req);
  asio::awaitable<proto::DeleteGroupsResponse> delete_groups(int16_t version, proto::DeleteGroupsRequest req);
  asio::awaitable<proto::OffsetDeleteResponse> offset_delete(int16_t version, proto::OffsetDeleteRequest req);

  // Inspection (tests, admin): the durable state of a loaded partition as the log would rebuild it, and the
  // in-memory state of a group.
  struct GroupView {
    GroupState state = GroupState::dead;
    int32_t generation = 0;
    std::string protocol_type;
    std::optional<std::string> protocol;
    std::optional<std::string> leader;
    std::vector<std::string> members;  // ids, in join order
    size_t pending_members = 0;
  };
  asio::awaitable<std::optional<DurableState>> durable_state(int32_t partition);
  asio::awaitable<std::optional<GroupView>> describe(std::string group_id);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace floe::group
