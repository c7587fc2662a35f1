// StreamStore: the partition logs of one broker on shared storage (DESIGN §3, §4, §7), with the file WAL or the
// object WAL (config.wal_kind).
//
// Write path: append() assigns offsets (rewriting each batch's base offset and leader epoch in place), writes the
// batches to the WAL and completes once they are durable; the durable end (high watermark) then moves. The batches
// stay in the log cache until they are committed and the cache is over its bound.
//   file WAL: the uploader packs everything durable but not yet committed into one segment object, writes it with
//     put-if-absent under a fresh key, commits its block ranges to metadata (one key per object), marks the data
//     committed and trims the WAL below the oldest uncommitted entry. Order: object durable -> metadata committed
//     -> WAL trimmed, so a crash anywhere loses nothing: on open, the WAL is replayed beyond each stream's
//     committed end.
//   object WAL (object_wal.h): the WAL objects ARE the segment objects. An append is acked when its WAL object
//     (and every earlier one) is in the store; the WAL commits each object to metadata itself and tells the store
//     (ObjectWalOptions::on_commit), which then moves the committed ends. No uploader, no replay, no WAL trim. At
//     open (seal_previous_epochs), every earlier object-WAL epoch of this broker id that was not sealed is sealed
//     (seal.h) before the new epoch's WAL opens, so what the previous process acked is committed and loaded.
//     Once the WAL stops (a PUT not written within put_timeout, a fenced commit), every append fails and
//     on_wal_stopped runs once: the owner must reopen in a new epoch.
//
// Read path: from the log cache when it holds the offset, else from the committed block that holds it (found in the
// current block map), through BlockReader (block_reader.h): the block cache, else a ranged GET (checked against its
// CRC) with read-ahead that grows for sequential readers; a read then goes on into the following blocks that are
// cached, up to max_bytes. A GET answered 404 (the object was deleted by compaction or garbage collection after
// the read planned it) re-plans from the block map, re-read from metadata first when
// it still names the missing object (a compaction elsewhere). Reads never go past the durable end.
//
// Compaction (compaction.h, stream_store_compaction.cc): a background loop on the store's strand merges small
// committed objects into large ones and swaps the metadata in one guarded txn; the swap updates the block map.
//
// Metadata keys (under config.meta_root):
//   objects/<object key>        ObjectRanges of a committed object (object_ranges.h), uploads, WAL objects and
//                               compaction outputs (<object_prefix>compacted/<random>)
//   gc/<random>                 objects to delete once due: compaction's replaced inputs or orphaned outputs
//                               (compaction.h)
//   streams/<id>/start          the stream's log start offset (decimal), written by trim()
//   wal/<broker>/<epoch>/...    the object WAL's cursor, sealing and seal records (object_wal.h)
//   wal-open/<broker>/<epoch>   written before an object-WAL epoch opens, deleted once it is sealed: the list of
//                               epochs a later start (seal_previous_epochs) must seal, even one that died before
//                               its first commit
//
// Cluster hooks (owned_streams_only, acquire, release, owns): cluster mode opens the store with
// owned_streams_only and seal_previous_epochs off (the controller seals), then acquire()s the partitions assigned
// to this broker epoch and release()s them on a graceful handoff (DESIGN §6).
//
// Threads: appends and reads may come from any thread or coroutine; state is guarded by one mutex held briefly.
// The uploader and the WAL callbacks run on a strand of the executor given to open() (the object WAL has its own
// strand); blocking calls (file WAL trim) run on a one-thread pool.
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
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "stream/block_reader.h"
#include "stream/compaction.h"
#include "stream/file_wal.h"
#include "stream/object_index_cache.h"
#include "stream/object_ranges.h"
#include "stream/object_wal.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

