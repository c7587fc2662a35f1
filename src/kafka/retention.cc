#include "kafka/retention.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <set>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "cluster/topic_config.h"
#include "kafka/services.h"
#include "stream/stream_store.h"

namespace floe::kafka {

RetentionTask::RetentionTask(asio::any_io_executor executor, Services& services, std::chrono::milliseconds interval,
                             std::chrono::milliseconds gc_grace)
    : executor_(executor),
      services_(services),
      interval_(interval),
      grace_(gc_grace),
      timer_(executor),
      done_(executor) {
  done_.expires_at(asio::steady_timer::time_point::max());
}

void RetentionTask::start() {
  running_ = true;
  asio::co_spawn(executor_, loop(), asio::detached);
}

asio::awaitable<void> RetentionTask::stop() {
  stopping_ = true;
  timer_.cancel();
  std::error_code ec;
  if (running_) co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> RetentionTask::loop() {
  std::error_code ec;
  while (!stopping_) {
    timer_.expires_after(interval_);
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    co_await run_once();
  }
  running_ = false;
  done_.cancel();
}

asio::awaitable<size_t> RetentionTask::run_once() {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  stream::StreamStore& store = services_.store;
  std::set<uint64_t> live;
  for (const cluster::TopicInfo& topic : services_.catalog.list()) {
    const int64_t retention_ms = cluster::topic_config_int(topic.configs, "retention.ms");
    const int64_t retention_bytes = cluster::topic_config_int(topic.configs, "retention.bytes");
    for (int32_t p = 0; p < topic.partitions; ++p) {
      const uint64_t stream = cluster::stream_id_of(topic.id, p);
      live.insert(stream);
      if (retention_ms < 0 && retention_bytes < 0) continue;
      if (!services_.leadership.leader(topic, p).local) continue;  // its leader applies it
      auto r = co_await store.apply_retention(stream, retention_ms, retention_bytes, now_ms);
      if (!r) log::warn("kafka", "retention of ", topic.name, "-", p, ": ", r.error().message);
    }
  }
  // Cluster mode: deleted topics' streams and unreferenced objects need a view of every broker's commits: the
  // controller's compaction pass retires them from metadata (stream/garbage.cc), not this task.
  if (!whole_store_) co_return size_t{0};
  // Streams of deleted topics: nothing can read them any more (a re-created topic has a new id).
  for (uint64_t stream : store.stream_ids()) {
    if (live.count(stream)) continue;
    const stream::StreamEnds ends = store.ends(stream);
    if (ends.start < ends.durable) {
      auto st = co_await store.trim(stream, ends.durable);
      if (!st) log::warn("kafka", "trimming a deleted topic's stream: ", st.error().message);
    }
  }
  auto deleted = co_await store.collect_garbage(grace_);
  if (!deleted) {
    log::warn("kafka", "object garbage collection: ", deleted.error().message);
    co_return size_t{0};
  }
  if (*deleted > 0) log::info("kafka", "retention deleted ", *deleted, " unreferenced object(s)");
  co_return *deleted;
}

}  // namespace floe::kafka
