#include "group/memory_group_log.h"

#include <string>

namespace floe::group {
namespace {

class LogCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe.group_log"; }
  std::string message(int c) const override {
    switch (static_cast<LogErrc>(c)) {
      case LogErrc::ok: return "ok";
      case LogErrc::not_leader: return "not the leader of the partition";
      case LogErrc::unavailable: return "log unavailable";
      case LogErrc::too_large: return "records too large";
    }
    return "unknown group log error";
  }
};

}  // namespace

const std::error_category& group_log_category() {
  static const LogCategory category;
  return category;
}

asio::awaitable<Result<int64_t>> MemoryGroupLog::append(int32_t partition, std::vector<GroupRecord> records) {
  std::lock_guard lock(mu_);
  ++appends_;
  if (fail_next_ > 0) {
    --fail_next_;
    co_return Error{make_error_code(fail_error_), "injected append failure on partition " + std::to_string(partition)};
  }
  Partition& p = partitions_[partition];
  if (p.records.size() + records.size() > max_records_) {
    co_return Error{make_error_code(LogErrc::too_large),
                    "partition " + std::to_string(partition) + " holds its maximum of records"};
  }
  int64_t first = p.start + static_cast<int64_t>(p.records.size());
  for (auto& r : records) p.records.push_back(std::move(r));
  co_return first;
}

asio::awaitable<Result<std::vector<StoredRecord>>> MemoryGroupLog::read(int32_t partition, int64_t from,
                                                                        size_t max_records) {
  std::lock_guard lock(mu_);
  std::vector<StoredRecord> out;
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) co_return out;
  const Partition& p = it->second;
  int64_t end = p.start + static_cast<int64_t>(p.records.size());
  for (int64_t o = std::max(from, p.start); o < end && out.size() < max_records; ++o) {
    out.push_back({o, p.records[static_cast<size_t>(o - p.start)]});
  }
  co_return out;
}

asio::awaitable<Status> MemoryGroupLog::trim(int32_t partition, int64_t offset) {
  std::lock_guard lock(mu_);
  Partition& p = partitions_[partition];
  while (p.start < offset && !p.records.empty()) {
    p.records.pop_front();
    ++p.start;
  }
  co_return ok_status();
}

void MemoryGroupLog::fail_appends(size_t n, LogErrc error) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_error_ = error;
}

int64_t MemoryGroupLog::start_offset(int32_t partition) const {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? 0 : it->second.start;
}

int64_t MemoryGroupLog::end_offset(int32_t partition) const {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? 0 : it->second.start + static_cast<int64_t>(it->second.records.size());
}

std::vector<StoredRecord> MemoryGroupLog::records(int32_t partition) const {
  std::lock_guard lock(mu_);
  std::vector<StoredRecord> out;
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return out;
  for (size_t i = 0; i < it->second.records.size(); ++i) {
    out.push_back({it->second.start + static_cast<int64_t>(i), it->second.records[i]});
  }
  return out;
}

size_t MemoryGroupLog::appends() const {
  std::lock_guard lock(mu_);
  return appends_;
}

}  // namespace floe::group
