// The table of implemented APIs. Adding an API: write its handler, add one line here with the versions it serves.
#include <algorithm>
#include <array>

#include "kafka/api_handler.h"
#include "kafka/api_versions.h"
#include "kafka/configs_admin.h"
#include "kafka/describe_log_dirs.h"
#include "kafka/fetch.h"
#include "kafka/group_wiring.h"
#include "net/request_handler.h"
#include "group/kafka_api.h"
#include "kafka/init_producer_id.h"
#include "kafka/list_offsets.h"
#include "kafka/metadata.h"
#include "kafka/offset_for_leader_epoch.h"
#include "kafka/produce.h"
#include "kafka/reassignments.h"
#include "kafka/topics_admin.h"

namespace floe::kafka {
namespace {

using G = group::KafkaGroupApis<RequestContext, &group_coordinator, &coordinator_locator>;

constexpr std::array kHandlers = {
    ApiHandler{0, 3, 12, &handle_produce, 0},
    ApiHandler{1, 4, 17, &typed_handler<proto::FetchRequest, proto::FetchResponse, &handle_fetch>},
    ApiHandler{2, 0, 9, &typed_handler<proto::ListOffsetsRequest, proto::ListOffsetsResponse, &handle_list_offsets>},
    ApiHandler{3, 0, 12, &typed_handler<proto::MetadataRequest, proto::MetadataResponse, &handle_metadata>},
    ApiHandler{8, 0, 9, &typed_handler<proto::OffsetCommitRequest, proto::OffsetCommitResponse, &G::offset_commit>},
    ApiHandler{9, 0, 9, &typed_handler<proto::OffsetFetchRequest, proto::OffsetFetchResponse, &G::offset_fetch>},
    ApiHandler{10, 0, 6,
               &typed_handler<proto::FindCoordinatorRequest, proto::FindCoordinatorResponse, &G::find_coordinator>},
    ApiHandler{11, 0, 9, &typed_handler<proto::JoinGroupRequest, proto::JoinGroupResponse, &G::join_group>},
    ApiHandler{12, 0, 4, &typed_handler<proto::HeartbeatRequest, proto::HeartbeatResponse, &G::heartbeat>},
    ApiHandler{13, 0, 5, &typed_handler<proto::LeaveGroupRequest, proto::LeaveGroupResponse, &G::leave_group>},
    ApiHandler{14, 0, 5, &typed_handler<proto::SyncGroupRequest, proto::SyncGroupResponse, &G::sync_group>},
    ApiHandler{15, 0, 5,
               &typed_handler<proto::DescribeGroupsRequest, proto::DescribeGroupsResponse, &G::describe_groups>},
    ApiHandler{16, 0, 5, &typed_handler<proto::ListGroupsRequest, proto::ListGroupsResponse, &G::list_groups>},
    ApiHandler{18, 0, 4, &typed_handler<proto::ApiVersionsRequest, proto::ApiVersionsResponse, &handle_api_versions>},
    ApiHandler{19, 0, 7,
               &typed_handler<proto::CreateTopicsRequest, proto::CreateTopicsResponse, &handle_create_topics>},
    ApiHandler{20, 0, 6,
               &typed_handler<proto::DeleteTopicsRequest, proto::DeleteTopicsResponse, &handle_delete_topics>},
    ApiHandler{21, 0, 2,
               &typed_handler<proto::DeleteRecordsRequest, proto::DeleteRecordsResponse, &handle_delete_records>},
    ApiHandler{22, 0, 5,
               &typed_handler<proto::InitProducerIdRequest, proto::InitProducerIdResponse, &handle_init_producer_id>},
    ApiHandler{23, 0, 4,
               &typed_handler<proto::OffsetForLeaderEpochRequest, proto::OffsetForLeaderEpochResponse,
                              &handle_offset_for_leader_epoch>},
    ApiHandler{32, 0, 4,
               &typed_handler<proto::DescribeConfigsRequest, proto::DescribeConfigsResponse, &handle_describe_configs>},
    ApiHandler{33, 0, 2,
               &typed_handler<proto::AlterConfigsRequest, proto::AlterConfigsResponse, &handle_alter_configs>},
    ApiHandler{35, 0, 4,
               &typed_handler<proto::DescribeLogDirsRequest, proto::DescribeLogDirsResponse,
                              &handle_describe_log_dirs>},
    ApiHandler{37, 0, 3,
               &typed_handler<proto::CreatePartitionsRequest, proto::CreatePartitionsResponse,
                              &handle_create_partitions>},
    ApiHandler{42, 0, 2, &typed_handler<proto::DeleteGroupsRequest, proto::DeleteGroupsResponse, &G::delete_groups>},
    ApiHandler{44, 0, 1,
               &typed_handler<proto::IncrementalAlterConfigsRequest, proto::IncrementalAlterConfigsResponse,
                              &handle_incremental_alter_configs>},
    ApiHandler{45, 0, 0,
               &typed_handler<proto::AlterPartitionReassignmentsRequest, proto::AlterPartitionReassignmentsResponse,
                              &handle_alter_partition_reassignments>},
    ApiHandler{46, 0, 0,
               &typed_handler<proto::ListPartitionReassignmentsRequest, proto::ListPartitionReassignmentsResponse,
                              &handle_list_partition_reassignments>},
    ApiHandler{47, 0, 0, &typed_handler<proto::OffsetDeleteRequest, proto::OffsetDeleteResponse, &G::offset_delete>},
    ApiHandler{60, 0, 1,
               &typed_handler<proto::DescribeClusterRequest, proto::DescribeClusterResponse, &handle_describe_cluster>},
};

static_assert(std::is_sorted(kHandlers.begin(), kHandlers.end(),
                             [](const ApiHandler& a, const ApiHandler& b) { return a.key < b.key; }));

}  // namespace

std::span<const ApiHandler> implemented_apis() { return kHandlers; }

const ApiHandler* find_handler(int16_t key) {
  for (const ApiHandler& h : kHandlers) {
    if (h.key == key) return &h;
  }
  return nullptr;
}

}  // namespace floe::kafka
