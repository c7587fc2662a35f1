// The producer snapshot task (DESIGN §8): every `check_interval` it writes the snapshot of each partition whose
// committed end moved past its stored snapshot and that is due (`interval` since its last snapshot, Kafka-like
// producer.snapshot.interval.ms, or `batches` idempotent batches applied since, or the log grew `records`
// offsets), at most `max_bytes_per_pass` of snapshots per pass (the next pass goes on after the last partition
// taken), in few txns; every `expiration_check_interval` it drops expired producers from the live tables (Kafka
// producer.id.expiration.check.interval.ms); it deletes the snapshots of partitions whose topic was deleted.
// See kafka/producer_states.h for what a snapshot holds and why it is taken at the committed end.
//
// Runs on one executor. stop() ends the loop, then makes one last pass that snapshots every partition whose
// committed end moved (call it after the partition logs closed, which uploads and commits what is durable, so the
// next start replays nothing).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>

namespace floe::cluster {
class TopicCatalog;
}

namespace floe::kafka {

class ProducerStates;

// The interval is short by default: a snapshot bounds what the next owner replays after a failover (the log since
// the snapshot), and a pass writes every due partition in a few txns (ProducerStates::write_snapshots), so
// thousands of partitions cost a few metadata writes a second.
struct ProducerSnapshotConfig {
  std::chrono::milliseconds interval{2'000};                     // producer.snapshot.interval.ms
  uint64_t batches = 10'000;                                     // or after this many idempotent batches
  int64_t records = 10'000;                                      // or once the log grew this many offsets
  std::chrono::milliseconds check_interval{500};                 // how often due partitions are looked for
  std::chrono::milliseconds expiration_check_interval{600'000};  // producer.id.expiration.check.interval.ms
  // Snapshot bytes written per pass at most (a snapshot grows with its producers, up to ~0.8 MB): bounds the
  // metadata write rate (8 MiB/s with the defaults); what is left waits for the next pass, in turn.
  size_t max_bytes_per_pass = 4u << 20;
};

class ProducerSnapshotTask {
 public:
  ProducerSnapshotTask(asio::any_io_executor executor, ProducerStates& states, const cluster::TopicCatalog& catalog,
                       ProducerSnapshotConfig config);
  void start();
  // Ends the loop (the pass under way finishes first), then one final pass over every partition.
  asio::awaitable<void> stop();

  // One pass (also for tests). `all`: every partition whose committed end moved, due or not. Returns how many
  // snapshots were written.
  asio::awaitable<size_t> run_once(bool all = false);

 private:
  asio::awaitable<void> loop();

  asio::any_io_executor executor_;
  ProducerStates& states_;
  const cluster::TopicCatalog& catalog_;
  ProducerSnapshotConfig config_;
  asio::steady_timer timer_;
  asio::steady_timer done_;
  std::chrono::steady_clock::time_point last_expiration_;
  bool stopping_ = false;
  bool running_ = false;
  uint64_t resume_at_ = 0;  // the stream id the next pass starts from (a pass cut short by the byte bound)
};

}  // namespace floe::kafka
