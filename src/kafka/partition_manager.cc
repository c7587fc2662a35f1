#include "kafka/partition_manager.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <set>

#include "base/log.h"
#include "cluster/cluster_image.h"
#include "cluster/broker_membership.h"
#include "cluster/topic_catalog.h"
#include "group/coordinator.h"
#include "kafka/cluster_leadership.h"
#include "kafka/producer_states.h"
#include "kafka/stream_group_log.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr std::string_view kLog = "partitions";
constexpr std::chrono::milliseconds kRetryAfterFailure{200};

int64_t ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

PartitionManager::PartitionManager(asio::any_io_executor executor, PartitionManagerDeps deps, int32_t self_id,
                                   int64_t broker_epoch, PartitionManagerOptions options)
    : strand_(asio::make_strand(executor)),
      deps_(deps),
      self_id_(self_id),
      broker_epoch_(broker_epoch),
      options_(options),
      wake_(strand_),
      done_(strand_) {
  wake_.expires_at(asio::steady_timer::time_point::max());
  done_.expires_at(asio::steady_timer::time_point::max());
}

PartitionManager::~PartitionManager() { *alive_ = false; }

void PartitionManager::poke() {
  std::weak_ptr<bool> alive = alive_;
  asio::post(strand_, [this, alive] {
    if (!alive.lock()) return;
    dirty_ = true;
    wake_.cancel();
  });
}

void PartitionManager::start() {
  running_ = true;
  std::weak_ptr<bool> alive = alive_;
  // call_now: an assignment applied before the subscription takes effect (a broker that just registered gets its
  // first moves within milliseconds) would otherwise wait for the next, unrelated change of the image.
  deps_.image.subscribe(
      [this, alive] {
        if (alive.lock()) poke();
      },
      /*call_now=*/true);
  asio::co_spawn(strand_, run(), asio::detached);
}

asio::awaitable<void> PartitionManager::run() {
  while (!stopping_) {
    dirty_ = false;
    co_await reconcile();
    if (stopping_) break;
    if (dirty_) continue;  // the image changed while reconciling
    std::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    wake_.expires_at(asio::steady_timer::time_point::max());
  }
  running_ = false;
  done_.cancel();
}

asio::awaitable<void> PartitionManager::reconcile() {
  std::vector<cluster::Assignment> to_open;
  std::vector<cluster::Assignment> to_release;
  std::set<uint64_t> wanted;
  for (const cluster::Assignment& a : deps_.image.assignments()) {
    if (a.broker_id != self_id_ || a.broker_epoch != broker_epoch_ || a.released) continue;
    std::optional<cluster::TopicInfo> topic = deps_.catalog.find(a.topic);
    if (!topic || a.partition < 0 || a.partition >= topic->partitions) continue;
    const uint64_t stream = cluster::stream_id_of(topic->id, a.partition);
    wanted.insert(stream);
    auto it = open_.find(stream);
    if (it == open_.end()) {
      if (releasing_all_ || a.move_target) {
        to_release.push_back(a);  // never opened here: hand it straight on
      } else {
        to_open.push_back(a);
      }
    } else if (a.move_target || releasing_all_) {
      to_release.push_back(a);
    } else if (it->second.leader_epoch != a.leader_epoch) {
      // Same owner epoch, new leader epoch: must not happen (epochs change with owners); serve the newer one.
      log::warn(kLog, a.topic, "-", a.partition, ": leader epoch changed in place ", it->second.leader_epoch, " -> ",
                a.leader_epoch);
      it->second.leader_epoch = a.leader_epoch;
      deps_.leadership.set_local(stream, a.leader_epoch);
    }
  }
  // Open partitions no longer assigned to this epoch without our release: dropped at once (never served again).
  std::vector<uint64_t> gone;
  for (const auto& [stream, o] : open_) {
    if (!wanted.count(stream)) gone.push_back(stream);
  }
  for (uint64_t stream : gone) drop(stream);
  if (!to_release.empty()) {
    if (Status st = co_await release_batch(std::move(to_release)); !st) {
      log::warn(kLog, "release failed (retrying): ", st.error().message);
      wake_.expires_after(kRetryAfterFailure);
    }
  }
  if (!to_open.empty() && !stopping_) co_await open_batch(std::move(to_open));
}

// The partitions of one open batch whose loads are still to run, shared by its loaders (all on the strand).
struct PartitionManager::LoadJob {
  std::vector<std::pair<cluster::Assignment, cluster::TopicInfo>> parts;
  size_t next = 0;     // the next part to take
  size_t running = 0;  // loaders not finished
  size_t opened = 0;
  std::unique_ptr<asio::steady_timer> finished;  // cancelled when the last loader ends
};

