// StreamStore: the partition logs of one broker on shared storage, with the file WAL (DESIGN §3, §4 "file WAL").
//
// Write path: append() assigns offsets (rewriting each batch's base offset and leader epoch in place), writes the
// batches to the file WAL and completes once they are durable; the durable end (high watermark) then moves. The
// batches stay in the log cache. The uploader packs everything durable but not yet committed into one segment
// object, writes it with put-if-absent under a fresh key, commits its block ranges to metadata (one key per
// object), marks the data committed and trims the WAL below the oldest uncommitted entry. Order: object durable ->
// metadata committed -> WAL trimmed, so a crash anywhere loses nothing: on open, the WAL is replayed beyond each
// stream's committed end.
//
// Read path: from the log cache when it holds the offset, else by ranged GET of the committed block that holds it
// (checked against its CRC). Reads never go past the durable end.
//
// Metadata keys (under config.meta_root):
//   objects/<object key>   ObjectRanges of a committed object (object_ranges.h)
//   streams/<id>/start     the stream's log start offset (decimal), written by trim()
//
// Threads: appends and reads may come from any thread or coroutine; state is guarded by one mutex held briefly.
// The uploader is a coroutine on the store's executor; blocking calls (WAL trim) run on a one-thread pool.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "stream/file_wal.h"
#include "stream/object_ranges.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

struct StreamStoreConfig {
  std::string wal_dir;
  std::string meta_root = "/floe/";                // metadata key prefix, ends with '/'
  std::string object_prefix = "data/";             // object key prefix for uploads
  uint64_t epoch = 0;                              // stamped on WAL frames (the broker epoch)
  size_t upload_bytes = 8u << 20;                  // upload once this much is uncommitted (upload.bytes)
  std::chrono::milliseconds upload_interval{250};  // or this long after the last upload (upload.ms)
  size_t log_cache_bytes = 128u << 20;             // committed batches kept in memory for tail reads
  size_t max_uncommitted_bytes = 256u << 20;       // durable, not yet uploaded; appends beyond fail (back-pressure)
  size_t max_append_bytes = 16u << 20;             // one append (the WAL entry bound)
  uint64_t wal_segment_bytes = 64ull << 20;        // preallocated WAL segment size (at least one append)
  std::chrono::milliseconds object_timeout{30000};
  std::chrono::milliseconds retry_backoff{200};  // uploader retry after a failed PUT or commit
  // close() uploads what is durable but uncommitted. Off: a fast stop that leaves it in the WAL, replayed at the
  // next open (the file WAL is this broker's own disk).
  bool upload_on_close = true;
};

struct StreamEnds {
  int64_t start = 0;      // log start offset
  int64_t committed = 0;  // end of what is committed to objects and metadata
  int64_t durable = 0;    // high watermark: end of what is durable (WAL)
};

struct ReadResult {
  Bytes batches;  // whole record batches; the first may start before the requested offset
  int64_t high_watermark = 0;
  int64_t log_start = 0;
};

class StreamStore {
 public:
  // Loads committed ranges from metadata, replays the WAL beyond them (blocking: at start-up) and starts the
  // uploader on `executor`. The object and metadata stores must outlive the StreamStore.
  static asio::awaitable<Result<std::unique_ptr<StreamStore>>> open(asio::any_io_executor executor,
                                                                    StreamStoreConfig config,
                                                                    objstore::ObjectStore& objects,
                                                                    meta::MetaStore& meta);
  ~StreamStore();

  StreamEnds ends(uint64_t stream_id) const;

  // Appends whole, validated record batches (v2) to the stream: assigns their offsets from the stream's end and
  // stamps `leader_epoch`; completes when durable with the first batch's base offset. Errors: too_large (over
  // max_append_bytes, or back-pressure: too much uncommitted data), closed, io_error (the WAL failed; ambiguous:
  // the data may reappear after a restart).
  //
  // `admit`, when given, runs under the stream's offset-assigning lock just before offsets are assigned, so whatever
  // it decides (e.g. an idempotence check reserving a producer sequence) happens in offset order; an error from it
  // cancels the append, which completes with that error.
  using Admit = std::function<std::error_code()>;
  asio::awaitable<Result<int64_t>> append(uint64_t stream_id, Bytes batches, int32_t leader_epoch,
                                          Admit admit = {});

  // Whole batches from the one holding `offset` on, at most max_bytes (but at least one batch), never past the
  // durable end. Empty at or past the durable end. Errors: out_of_range below the log start.
  asio::awaitable<Result<ReadResult>> read(uint64_t stream_id, int64_t offset, size_t max_bytes);