struct StreamStoreConfig {
  enum class WalKind { file, object };
  WalKind wal_kind = WalKind::file;
  std::string wal_dir;  // file WAL directory (object WAL: a file WAL left there is uploaded once at open)
  std::string meta_root = "/floe/";                // metadata key prefix, ends with '/'
  std::string object_prefix = "data/";             // object key prefix for uploads
  uint64_t epoch = 0;                              // the broker epoch: file WAL frames, object WAL keys
  uint64_t broker_id = 0;                          // object WAL keys: wal/<broker_id>/<epoch>/<seq>
  size_t upload_bytes = 8u << 20;                  // upload once this much is uncommitted (upload.bytes)
  std::chrono::milliseconds upload_interval{250};  // or this long after the last upload (upload.ms)
  size_t log_cache_bytes = 128u << 20;             // committed batches kept in memory for tail reads
  size_t block_cache_bytes = 128u << 20;           // block.cache.bytes: blocks read back from objects (0: none)
  size_t read_ahead_max_bytes = 16u << 20;         // read.ahead.max.bytes: window ceiling (also <= block cache / 2)
  size_t read_ahead_inflight_bytes = 32u << 20;    // read-ahead GET bytes in flight at most
  size_t max_uncommitted_bytes = 256u << 20;       // durable, not yet uploaded; appends beyond fail (back-pressure)
  size_t max_append_bytes = 16u << 20;             // one append (the WAL entry bound)
  uint64_t wal_segment_bytes = 64ull << 20;        // preallocated WAL segment size (at least one append)
  std::chrono::milliseconds object_timeout{30000};
  std::chrono::milliseconds retry_backoff{200};  // uploader retry after a failed PUT or commit
  // close() uploads what is durable but uncommitted. Off: a fast stop that leaves it in the WAL, replayed at the
  // next open (the file WAL is this broker's own disk).
  bool upload_on_close = true;

  // Object WAL (wal_kind = object): passed to ObjectWalOptions (object_wal.h), whose defaults these are.
  std::chrono::milliseconds wal_flush_interval{50};  // wal.flush.ms
  bool wal_flush_eager = false;                       // wal.flush.eager: cut when no PUT is in flight
  std::chrono::milliseconds wal_flush_min_spacing{5};  // wal.flush.min.ms: eager cuts at least this far apart
  size_t wal_batch_bytes = 4u << 20;                 // wal.batch.bytes
  size_t wal_inflight = 4;                           // wal.inflight: PUTs in flight at most
  size_t wal_max_uncommitted_objects = 64;
  size_t wal_max_buffered_bytes = 64u << 20;       // appended, not yet acked; beyond, append -> too_large
  std::chrono::milliseconds wal_put_timeout{10000};  // back-pressure bound: an object written within this, or stop
  std::chrono::milliseconds wal_attempt_timeout{3000};
  std::chrono::milliseconds wal_commit_timeout{10000};
  std::chrono::milliseconds wal_retry_backoff{20};
  std::chrono::milliseconds wal_put_hedge{0};  // wal.put.hedge.ms: a twin PUT after this long without answer; 0: off
  bool wal_check_conditional_put = true;  // refuse a store without atomic put_if_absent (object_wal.h)
  // At open, seal every earlier object-WAL epoch of broker_id that was not sealed (embedded mode, with no
  // controller). Cluster mode: false, the controller seals.
  bool seal_previous_epochs = true;
  // Called once (on the store's strand) when the object WAL stops for good; every later append fails with
  // Errc::unavailable. Cluster mode registers again with a new epoch.
  std::function<void(std::error_code)> on_wal_stopped;

  // Cluster mode: appends and reads of a stream not acquire()d fail with Errc::not_owner.
  bool owned_streams_only = false;
  std::chrono::milliseconds release_timeout{10000};  // release(): wait this long for durable + committed
  size_t prefetch_max_bytes = 64u << 20;  // prefetch(): block bytes planned by one call (also <= block cache / 2)
  size_t prefetch_parallel_gets = 8;      // prefetch(): its GETs in flight at once
  // acquire(): decoded objects/ records kept between acquires (object_index_cache.h), so that the open waves of a
  // failover read and decode only the records they have not seen. 0: none kept.
  size_t object_index_cache_bytes = 32u << 20;
  // owned_streams_only with the object WAL: every this long, the records committed since the last pass are read
  // and decoded into that cache in the background, so a failover's first acquire finds them decoded instead of
  // decoding every object committed since this broker's previous acquire (0: only acquires fill the cache).
  std::chrono::milliseconds object_index_warm_interval{2000};

