// The file WAL: low-latency durable appends to local (or shared-volume) segment files with group commit.
//
// Directory:  <dir>/.lock                        flock(2)-ed while open (one process per WAL directory)
//             <dir>/<first seq, 20 digits>.wal    segment files, preallocated to `segment_bytes`, in seq order
//             <dir>/<number, 20 digits>.spare     trimmed segment files kept for reuse (at most recycle_segments),
//                                                 or prepared ahead of a roll (one; prepare_next_segment)
//
// A segment file (big-endian; B = 4096, the direct-I/O block):
//   offset 0: header block (B bytes)
//   +------------+-------------+--------------+----------------+----------------+-----------+--------------+
//   | "FLOEWAL2" | version u32 | reserved u32 | first_seq u64  | generation u64 | crc u32   | zeros to B   |
//   +------------+-------------+--------------+----------------+----------------+-----------+--------------+
//     crc = CRC-32C of the 32 bytes before it; first_seq equals the file name's.
//   offset B: groups, each starting on a block boundary and ending on one:
//   +---------+---------+---------+-----------+---------------+      +------------------------------------+
//   | frame   | frame   |  ...    | frame     | padding frame |  or  | group ending exactly on a block    |
//   +---------+---------+---------+-----------+---------------+      +------------------------------------+
//   frame:
//   +-----------+-----------+-----------+-------------+------------------+
//   | len u32   | crc u32   | seq u64   | epoch u64   | payload (len B)  |
//   +-----------+-----------+-----------+-------------+------------------+
//   len > 0; crc = CRC-32C of (generation, seq, epoch, payload), the generation taken from the segment's header;
//   seqs are dense (previous + 1) across segments. A padding frame has seq 0 and len zero bytes of payload
//   (epoch 0; len at most B; checked like any frame) and fills the group's last block; it spans into one more
//   block when fewer than 25 bytes were left. After the last group: zeros (preallocated space) or stale bytes of
//   the file's earlier life (a recycled segment).
// Legacy segments (no header: the first 8 bytes are not "FLOEWAL2") hold frames from offset 0, crc without a
// generation and no padding; they are recovered and trimmed, never written to.
//
// Generation: a random 64-bit number drawn at each open; every segment created or reused by that open carries it.
// It tells this life's frames from the stale frames a recycled segment still holds: stale frames of an earlier open
// fail the crc (another generation); stale frames of the same open have seqs below the segment's first_seq (seqs
// only grow within one open), so they fail the dense-seq check.
//
// Recovery (open) reads each segment from its first frame while frames are valid (right length, crc, the expected
// seq; padding skipped). A segment ends at its first invalid frame or at zeros: recovery goes on into the next
// segment only when that one starts at the next seq (a roll), else it stops there: everything after was never
// acknowledged (a torn write, a group whose write never landed while a later one did, stale bytes) and is cut off
// (the segment is truncated there, later segments deleted). So recovery keeps the longest dense, valid prefix.
//
// Durability: `sync_threads` flusher threads. Appends queue in groups of up to `max_group_bytes` in block-aligned
// buffers. An idle flusher takes the oldest group and, holding the placement lock, pads it to whole blocks and
// reserves its place in the file (rolling to a new segment when it does not fit: groups never span segments), so
// groups land in the file in seq order. Then, with no lock held, it writes the group (O_DIRECT: the buffer goes to
// the device, no page-cache copy and no write-back left for fdatasync to do), fdatasyncs the file (device cache
// flush; block allocation where the space was never written) and completes those appends itself: one hand-off per
// ack. Several flushers write and sync different groups at once.
// Why padding instead of serialized writes that rewrite the last partial block: with O_DIRECT the write itself is
// the device I/O, so serializing writes would serialize most of the latency; and two direct writes in flight that
// share a block are unsafe (the older one landing last would erase the newer one's acked bytes). Each group owns
// its blocks, so writes overlap freely; the cost is up to one block of padding per group (a few percent at the
// group sizes of a loaded WAL, where it matters).
// Completions run in the order the groups were taken (a later sync may return first), so appends complete in seq
// order, and none is acked after a failed write or sync: when group k is acked every earlier group was written and
// synced by its own flusher. Where the file system refuses O_DIRECT (tmpfs), writes are buffered (same layout).
//
// Recycling: trim_below() renames a segment wholly below the durable seq to a spare (up to recycle_segments, else
// deletes it); a roll reuses a spare (rename, new header) instead of creating and preallocating a file: its blocks
// are already written, so a later fdatasync has no extent conversion to commit.
// Prepared segments (prepare_next_segment): when no spare is left, a preparer thread creates one ahead of the next
// roll (created, preallocated, fsynced, directory synced), so a roll under the placement lock is a rename and one
// header write, never a fallocate or a sync that every later append would wait behind. The roll's own syncs are
// deferred to the first group placed in the new segment: its fdatasync (same file) covers the header, and its
// flusher syncs the directory (the rename) before completing it; every later group of that segment completes
// after it (completions in seq order), so nothing in a new segment is acked before its header and name are durable.
// A crash before that leaves a header that does not name the file (recovery stops there: nothing in it was acked)
// or a file still named .spare (a spare again; its frames carry this open's generation, rejected after the next
// open draws another).
//
// Threads: the flusher threads do all blocking I/O of appends (the preparer thread creates spares); append() never
// blocks (it copies the payload into the buffer); `done` runs on the flusher that synced the entry, and
// async_append's handler is posted once from there to its associated executor (asio async_initiate). Memory: the queued groups (max_buffered_bytes) plus the group each
// flusher holds while it writes and syncs it (at most max_group_bytes, or one frame, plus a block) plus the spare
// groups' buffers (at most sync_threads + 1).
#pragma once

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <atomic>
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

