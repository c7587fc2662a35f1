// GroupLog: how the group coordinator stores its state. One log per __consumer_offsets partition; the stream engine
// provides the production implementation (the partition itself), `MemoryGroupLog` an in-process one.
#pragma once

#include <cstdint>
#include <system_error>
#include <utility>  // before asio/awaitable.hpp (Boost.Asio's copy needs it)
#include <vector>

#include <asio/awaitable.hpp>

#include "base/result.h"
#include "group/records.h"

namespace floe::group {

struct StoredRecord {
  int64_t offset = 0;
  GroupRecord record;
};

// Errors a GroupLog reports (category "floe.group_log"). The coordinator answers NOT_COORDINATOR for
// `not_leader`, INVALID_COMMIT_OFFSET_SIZE for `too_large` on commits, COORDINATOR_NOT_AVAILABLE otherwise.
enum class LogErrc { ok = 0, not_leader, unavailable, too_large };
const std::error_category& group_log_category();
inline std::error_code make_error_code(LogErrc e) { return {static_cast<int>(e), group_log_category()}; }

class GroupLog {
 public:
  virtual ~GroupLog() = default;

  // Appends `records` to `partition` as one unit (all or none) and completes once they are durable, with the
  // offset of the first. Appends to one partition land in the log in the order of the calls and complete in that
  // order. A failed append may still have been stored (ambiguous failure): the coordinator treats it as failed and
  // a later load sees it; both are states the group protocol tolerates.
  virtual asio::awaitable<Result<int64_t>> append(int32_t partition, std::vector<GroupRecord> records) = 0;

  // Up to `max_records` records with offsets >= `from`, ascending; from below the log start it reads from the
  // start; empty at the end of the log.
  virtual asio::awaitable<Result<std::vector<StoredRecord>>> read(int32_t partition, int64_t from,
                                                                  size_t max_records) = 0;

  // Discards the records below `offset` (the coordinator calls it with the offset of a durable snapshot).
  virtual asio::awaitable<Status> trim(int32_t partition, int64_t offset) = 0;
};

}  // namespace floe::group

template <>
struct std::is_error_code_enum<floe::group::LogErrc> : std::true_type {};