  // Compaction (compaction.h): a background pass every compaction_interval (0: none; compact_once() still runs
  // one), rewriting small committed objects into objects of compaction_target_bytes.
  std::chrono::milliseconds compaction_interval{0};  // compaction.interval.ms
  size_t compaction_target_bytes = 64u << 20;       // compaction.target.bytes (inputs: objects below half of it)
  size_t compaction_min_objects = 8;                // compaction.min.objects: trigger by count...
  std::chrono::milliseconds compaction_max_age{300000};  // compaction.max.age.ms: ...or by age
  // Objects of any size holding dead blocks (trimmed, deleted topics) beside live ones are rewritten without them
  // once the dead blocks are half the object, or this many bytes, or were first seen dead this long ago.
  uint64_t compaction_dead_bytes = 16u << 20;                 // compaction.dead.bytes
  std::chrono::milliseconds compaction_dead_max_age{3600000};  // compaction.dead.max.age.ms
  size_t compaction_block_bytes = 1u << 20;          // merged blocks up to this (one ranged GET per read)
  size_t compaction_max_round_bytes = 256u << 20;    // input bytes read per round (memory bound)
  size_t compaction_max_rounds = 16;                 // rounds per pass
  std::chrono::milliseconds compaction_grace{60000};  // replaced objects are deleted this long after the swap
  // Cluster mode: a pass runs only while this says yes (the controller compacts for the cluster). Empty: always.
  std::function<bool()> compaction_gate;
  // Cluster mode: every compaction pass also retires dead committed objects from metadata (Compactor::
  // retire_unreferenced: every block below its stream's start, or of a stream not in live_streams_at(revision)),
  // so their objects are deleted after compaction_grace by the pass's sweep. Embedded mode uses collect_garbage.
  bool retire_unreferenced_objects = false;
  Compactor::LiveStreams live_streams_at;  // empty: no stream counts as deleted
  // Cluster mode (DESIGN §7: "a broker whose image lags past half the grace stops serving committed reads"): a
  // read_for_client that needs committed blocks (not the log cache), and a find_timestamp_for_client that consults
  // committed ranges, fail with Errc::image_lagging while this says no.
  // Called on every read, from any thread: must be cheap and thread-safe. Empty: always allowed.
  std::function<bool()> committed_reads_allowed;
  // Blocks of segment objects the WALs write (file-WAL uploads, object-WAL objects): a stream's run is cut into
  // blocks of at most this size at append boundaries (an append larger than this is a block of its own), so a read
  // of one offset is one ranged GET of at most this much.
  size_t block_bytes = 1u << 20;
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
  // max_append_bytes, or back-pressure: too much uncommitted or unacked data), closed, invalid_argument,
  // not_owner (owned_streams_only), and when the WAL fails: io_error (file WAL) or ambiguous (object WAL), both
  // meaning the data may reappear after a restart or a seal (append_may_have_landed()), or unavailable (object
  // WAL stopped: not written; retriable after the owner reopens in a new epoch).
  //
  // `admit`, when given, runs under the stream's offset-assigning lock just before offsets are assigned, so whatever
  // it decides (e.g. an idempotence check reserving a producer sequence) happens in offset order; an error from it
  // cancels the append, which completes with that error.
  using Admit = std::function<std::error_code()>;
  asio::awaitable<Result<int64_t>> append(uint64_t stream_id, Bytes batches, int32_t leader_epoch,
                                          Admit admit = {});

  // Called each time a stream's durable end (high watermark) moves forward because an append became durable, with
  // the new end: at once, on the WAL's thread (file WAL: the flusher that synced it; object WAL: its strand),
  // after the new end is visible to ends() and read() and before the append's own completion is posted to its
  // caller. Kafka's waiting fetches are woken from here (one hand-off from the sync instead of three). Must be
  // quick, thread-safe and must not call back into the store; it runs under a lock of its own, so it is not called
  // any more once set_durable_listener({}) returns. What it captures must outlive the store or be reset so.
  using DurableListener = std::function<void(uint64_t stream_id, int64_t durable_end)>;
  void set_durable_listener(DurableListener listener);

