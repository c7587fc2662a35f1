#pragma once

#include "kafka/api_handler.h"
#include "protocol/msg/describe_log_dirs.h"

namespace floe::kafka {

// DescribeLogDirs v0-4. A Floe broker keeps no log on its own disks: every partition's log lives in the shared
// storage, so the broker reports one log dir, named after that storage (BrokerSettings::log_dir), holding every
// partition it serves, with offset_lag 0 and is_future false. Topics null: every topic; otherwise the partitions
// named that exist (others are left out, as Kafka leaves out partitions it does not host). total_bytes and
// usable_bytes (v4+) are -1: the object store's capacity is not known.
//
// partition_size is the bytes of the partition's log from its log start to its high watermark (committed and
// uncommitted alike). The StreamStore has no per-stream byte count yet, so it is measured from one read from the log
// start of up to kLogDirSampleBytes (less when many partitions are asked: kLogDirSampleBudget over the request, but
// at least kLogDirMinSampleBytes each): exact when the log fits in the sample, else extrapolated from the sample's
// bytes per offset over [log start, high watermark) (an estimate: batches of other sizes elsewhere in the log make
// it off). A partition whose sample cannot be read now (object store unreachable) reports -1.
inline constexpr size_t kLogDirSampleBytes = 1u << 20;
inline constexpr size_t kLogDirMinSampleBytes = 64u << 10;
inline constexpr size_t kLogDirSampleBudget = 64u << 20;

asio::awaitable<proto::DescribeLogDirsResponse> handle_describe_log_dirs(RequestContext& ctx,
                                                                        proto::DescribeLogDirsRequest& req);

}  // namespace floe::kafka
