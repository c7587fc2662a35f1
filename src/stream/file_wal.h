// The file WAL: low-latency durable appends to local (or shared-volume) segment files with group commit.
//
// Directory:  <dir>/.lock                      flock(2)-ed while open (one process per WAL directory)
//             <dir>/<first seq, 20 digits>.wal  segment files, preallocated to `segment_bytes`, in seq order
//
// Each append is one frame (big-endian):
//   +-----------+-----------+-----------+-------------+------------------+
//   | len u32   | crc u32   | seq u64   | epoch u64   | payload (len B)  |
//   +-----------+-----------+-----------+-------------+------------------+
//   len > 0; crc = CRC-32C of seq, epoch and payload; seqs are dense (previous + 1) across segments.
// Preallocated space reads as zeros, so len = 0 marks the end of the written part.
//
// Durability: `sync_threads` flusher threads. Appends queue in groups of up to `max_group_bytes`. An idle flusher
// takes the oldest group (one at a time, in seq order), writes it (page cache), fdatasyncs it and completes those
// appends itself: one hand-off per ack (the appender wakes a flusher), none between writing, syncing and completing. While one flusher syncs, another takes
// and writes what arrived meanwhile and starts its own sync at once (on ext4 concurrent syncs overlap), so one sync
// covers every append that arrived while the previous one ran (group commit) without waiting for it to end.
// Completions run in the order the groups were taken, so appends complete in seq order, and none is acked after a
// failed write or sync. When a flusher rolls to a new segment it syncs the old one first, so a sync of the current
// file covers every frame written before it. Recovery (open) replays the longest valid prefix of
// frames and stops at the first torn or corrupt frame (a crash mid-write); everything after it was never acknowledged
// and is removed. trim() deletes whole segments below a seq once their data is committed elsewhere.
//
// Threads: the flusher threads do all blocking I/O; append() never blocks (it copies the payload into the buffer);
// `done` runs on the flusher that synced the entry, and async_append's handler is posted once from there to its
// associated executor (asio async_initiate). Memory: the queued groups (max_buffered_bytes) plus the group each
// flusher holds while it writes and syncs it (at most max_group_bytes, or one frame, each) plus the spare groups'.
#pragma once

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "base/log2_histogram.h"
#include "base/result.h"
#include "stream/errc.h"

namespace floe::stream {

struct FileWalOptions {
  std::string dir;
  uint64_t epoch = 0;                     // stamped on every frame (the broker epoch)
  uint64_t segment_bytes = 64ull << 20;   // preallocated size of each segment file
  size_t max_entry_bytes = 16u << 20;     // largest payload accepted
  size_t max_buffered_bytes = 64u << 20;  // appends waiting for the writer; beyond this append fails with
                                          // Errc::too_large (back-pressure: the disk is behind)
  bool preallocate = true;
  // fdatasync calls in flight at most (flusher threads). With more than one, a group that arrives while a sync runs
  // is written and synced at once instead of after it (on ext4 concurrent syncs overlap), which cuts the ack
  // latency; completions still go in seq order.
  size_t sync_threads = 2;
  // The most frame bytes one flusher takes as one group (one write + one fdatasync), at least one frame. Appends
  // queue in groups of up to this size, so that while one flusher writes and syncs a group the next flusher takes
  // the next one: with large appends (256 KiB, 1 MiB) and many in flight, one flusher taking everything would
  // leave the other idle and turn the pipeline into "fill, write, sync" rounds.
  size_t max_group_bytes = 1u << 20;
};

// Read-only figures for metrics, summed over every FileWal of the process (a broker has one; the StreamStore owns
// it privately, so the process-wide sum is the seam the metrics read). Latencies in microseconds.
struct FileWalStatsSnapshot {
  uint64_t appends = 0;          // appends accepted
  uint64_t append_bytes = 0;     // their payload bytes
  uint64_t refused = 0;          // appends refused (back-pressure, too large, closed, failed)
  uint64_t syncs = 0;            // fdatasync group commits
  uint64_t pending_bytes = 0;    // frame bytes appended and not yet completed (buffered, written or syncing)
  Log2HistogramSnapshot append_latency_us;  // append() to completion (durable or failed)
  Log2HistogramSnapshot sync_latency_us;    // one fdatasync of a group
  Log2HistogramSnapshot sync_entries;       // appends made durable by one sync (group-commit size)
  Log2HistogramSnapshot sync_bytes;         // frame bytes made durable by one sync
};

struct WalEntry {
  uint64_t seq;
  uint64_t epoch;
  std::span<const uint8_t> payload;  // valid during the replay callback only
};

class FileWal {
 public:
  using Replay = std::function<void(const WalEntry&)>;
  using Callback = std::function<void(std::error_code, uint64_t seq)>;