  // Whole batches from the one holding `offset` on, at most max_bytes (but at least one batch), never past the
  // durable end. Empty at or past the durable end. Errors: out_of_range below the log start.
  // A GET that finds no object (404: the block map is stale after a compaction elsewhere) re-reads the committed
  // ranges from metadata (linearizable) and retries; it never answers empty for committed data.
  asio::awaitable<Result<ReadResult>> read(uint64_t stream_id, int64_t offset, size_t max_bytes);
  // read() on behalf of a client (Kafka Fetch): the same, except that a read needing committed blocks fails with
  // Errc::image_lagging while config.committed_reads_allowed says no (DESIGN §7). The broker's own reads (producer
  // state replay, group loads) use read(): they run on block maps just read linearizably (acquire).
  asio::awaitable<Result<ReadResult>> read_for_client(uint64_t stream_id, int64_t offset, size_t max_bytes);

  struct TimestampHit {
    int64_t offset = -1;
    int64_t timestamp = -1;
  };
  // ListOffsets by time: the first record at or after `timestamp` (or, with kMaxTimestamp, the first record with the
  // largest timestamp), from the log start on. nullopt when there is none.
  static constexpr int64_t kMaxTimestamp = -3;
  asio::awaitable<Result<std::optional<TimestampHit>>> find_timestamp(uint64_t stream_id, int64_t timestamp);
  // find_timestamp() on behalf of a client (Kafka ListOffsets): the same, except that a lookup that consults the
  // committed ranges (the stream has committed blocks at or above its start: their max timestamps decide the
  // answer, and one of them may be the block read) fails with Errc::image_lagging while
  // config.committed_reads_allowed says no, like read_for_client (DESIGN §7). A stream whose live data is all in
  // the log cache is still answered.
  asio::awaitable<Result<std::optional<TimestampHit>>> find_timestamp_for_client(uint64_t stream_id,
                                                                                 int64_t timestamp);

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

  // Embedded mode's garbage collection, by the same guarded path as cluster mode (Compactor::
  // retire_unreferenced, then sweep_gc): objects none of whose blocks is at or above its stream's log start (per
  // ONE linearizable read of the metadata) lose their objects/ key in a txn comparing its mod revision and are
  // deleted `grace` later (a reader that planned a GET before the trim still finds them), unless an objects/ key
  // names them again by then. Returns how many objects were deleted (also earlier retirements and compaction's
  // replaced objects now due). A call while another runs returns 0.
  asio::awaitable<Result<size_t>> collect_garbage(std::chrono::milliseconds grace);

  // Every stream this store knows (with data, a start, or committed blocks).
  std::vector<uint64_t> stream_ids() const;

  // File WAL: uploads and commits everything durable now (waiting, up to release_timeout, for an upload the
  // uploader has in progress). Object WAL: waits (up to release_timeout) until everything appended before the call
  // is committed.
  asio::awaitable<Status> flush();

  // Stops the uploader (after a last upload when upload_on_close) and closes the WAL (object WAL: after writing
  // and committing what is buffered). Appends after close fail with Errc::closed. Must complete before the
  // StreamStore is destroyed.
  asio::awaitable<void> close();

  uint64_t uploads() const;

  // ---- cluster hooks (DESIGN §6) ----
  // Takes ownership of the streams: ONE linearizable read of the committed state (every objects/ key, paginated
  // at one revision, and streams/<id>/start of each id), then each stream's state is reset to it (committed end =
  // durable end = next offset; cached data dropped) and it is acquired. Never opens a stream at an end older than
  // the metadata at the time of the call. Errors: io_error (metadata), closed.
  asio::awaitable<Status> acquire(std::vector<uint64_t> stream_ids);
  // Gives the streams up (meant for owned_streams_only): from now on their appends fail with not_owner; waits (up
  // to release_timeout) until all that was appended to them is durable and committed, then forgets them. Returns
  // the ends each stream had when it was forgotten (committed == durable: what the next owner opens at), so the
  // caller can still snapshot state as of that end (ends() knows nothing of them any more). Errors: timed_out (the
  // WAL is slow) or unavailable (the object WAL stopped): some data is not committed; the streams stay released
  // and are not forgotten.
  asio::awaitable<Result<std::map<uint64_t, StreamEnds>>> release(std::vector<uint64_t> stream_ids);
  // Whether appends to the stream are accepted: always without owned_streams_only, else once acquired.
  bool owns(uint64_t stream_id) const;