asio::awaitable<void> PartitionManager::load_worker(std::shared_ptr<LoadJob> job) {
  while (job->next < job->parts.size() && !stopping_) {
    const auto& [a, topic] = job->parts[job->next++];
    const uint64_t stream = cluster::stream_id_of(topic.id, a.partition);
    Status loaded = co_await deps_.producer_states.load(stream, a.topic + "-" + std::to_string(a.partition),
                                                        a.leader_epoch);
    if (loaded && a.topic == kOffsetsTopic) loaded = co_await deps_.groups.load_partition(a.partition);
    if (!loaded) {
      log::warn(kLog, "cannot open ", a.topic, "-", a.partition, " (retrying): ", loaded.error().message);
      deps_.leadership.open_failed(stream);
      std::lock_guard lock(stats_mu_);
      ++stats_.open_failures;
      wake_.expires_after(kRetryAfterFailure);
      continue;
    }
    // Serving from here on (each partition as soon as its own load is done).
    open_[stream] = Open{a.topic, a.partition, stream, a.leader_epoch};
    deps_.leadership.set_local(stream, a.leader_epoch);
    ++job->opened;
    if (a.handoff_cause != cluster::HandoffCause::none && a.handoff_since_ms > 0) {
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      const uint64_t us = static_cast<uint64_t>(std::max<int64_t>(0, now_ms - a.handoff_since_ms)) * 1000;
      (a.handoff_cause == cluster::HandoffCause::failover ? failover_open_us_ : move_open_us_).record(us);
    }
  }
  // Stopped before their turn: their waiters are refused now rather than at their timeout.
  if (stopping_) {
    while (job->next < job->parts.size()) {
      const auto& [a, topic] = job->parts[job->next++];
      deps_.leadership.open_failed(cluster::stream_id_of(topic.id, a.partition));
    }
  }
  if (--job->running == 0) job->finished->cancel();
}

asio::awaitable<void> PartitionManager::open_batch(std::vector<cluster::Assignment> batch) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint64_t> streams;
  auto job = std::make_shared<LoadJob>();
  for (const cluster::Assignment& a : batch) {
    std::optional<cluster::TopicInfo> topic = deps_.catalog.find(a.topic);
    if (!topic) continue;
    streams.push_back(cluster::stream_id_of(topic->id, a.partition));
    job->parts.emplace_back(a, *topic);
  }
  // From here until each one is served (or fails), its produce requests wait for it instead of being refused.
  for (uint64_t stream : streams) deps_.leadership.set_opening(stream);
  Status acquired = co_await deps_.store.acquire(streams);
  if (!acquired) {
    for (uint64_t stream : streams) deps_.leadership.open_failed(stream);
    log::warn(kLog, "cannot open ", streams.size(), " partition(s) (retrying): ", acquired.error().message);
    std::lock_guard lock(stats_mu_);
    stats_.open_failures += streams.size();
    wake_.expires_after(kRetryAfterFailure);
    co_return;
  }
  const int64_t acquire_ms = ms_since(started);
  // The wave's snapshots in a few round trips, and the logs its loads replay prefetched: after a failover they sit
  // in the dead broker's WAL objects, each holding a block of most of these partitions.
  const stream::StreamStore::PrefetchPlan prefetch = co_await deps_.producer_states.prepare_loads(streams);
  const int64_t prepare_ms = ms_since(started) - acquire_ms;
  const size_t loaders = std::min(std::max<size_t>(options_.max_parallel_loads, 1), job->parts.size());
  if (loaders > 0) {
    job->finished = std::make_unique<asio::steady_timer>(strand_, asio::steady_timer::time_point::max());
    job->running = loaders;
    for (size_t i = 0; i < loaders; ++i) asio::co_spawn(strand_, load_worker(job), asio::detached);
    while (job->running > 0) {
      std::error_code ec;
      co_await job->finished->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  const int64_t took = ms_since(started);
  const size_t opened = job->opened;
  log::info(kLog, "opened ", opened, " partition(s) in ", took, " ms (acquire ", acquire_ms, " ms, snapshots ",
            prepare_ms, " ms, prefetch ", prefetch.objects, " object(s) in ", prefetch.gets, " GET(s), ",
            prefetch.bytes >> 10, " KiB", prefetch.blocks_left_out ? ", " + std::to_string(prefetch.blocks_left_out) +
            " block(s) over the bound" : std::string(), "; ", loaders, " parallel loads; ",
            took > 0 ? static_cast<int64_t>(opened) * 1000 / took : static_cast<int64_t>(opened), " partitions/s)");
  std::lock_guard lock(stats_mu_);
  stats_.opened += opened;
  stats_.last_open_batch_ms = took;
  stats_.last_open_batch_size = opened;
  stats_.local = open_.size();
}

asio::awaitable<Status> PartitionManager::release_batch(std::vector<cluster::Assignment> batch) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint64_t> streams;
  for (const cluster::Assignment& a : batch) {
    std::optional<cluster::TopicInfo> topic = deps_.catalog.find(a.topic);
    if (!topic) continue;
    const uint64_t stream = cluster::stream_id_of(topic->id, a.partition);
    deps_.leadership.clear_local(stream);  // first: new requests go elsewhere
    if (open_.count(stream)) {
      streams.push_back(stream);
      if (a.topic == kOffsetsTopic) co_await deps_.groups.unload_partition(a.partition);
    }
  }
  const int64_t unload_ms = ms_since(started);
  auto released_ends = co_await deps_.store.release(streams);
  if (!released_ends) {
    // Not served any more, not given up either: forget them here, so the next pass opens them again (acquire
    // starts from the committed end) unless they were released meanwhile.
    for (uint64_t stream : streams) open_.erase(stream);
    co_return released_ends.error();
  }
  const int64_t streams_ms = ms_since(started) - unload_ms;
  // Everything is committed now: a snapshot at the end (the ends the store released them at: it has forgotten
  // them) lets the next owner load the producer state without replaying the log (a move then reads metadata
  // only), all of them in a few txns. A failed snapshot only costs the next owner a replay.
  const std::map<uint64_t, stream::StreamEnds>& ends_at = *released_ends;
  auto snaps = co_await deps_.producer_states.write_snapshots(streams, SIZE_MAX, &ends_at);
  if (!snaps) log::warn(kLog, "release: producer snapshots not written: ", snaps.error().message);
  for (uint64_t stream : streams) {
    open_.erase(stream);
    deps_.producer_states.drop(stream);
  }
  const int64_t snapshots_ms = ms_since(started) - unload_ms - streams_ms;
  // One assignment that changed meanwhile (a move target set, say) is released at its current revision by the
  // membership; one no longer this epoch's is skipped (a later pass drops or releases it as the image then shows).
  auto released = co_await deps_.membership.release(batch);
  if (!released) co_return released.error();
  log::info(kLog, "released ", released->released, " partition(s)",
            released->skipped.empty() ? std::string() : ", " + std::to_string(released->skipped.size()) +
                                                            " no longer this epoch's",
            " in ", ms_since(started), " ms, not served meanwhile (unload ", unload_ms, " ms, WAL durable and "
            "committed ", streams_ms, " ms, producer snapshots ", snapshots_ms, " ms, release txn ",
            ms_since(started) - unload_ms - streams_ms - snapshots_ms, " ms)");
  std::lock_guard lock(stats_mu_);
  stats_.released += released->released;
  stats_.local = open_.size();
  co_return ok_status();
}

