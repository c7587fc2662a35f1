#include "kafka/producer_snapshots.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <cstdint>
#include <set>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "kafka/producer_states.h"

namespace floe::kafka {
namespace {
constexpr std::string_view kLog = "producer";
}

ProducerSnapshotTask::ProducerSnapshotTask(asio::any_io_executor executor, ProducerStates& states,
                                           const cluster::TopicCatalog& catalog, ProducerSnapshotConfig config)
    : executor_(executor),
      states_(states),
      catalog_(catalog),
      config_(config),
      timer_(executor),
      done_(executor),
      last_expiration_(std::chrono::steady_clock::now()) {
  done_.expires_at(asio::steady_timer::time_point::max());
}

void ProducerSnapshotTask::start() {
  running_ = true;
  asio::co_spawn(executor_, loop(), asio::detached);
}

asio::awaitable<void> ProducerSnapshotTask::stop() {
  stopping_ = true;
  timer_.cancel();
  std::error_code ec;
  if (running_) co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  const size_t written = co_await run_once(/*all=*/true);
  if (written > 0) log::info(kLog, "wrote ", written, " producer snapshot(s) at stop");
}

asio::awaitable<void> ProducerSnapshotTask::loop() {
  std::error_code ec;
  while (!stopping_) {
    timer_.expires_after(config_.check_interval);
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    co_await run_once();
  }
  running_ = false;
  done_.cancel();
}

asio::awaitable<size_t> ProducerSnapshotTask::run_once(bool all) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_expiration_ >= config_.expiration_check_interval) {
    last_expiration_ = now;
    const int64_t wall =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (size_t n = states_.expire_all(wall); n > 0) log::info(kLog, "expired ", n, " idle producer(s)");
  }
  std::set<uint64_t> live;
  for (const cluster::TopicInfo& topic : catalog_.list()) {
    for (int32_t p = 0; p < topic.partitions; ++p) live.insert(cluster::stream_id_of(topic.id, p));
  }
  std::vector<uint64_t> due;
  for (uint64_t stream : states_.stream_ids()) {
    if (!live.count(stream)) {  // its topic was deleted
      if (Status st = co_await states_.delete_snapshot(stream); !st) log::warn(kLog, st.error().message);
      continue;
    }
    const bool is_due = all ? states_.snapshot_due(stream, std::chrono::milliseconds(0), 0)
                            : states_.snapshot_due(stream, config_.interval, config_.batches, config_.records);
    if (is_due) due.push_back(stream);
  }
  // Few txns for the whole pass (ProducerStates::write_snapshots), not one per partition, within a byte bound;
  // a pass cut short by it goes on where it stopped next time, so every partition gets its turn.
  auto first = std::lower_bound(due.begin(), due.end(), resume_at_);
  std::rotate(due.begin(), first, due.end());
  const size_t max_bytes = all ? SIZE_MAX : config_.max_bytes_per_pass;
  size_t written = 0;
  auto r = co_await states_.write_snapshots(due, max_bytes);
  if (!r) {
    log::warn(kLog, r.error().message);
  } else {
    written = r->written;
    resume_at_ = r->visited < due.size() ? due[r->visited] : 0;
  }
  co_return written;
}

}  // namespace floe::kafka