#include "base/direct_io.h"
#include "base/log2_histogram.h"
#include "base/result.h"
#include "stream/errc.h"

namespace floe::stream {

struct FileWalOptions {
  std::string dir;
  uint64_t epoch = 0;                     // stamped on every frame (the broker epoch)
  uint64_t segment_bytes = 64ull << 20;   // preallocated size of each segment file (raised to hold the header and
                                          // one largest entry with padding; rounded up to whole blocks)
  size_t max_entry_bytes = 16u << 20;     // largest payload accepted
  size_t max_buffered_bytes = 64u << 20;  // appends waiting for the writer; beyond this append fails with
                                          // Errc::too_large (back-pressure: the disk is behind)
  bool preallocate = true;
  // Group writes + fdatasync calls in flight at most (flusher threads). With more than one, a group that arrives
  // while a sync runs is written and synced at once instead of after it, which cuts the ack latency; completions
  // still go in seq order. With O_DIRECT each in flight write is device I/O, so more of them keep the device busy:
  // 4 gave about 1.5-2x the durable MiB/s of 2 for 64-256 KiB appends in floe_bench_stream. Also bounds the
  // throughput when syncs are slow: at most sync_threads x max_group_bytes per sync latency.
  size_t sync_threads = 4;
  // The most frame bytes one flusher takes as one group (one write + one fdatasync), at least one frame. Appends
  // queue in groups of up to this size, so that while one flusher writes and syncs a group the next flusher takes
  // the next one: with large appends (256 KiB, 1 MiB) and many in flight, one flusher taking everything would
  // leave the other idle and turn the pipeline into "fill, write, sync" rounds.
  size_t max_group_bytes = 1u << 20;
  // Writes bypass the page cache (O_DIRECT) where the file system allows it; else buffered writes.
  bool direct_io = true;
  // Trimmed segment files kept for reuse by later rolls (each segment_bytes of disk).
  size_t recycle_segments = 2;
  // Keep one spare segment file prepared by a background thread whenever none is left (one more segment_bytes of
  // disk), so that rolling to a new segment never waits for a file to be created, preallocated and synced.
  bool prepare_next_segment = true;
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
  bool direct_io() const;        // writes go through O_DIRECT (false: buffered, the file system refused it)
  size_t spare_segments() const; // trimmed (and prepared) segment files waiting for reuse
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
    AlignedBuffer buffer;         // frames back to back from offset 0, then the padding
    size_t size = 0;              // frame bytes in buffer (without the padding)
    std::vector<Pending> pending; // their completions, in seq order
    bool sync_dir = false;        // the first group of a new segment: sync the directory (its name) before acking
  };

  explicit FileWal(FileWalOptions options) : options_(std::move(options)) {}
  Status recover(const Replay& replay);
  // Opens the segment starting at `first_seq` (a spare renamed, else a new file) and writes its header. With
  // `sync_now` (at open) the header and name are synced here; else the first group written to it syncs them.
  Status open_new_segment(uint64_t first_seq, bool sync_now);
  // The preparer thread: creates a spare (preallocated, synced) whenever a roll took the last one.
  void preparer_loop();
  Status prepare_spare();
  // An open segment file, closed when the last user (a flusher writing or syncing it) lets go of it.
  struct SegmentFile {
    int fd;
    std::string path;
    ~SegmentFile();
  };

  void flusher_loop();
  // Pads the group to whole blocks and reserves its place (rolling when it does not fit). Under write_mu_.
  Status place_group(Group& group, std::shared_ptr<SegmentFile>& file, uint64_t& at, size_t& length);
  Status write_at(const SegmentFile& file, const uint8_t* data, size_t size, uint64_t at);
  void start_group_locked(size_t frame_bytes);
  std::string spare_name(uint64_t number) const;

  FileWalOptions options_;
  int lock_fd_ = -1;

  // Writer state: touched only by the flusher holding write_mu_ (after open).
  std::mutex write_mu_;
  std::shared_ptr<SegmentFile> current_;
  uint64_t write_pos_ = 0;
  std::vector<Segment> segments_;  // guarded by segments_mu_ (trim runs on other threads)
  std::vector<std::string> spares_;  // guarded by segments_mu_: recycled segment files, oldest first
  std::string prepared_;             // guarded by segments_mu_: the preparer's spare (a roll takes recycled ones first)
  uint64_t next_spare_number_ = 1;   // guarded by segments_mu_
  mutable std::mutex segments_mu_;
  std::mutex trim_mu_;                  // one trim_below at a time (held across its file operations)
  std::condition_variable prepare_cv_;  // with segments_mu_: wakes the preparer
  bool prepare_wanted_ = false;         // guarded by segments_mu_: a roll took a spare (or the WAL opened)
  bool prepare_stop_ = false;           // guarded by segments_mu_
  std::thread preparer_;
  uint64_t generation_ = 0;          // this open's (see the header comment)
  uint32_t crc_seed_ = 0;            // CRC-32C of the generation: every frame's crc continues from it
  size_t group_cap_ = 0;             // max_group_bytes, at most what a segment holds
  std::atomic<bool> direct_{false};  // O_DIRECT in use (cleared for good when the file system refuses it)

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