bool PartitionManager::holds_assignments() const {
  for (const cluster::Assignment& a : deps_.image.assignments()) {
    if (a.broker_id == self_id_ && a.broker_epoch == broker_epoch_ && !a.released) return true;
  }
  return false;
}

void PartitionManager::drop(uint64_t stream) {
  auto it = open_.find(stream);
  if (it == open_.end()) return;
  log::warn(kLog, it->second.topic, "-", it->second.partition, " left this broker epoch without a release: dropped");
  deps_.leadership.clear_local(stream);
  if (it->second.topic == kOffsetsTopic) {
    asio::co_spawn(strand_, deps_.groups.unload_partition(it->second.partition), asio::detached);
  }
  deps_.producer_states.drop(stream);
  open_.erase(it);
  std::lock_guard lock(stats_mu_);
  ++stats_.dropped;
  stats_.local = open_.size();
}

asio::awaitable<Status> PartitionManager::release_all(std::chrono::milliseconds timeout) {
  co_await asio::post(strand_, asio::use_awaitable);
  releasing_all_ = true;  // the loop releases every open partition and opens none
  dirty_ = true;
  wake_.cancel();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer t(strand_);
  while ((!open_.empty() || holds_assignments()) && running_ && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (!open_.empty()) {
    co_return Error{std::make_error_code(std::errc::timed_out),
                    std::to_string(open_.size()) + " partition(s) not released before the shutdown deadline"};
  }
  co_return ok_status();
}

asio::awaitable<void> PartitionManager::stop() {
  co_await asio::post(strand_, asio::use_awaitable);
  stopping_ = true;
  wake_.cancel();
  if (running_) {
    std::error_code ec;
    co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  deps_.leadership.clear_all();
}

PartitionManagerStats PartitionManager::stats() const {
  std::lock_guard lock(stats_mu_);
  PartitionManagerStats s = stats_;
  s.failover_open_us = failover_open_us_.snapshot();
  s.move_open_us = move_open_us_.snapshot();
  return s;
}

}  // namespace floe::kafka