  // Warms the block cache for reads about to come: opening many partitions at once, each replays its log from its
  // producer snapshot to its end, and after a failover those logs sit in the same few WAL objects (each holds a
  // block of every partition its broker wrote). The committed blocks of every [from, to) range are grouped by
  // object and each object is read with as few ranged GETs as possible (one when its wanted blocks lie within
  // kPrefetchMaxGap of each other), instead of one GET per stream and object. At most prefetch_max_bytes (and half
  // the block cache) of blocks, the objects that serve the most ranges first; the rest is read as usual. A read of
  // a planned block joins its GET. Returns at once (the GETs run in the background, prefetch_parallel_gets at a
  // time, oldest object first), with what it planned. Plans nothing without a block cache.
  struct PrefetchRange {
    uint64_t stream_id = 0;
    int64_t from = 0;
    int64_t to = 0;  // exclusive
  };
  struct PrefetchPlan {
    size_t objects = 0;
    size_t gets = 0;
    size_t blocks = 0;
    uint64_t bytes = 0;          // the planned blocks' bytes (the GETs also carry the gaps between them)
    size_t blocks_left_out = 0;  // over the byte bound: read as usual
  };
  static constexpr uint64_t kPrefetchMaxGap = 256u << 10;   // bytes of other blocks one GET may carry between two
  static constexpr uint64_t kPrefetchMaxGet = 4u << 20;     // one prefetch GET's length at most
  PrefetchPlan prefetch(const std::vector<PrefetchRange>& ranges);

  // The object WAL (nullptr with the file WAL), for its stats and PUT timings.
  const ObjectWal* object_wal() const { return object_wal_.get(); }

  // The log cache, the block cache and where reads were served from (metrics).
  struct CacheStats {
    size_t cached_committed_bytes = 0;  // committed batches kept for tail reads (bounded by log_cache_bytes)
    size_t uncommitted_bytes = 0;       // durable, not yet committed (always in memory)
    size_t limit_bytes = 0;             // log_cache_bytes
    uint64_t cache_reads = 0;           // reads answered from the log cache
    uint64_t object_reads = 0;          // reads answered from committed blocks (block cache or ranged GET)
    uint64_t object_read_bytes = 0;     // bytes ranged GETs returned (reads and read-ahead)
    BlockReader::Stats blocks;          // the block cache and read-ahead
  };
  CacheStats cache_stats() const;
  // The objects/ records acquire() found decoded or had to read and decode.
  ObjectIndexCache::Stats object_index_stats() const { return object_index_cache_->stats(); }

  // One compaction pass (compaction.h): rounds until nothing is left to compact (at most compaction_max_rounds),
  // each swap applied to the in-memory block map, then the due gc records are swept. Returns the number of
  // objects replaced. A pass already running (the background task): returns 0 at once.
  asio::awaitable<Result<size_t>> compact_once();

