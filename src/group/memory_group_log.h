// MemoryGroupLog: a GroupLog held in process memory (embedded single-node use, and the tests' log). Durable for the
// life of the object only. Bounded: appends beyond `max_records` live records per partition fail with `too_large`.
// Fault injection for tests: fail the next appends, count calls.
#pragma once

#include <deque>
#include <map>
#include <mutex>

#include "group/group_log.h"

namespace floe::group {

class MemoryGroupLog final : public GroupLog {
 public:
  explicit MemoryGroupLog(size_t max_records = 1'000'000) : max_records_(max_records) {}

  asio::awaitable<Result<int64_t>> append(int32_t partition, std::vector<GroupRecord> records) override;
  asio::awaitable<Result<std::vector<StoredRecord>>> read(int32_t partition, int64_t from,
                                                          size_t max_records) override;
  asio::awaitable<Status> trim(int32_t partition, int64_t offset) override;

  // The next `n` appends fail with `error` (nothing stored).
  void fail_appends(size_t n, LogErrc error = LogErrc::unavailable);

  // Inspection (thread-safe).
  int64_t start_offset(int32_t partition) const;
  int64_t end_offset(int32_t partition) const;
  std::vector<StoredRecord> records(int32_t partition) const;
  size_t appends() const;

 private:
  struct Partition {
    int64_t start = 0;
    std::deque<GroupRecord> records;  // offsets start, start+1, ...
  };
  const size_t max_records_;
  mutable std::mutex mu_;
  std::map<int32_t, Partition> partitions_;
  size_t fail_next_ = 0;
  LogErrc fail_error_ = LogErrc::unavailable;
  size_t appends_ = 0;
};

}  // namespace floe::group