  // Locks `options.dir` (creating it), replays every valid frame in seq order, drops a torn tail, and starts the
  // flusher threads. The next append gets the seq after the last replayed one (or 1 for an empty WAL).
  static Result<std::unique_ptr<FileWal>> open(const FileWalOptions& options, const Replay& replay);
  ~FileWal();  // close()

  // Queues `payload`; `done(ec, seq)` runs on a WAL flusher thread once durable (or failed). Never blocks. Returns the
  // seq the entry got, or 0 when it was refused (then `done` has already run, on this thread, with the error).
  uint64_t append(std::span<const uint8_t> payload, Callback done);
  // The same for a payload given in pieces (concatenated into one frame without an intermediate copy).
  uint64_t append_parts(std::span<const std::span<const uint8_t>> parts, Callback done);

  // The same as an asio async operation: co_await wal.async_append(bytes, asio::use_awaitable) -> seq.
  template <typename Token>
  auto async_append(std::span<const uint8_t> payload, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, uint64_t)>(
        [this, payload](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          append(payload, [ex, shared](std::error_code ec, uint64_t seq) {
            asio::post(ex, [shared, ec, seq]() mutable { (*shared)(ec, seq); });
          });
        },
        token);
  }

  // Deletes segment files all of whose frames have seq < `seq` (the data is committed elsewhere). Blocking I/O:
  // call it off network threads. Returns the number of files deleted.
  Result<size_t> trim_below(uint64_t seq);

  // Finishes the buffered appends (synced and completed), stops the writer, releases the lock. Appends after
  // close() fail with Errc::closed. Idempotent.
  void close();

  uint64_t next_seq() const;
  uint64_t durable_seq() const;  // highest seq known synced (0 if none)
  uint64_t syncs() const;        // number of fdatasync group commits so far
  static FileWalStatsSnapshot process_stats();

 private:
  struct Segment {
    uint64_t first_seq;
    std::string path;
  };
  struct Pending {
    uint64_t seq;
    Callback done;
    std::chrono::steady_clock::time_point queued;  // for the append latency
    size_t bytes;                                  // frame bytes (pending_bytes)
  };
  // Frames appended back to back, taken by one flusher as a whole: one write, one sync, completions in seq order.
  struct Group {
    std::vector<uint8_t> bytes;
    std::vector<size_t> frame_ends;  // end offset of each frame in bytes
    std::vector<Pending> pending;    // their completions, in seq order
    uint64_t first_seq = 0;
  };

  explicit FileWal(FileWalOptions options) : options_(std::move(options)) {}
  Status recover(const Replay& replay);
  Status open_new_segment(uint64_t first_seq);
  // An open segment file, closed when the last user (writer or an in-progress sync) lets go of it.
  struct SegmentFile {
    int fd;
    std::string path;
    ~SegmentFile();
  };

  void flusher_loop();
  Status write_group(const Group& group);

  FileWalOptions options_;
  int lock_fd_ = -1;

  // Writer state: touched only by the flusher holding write_mu_ (after open).
  std::mutex write_mu_;
  std::shared_ptr<SegmentFile> current_;
  uint64_t write_pos_ = 0;
  std::vector<Segment> segments_;  // guarded by segments_mu_ (trim runs on other threads)
  mutable std::mutex segments_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Group> queue_;          // groups not yet taken by a flusher, in seq order (the last one still fills)
  size_t queued_bytes_ = 0;          // frame bytes in queue_ (bounded by max_buffered_bytes)
  std::vector<Group> spare_groups_;  // emptied groups kept for their memory (at most sync_threads + 1)
  uint64_t next_seq_ = 1;
  uint64_t durable_seq_ = 0;
  uint64_t syncs_ = 0;
  uint64_t syncs_started_ = 0;   // tickets: the order flushers took their groups
  uint64_t syncs_finished_ = 0;  // groups whose appends are completed (completions run in ticket order)
  std::error_code failed_;  // sticky: after an I/O error every append fails
  bool closing_ = false;
  std::condition_variable sync_cv_;  // a flusher whose sync ended waits here for the earlier groups' completions
  std::vector<std::thread> flushers_;
};

}  // namespace floe::stream
