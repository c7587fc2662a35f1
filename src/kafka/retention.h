// The retention task: every `interval`, applies each topic's retention.ms / retention.bytes to its partitions,
// trims the streams of deleted topics entirely, and deletes objects that no stream references any more (after a
// grace period). Runs on one executor; stop() ends it (the in-progress pass finishes first).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace floe::kafka {

struct Services;

class RetentionTask {
 public:
  RetentionTask(asio::any_io_executor executor, Services& services, std::chrono::milliseconds interval,
                std::chrono::milliseconds gc_grace);
  void start();
  // Cluster mode: only the partitions led here; no trimming of deleted topics' streams, no garbage collection
  // (they need every broker's commits in view: the controller's compaction pass does them, stream/garbage.cc).
  void set_cluster_mode() { whole_store_ = false; }
  // Ends the loop; completes once the pass under way (if any) finished.
  asio::awaitable<void> stop();

  // One pass (also for tests): returns the number of objects deleted.
  asio::awaitable<size_t> run_once();

 private:
  asio::awaitable<void> loop();

  asio::any_io_executor executor_;
  Services& services_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds grace_;
  asio::steady_timer timer_;
  asio::steady_timer done_;
  bool stopping_ = false;
  bool running_ = false;
  bool whole_store_ = true;
};

}  // namespace floe::kafka