  struct CompactionStats {
    uint64_t passes = 0;
    uint64_t swaps = 0;            // successful swap txns
    uint64_t conflicts = 0;        // swaps that lost a compare (nothing changed)
    uint64_t failures = 0;         // rounds that failed otherwise (store errors)
    uint64_t objects_merged = 0;   // input objects replaced
    uint64_t objects_written = 0;  // output objects committed
    uint64_t bytes_read = 0;
    uint64_t bytes_rewritten = 0;  // output bytes written
    uint64_t gc_objects_deleted = 0;  // replaced (or orphaned) objects deleted after the grace
    uint64_t stale_block_refreshes = 0;  // reads that found no object and re-read the metadata
    uint64_t objects_retired = 0;  // dead objects whose metadata keys were retired (cluster mode; deleted later)
    uint64_t committed_reads_refused = 0;  // client reads and timestamp lookups refused: image lag
    size_t committed_objects = 0;  // objects in metadata at the last plan
    size_t backlog_objects = 0;    // of them, small ones (compaction candidates)
    uint64_t backlog_bytes = 0;
  };
  CompactionStats compaction_stats() const;

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
  bool maps_to(uint64_t stream_id, int64_t offset, const std::string& object) const;
  asio::awaitable<Result<ReadResult>> read_gated(uint64_t stream_id, int64_t offset, size_t max_bytes, bool client);
  asio::awaitable<Result<std::optional<TimestampHit>>> find_timestamp_gated(uint64_t stream_id, int64_t timestamp,
                                                                            bool client);
  asio::awaitable<Result<std::optional<TimestampHit>>> find_timestamp_once(uint64_t stream_id, int64_t timestamp,
                                                                           bool committed_allowed);
  asio::awaitable<Status> refresh_blocks();
  void apply_compaction_locked(const CompactionSwap& swap);
  // Retired objects leave the block maps and the block reader's caches; counted in compaction_stats_.
  void apply_retired(const Compactor::Retired& retired);
  void start_compaction();
  asio::awaitable<void> compaction_loop();
  asio::awaitable<void> stop_compaction();
  void start_index_warmer();
  asio::awaitable<void> index_warm_loop();
  asio::awaitable<void> stop_index_warmer();
  Status replay_wal();
  asio::awaitable<Status> open_object_wal();
  asio::awaitable<Status> seal_previous_epochs();
  asio::awaitable<Status> drain_file_wal();
  void on_object_committed(const ObjectRanges& ranges);
  static std::error_code object_wal_error(std::error_code ec);
  void on_wal_stopped(std::error_code ec);
  bool all_committed_locked(const std::map<uint64_t, int64_t>& targets) const;
  asio::awaitable<Status> wait_committed(std::map<uint64_t, int64_t> targets, std::chrono::milliseconds timeout);
  bool owned_locked(uint64_t stream_id) const;
  void forget_entries_locked(Stream& s);
  asio::awaitable<void> uploader();
  asio::awaitable<Status> upload_once();
  void on_durable(uint64_t stream_id, int64_t first, std::error_code ec);
  void evict_committed_locked();
  static void note_epoch_locked(Stream& s, int32_t epoch, int64_t offset);

  asio::any_io_executor base_executor_;  // the object WAL runs on its own strand of it
  asio::any_io_executor executor_;       // a strand: the uploader, close()
  StreamStoreConfig config_;
  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;
  std::unique_ptr<FileWal> wal_;             // file WAL
  std::unique_ptr<ObjectWal> object_wal_;    // object WAL
  asio::thread_pool blocking_{1};
  asio::thread_pool compaction_cpu_{1};  // compaction builds its outputs here (not on blocking_: uploads wait there)
  asio::steady_timer wakeup_;
  std::mutex listener_mu_;             // taken after mu_ is released, never with it
  DurableListener durable_listener_;  // guarded by listener_mu_
  std::unique_ptr<BlockReader> block_reader_;  // committed blocks: block cache, ranged GETs, read-ahead
  std::unique_ptr<ObjectIndexCache> object_index_cache_;  // acquire(): decoded objects/ records

  mutable std::mutex mu_;
  std::map<uint64_t, Stream> streams_;
  size_t uncommitted_bytes_ = 0;
  size_t cached_committed_bytes_ = 0;
  uint64_t cache_reads_ = 0;        // guarded by mu_
  uint64_t object_reads_ = 0;       // guarded by mu_
  uint64_t uploads_ = 0;
  // collect_garbage's own Compactor (retire + sweep; its grace is the caller's), one call at a time.
  std::unique_ptr<Compactor> gc_compactor_;
  std::chrono::milliseconds gc_compactor_grace_{0};
  bool collecting_ = false;  // guarded by mu_
  bool closing_ = false;
  std::error_code wal_failure_;  // object WAL stopped: every append fails
  std::set<uint64_t> owned_;     // owned_streams_only: acquired and not released
  bool uploader_done_ = false;
  std::unique_ptr<asio::steady_timer> uploader_stopped_;

  std::unique_ptr<Compactor> compactor_;
  bool compacting_ = false;  // a pass is running (guarded by mu_)
  CompactionStats compaction_stats_;  // guarded by mu_
  std::unique_ptr<asio::steady_timer> compaction_wakeup_;  // on executor_
  std::unique_ptr<asio::steady_timer> compaction_stopped_;
  bool compaction_running_ = false;  // the loop was started and has not ended (guarded by mu_)
  std::unique_ptr<asio::steady_timer> index_warm_wakeup_;  // object_index_warm_interval's loop, on executor_
  std::unique_ptr<asio::steady_timer> index_warm_stopped_;
  bool index_warm_running_ = false;  // guarded by mu_
};

}  // namespace floe::stream