  struct TimestampHit {
    int64_t offset = -1;
    int64_t timestamp = -1;
  };
  // ListOffsets by time: the first record at or after `timestamp` (or, with kMaxTimestamp, the first record with the
  // largest timestamp), from the log start on. nullopt when there is none.
  static constexpr int64_t kMaxTimestamp = -3;
  asio::awaitable<Result<std::optional<TimestampHit>>> find_timestamp(uint64_t stream_id, int64_t timestamp);

  // Leader epochs (DESIGN §6, OffsetForLeaderEpoch): each stream keeps a bounded epoch -> first offset history,
  // fed by appends (their leader epoch), the WAL replay and observe_epoch() (a scan of older data at start-up).
  void observe_epoch(uint64_t stream_id, int32_t epoch, int64_t offset);
  // Kafka's answer for `epoch` (its leader epoch cache rules): the latest epoch ends at the high watermark; for an
  // older one, the largest known epoch at or below it ends where the next began (below every known epoch: the
  // asked epoch, ending where the oldest known began); {-1, -1} above every known epoch.
  std::pair<int32_t, int64_t> epoch_end_offset(uint64_t stream_id, int32_t epoch) const;

  // Moves the log start offset forward (never back), committed to metadata before it returns.
  asio::awaitable<Status> trim(uint64_t stream_id, int64_t new_start);

  // Retention (topic retention.ms / retention.bytes; -1 = none): moves the log start past whole committed blocks
  // whose newest record is older than now - retention_ms, and past the oldest committed blocks while the stream
  // holds more than retention_bytes. Uncommitted data is never trimmed here. Returns the (new) log start.
  asio::awaitable<Result<int64_t>> apply_retention(uint64_t stream_id, int64_t retention_ms, int64_t retention_bytes,
                                                   int64_t now_ms);

  // Deletes the objects none of whose blocks is at or above its stream's log start, once they have stayed
  // unreferenced for `grace` (a reader that planned a GET before the trim still finds them): first the metadata
  // key, then the object. Returns how many objects were deleted.
  asio::awaitable<Result<size_t>> collect_garbage(std::chrono::milliseconds grace);

  // Every stream this store knows (with data, a start, or committed blocks).
  std::vector<uint64_t> stream_ids() const;

  // Uploads and commits everything durable now.
  asio::awaitable<Status> flush();

  // Stops the uploader (after a last upload when upload_on_close) and closes the WAL. Appends after close fail
  // with Errc::closed. Must complete before the StreamStore is destroyed.
  asio::awaitable<void> close();

  uint64_t uploads() const;

 private:
  struct Entry {
    int64_t first = 0;
    int64_t last = 0;
    int64_t max_timestamp = 0;
    std::shared_ptr<const Bytes> data;
    uint64_t wal_seq = 0;
    bool durable = false;
    bool committed = false;
    bool uploading = false;  // taken by an upload in progress (flush() and the uploader may overlap)
  };
  struct Stream {
    int64_t start = 0;
    int64_t committed = 0;
    int64_t durable = 0;
    int64_t next = 0;           // next offset to assign
    std::deque<Entry> entries;  // ascending offsets: [committed cached...][uncommitted durable...][in flight...]
    std::vector<std::pair<BlockInfo, std::string>> blocks;  // committed blocks (with object key), ascending
    std::map<int32_t, int64_t> epochs;  // leader epoch -> first offset written in it (bounded, oldest dropped)
  };

  StreamStore(asio::any_io_executor executor, StreamStoreConfig config, objstore::ObjectStore& objects,
              meta::MetaStore& meta);
  asio::awaitable<Status> load_metadata();
  Status replay_wal();
  asio::awaitable<void> uploader();
  asio::awaitable<Status> upload_once();
  void on_durable(uint64_t stream_id, int64_t first, std::error_code ec);
  void evict_committed_locked();
  static void note_epoch_locked(Stream& s, int32_t epoch, int64_t offset);

  asio::any_io_executor executor_;
  StreamStoreConfig config_;
  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;
  std::unique_ptr<FileWal> wal_;
  asio::thread_pool blocking_{1};
  asio::steady_timer wakeup_;

  mutable std::mutex mu_;
  std::map<uint64_t, Stream> streams_;
  size_t uncommitted_bytes_ = 0;
  size_t cached_committed_bytes_ = 0;
  uint64_t uploads_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> unreferenced_since_;  // object key -> first seen
  bool closing_ = false;
  bool uploader_done_ = false;
  std::unique_ptr<asio::steady_timer> uploader_stopped_;
};

}  // namespace floe::stream
