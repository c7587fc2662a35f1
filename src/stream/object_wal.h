// The object WAL (DESIGN §4 "object WAL", §5, §6): durable appends with no local disk. The broker's buffer becomes
// one segment object (see "When an object is cut" below), written with put_if_absent under
//
//   <object_prefix>wal/<broker-id>/<broker-epoch>/<seq>        seq: 1, 2, ... zero-padded to 20 digits
//
// Object k is write-once with fixed bytes. Its last block is a WAL header block (stream id kWalHeaderStream) that
// says what the object is (data or seal marker), for which broker, epoch and seq, and carries the writer token (a
// random id per WAL instance, or the sealer's id in a marker):
//
//   +------------------+---------+-----------+----------+---------+----------------+--------------------+
//   | magic "FLOEWAL1" | kind u8 | broker u64| epoch u64| seq u64 | token_len u16  | token (token_len B)|
//   +------------------+---------+-----------+----------+---------+----------------+--------------------+
//   big-endian; kind 1 = data (the writer's object), 2 = seal marker. The header block's index entry has
//   first_offset = last_offset = seq. It is never part of the committed ranges.
//
// A data object's other blocks are the appended batches, one block per run of contiguous offsets of one stream,
// sorted by (stream, offset) as segment_object.h requires. A seal marker has the header block only.
//
// Metadata (etcd semantics, DESIGN §5), under `meta_root`:
//   <root>wal/<broker>/<epoch>/cursor    the highest committed seq (20 digits); absent: none yet
//   <root>wal/<broker>/<epoch>/sealing   present once "sealing E" is recorded (value: who, for people)
//   <root>wal/<broker>/<epoch>/seal      the seal seq (20 digits) once recorded: the marker's seq; the epoch's
//                                        committed objects are exactly seqs 1 .. seal-1
//   <root>objects/<object key>           ObjectRanges of a committed object (object_ranges.h; same key space as
//                                        StreamStore's uploads, so one loader sees both)
// Commits: objects are committed in seq order, after their PUTs, by ONE commit txn in flight per WAL at a time. A
// commit covers the run first..last of consecutive objects whose PUTs are done (acked) and not yet committed:
//   compares "sealing absent" and "cursor == first-1" (cursor absent for first = 1);
//   puts objects/<key> of each of first..last and cursor = last.
// At most commit_max_objects objects (<= 127: etcd's 128 ops per txn, the cursor included; the 2 compares are
// counted apart) and commit_max_bytes of keys and values (etcd's request limit is 1.5 MiB) per txn; an object whose
// value alone is larger is committed by itself. Commit txns start at most once per flush_interval (wal.flush.ms), so
// more objects per second (eager cuts, below) never means more etcd txns per second: per broker, commit txns/s
// <= 1000 / wal.flush.ms, plus the forced ones (a full batch, the uncommitted-object bound reached, close(), or
// expedite() from a release waiting for its data to be committed).
// The seal protocol (../shared/models/seal.pml) is unchanged by batching: the txn is atomic, so committing first..last
// in one txn is exactly the model's single-object commits of first, first+1, ..., last run back to back with
// nothing in between (each one's compares hold in turn: "sealing" cannot change inside the txn and the cursor moves
// first-1 -> first -> ... -> last). The batched writer reaches a subset of the model's states, so none of the
// broken variants applies: the txn keeps both compares (variants 9 NOSEALCMP, 10 NOCURCMP, 11 NOGUARDS); it only
// ever covers a gap-free run starting right after the cursor, of objects this writer wrote and whose PUTs
// succeeded, so no seq is skipped or committed twice (2 SKIP, 3 412OK: a "not created" is still resolved by the
// read-back); acks still wait for every earlier PUT, never for a commit (4 ACKOOO); an unknown outcome is resolved by
// re-reading the cursor ("== last": committed) and "sealing", never by a blind retry; variants 1, 5-8, 12 and 13 are
// about the sealer, the marker, GC and the new leader, none of which this changes.
//
// When an object is cut (the buffer is non-empty and fewer than `inflight` PUTs, wal.inflight, are in flight):
//   - size:  the buffer holds batch_bytes (wal.batch.bytes);
//   - timer: flush_interval (wal.flush.ms) passed since the previous cut;
//   - idle (flush_eager, wal.flush.eager; off by default, see below): NO PUT is in flight and flush_min_spacing (wal.flush.min.ms,
//     default 5 ms) passed since the previous cut. A store with nothing in flight seals at once instead of letting
//     the append wait out the timer (group commit: the appends that arrive while a PUT runs form the next object);
//   - request: close(), or expedite() (a release waiting for its data).
// Objects/s per broker (size cuts, <= bytes/s / wal.batch.bytes, and the rare request cuts aside):
//   eager off (pure time):  <= 1000 / wal.flush.ms                                 (50 ms: 20/s)
//   eager on:               <= 1000 / min(max(wal.flush.min.ms, PUT latency), wal.flush.ms)
// since two consecutive cuts are either flush_interval apart (timer) or the first one's PUT finished between them
// and they are at least flush_min_spacing apart (idle). A fast local store (PUT ~1 ms) gets up to 1000 / min.ms
// (200/s at 5 ms; local stores do not bill requests). Cloud S3 (PUT 20-60 ms) with the 50 ms default: 20-50/s,
// i.e. 1000 / PUT latency while that is below wal.flush.ms, else the timer's 20/s (under load the pipeline hardly
// ever drains there, so the rate stays near 20/s). S3 Standard bills $0.005 per 1000 PUTs: 20/s is $8.6 and 50/s
// $21.6 per broker-day. An operator who raised wal.flush.ms to cut the bill (250 ms: 4/s, $1.7 a day) should also
// set wal.flush.eager=false (or raise wal.flush.min.ms to the spacing they pay for): eager cuts do not wait for
// wal.flush.ms whenever the store is idle. Under steady load on a store slower than the spacing, objects grow while
// PUTs run instead of multiplying.
// Why eager cuts are OFF by default (StreamStoreConfig and `floe serve`; ObjectWalOptions keeps them on for its own
// callers): every uncommitted-by-compaction object is one more objects/ key that a partition open (acquire) reads.
// In the drill (3 brokers, 1000 partitions, 10 MiB/s, file:// store, 2026-11-28) eager cuts made 23246 objects in
// ~2 min against 3081 without, and partition opens took 0.4-7.6 s (acquire) against 36-175 ms: failover handoff
// p50 <= 2.1 s against <= 262 ms, although the producers' ack latency fell from p50 572 to 89 ms. Turn them on
// where acks matter more than opens (few partitions, a fast store) until opens stop scaling with the object count.
//
// Pipeline: at most `inflight` PUTs in flight; a PUT that fails or times out is retried with the identical bytes; a
// "not created" answer is resolved by reading the key back: our token -> our earlier attempt won; a seal marker ->
// the epoch is sealed. Acks (the append callbacks) are released strictly in seq order, once the object and every
// earlier one are in the store. If object k cannot be written within `put_timeout` (the back-pressure bound), every
// unacked append fails with WalErrc::ambiguous (a late PUT may still land and be recovered), the WAL records
// "sealing E" for its own epoch and stops for good: it never skips or rewrites a seq and never runs the rest of the
// seal (seal.h) on its own epoch. The owner registers again with a new epoch. A commit txn refused by its compares
// (the epoch is being sealed) stops the WAL the same way.
//
// Threads: append() is thread-safe and never blocks (the buffer is bounded by max_buffered_bytes: beyond it the
// append is refused with WalErrc::too_large). Everything else runs on a strand of the executor given to open();
// append callbacks run on that strand (async_append posts to the handler's executor).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/result.h"
#include "objstore/object_store.h"
#include "stream/object_ranges.h"
#include "stream/segment_object.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

// Errors of the object WAL and the seal (category "floe.stream.objwal").
enum class WalErrc {
  ok = 0,
  ambiguous = 1,     // outcome unknown: the data may or may not be recovered (Kafka: REQUEST_TIMED_OUT, retriable)
  not_written,       // the WAL stopped before this data reached the log; it is not there (retriable)
  too_large,         // an append over max_entry_bytes, or back-pressure (buffer full)
  invalid_argument,  // empty batches, bad offsets, offsets overlapping the buffered ones, reserved stream id
  closed,            // append after close(), or after the WAL stopped
  unsafe_store,      // the object store does not enforce put_if_absent: the object WAL refuses it
  epoch_in_use,      // the epoch already has WAL objects or metadata (an epoch is written by one WAL, once)
  store_error,       // the object or metadata store failed past the retry bound (the sealer can be run again)
  deposed,           // a sealer's guard key changed: another controller took over; nothing more was changed
  corrupt,           // an object at a WAL key is not a WAL object of this epoch and seq
  seal_conflict,     // a different seal seq is already recorded (must never happen; reported, never overwritten)
};
const std::error_category& wal_category();
inline std::error_code make_error_code(WalErrc e) { return {static_cast<int>(e), wal_category()}; }

inline constexpr uint64_t kWalHeaderStream = UINT64_MAX;  // stream id of the WAL header block (reserved)

// Key names of one broker epoch (see the layout above).
struct WalKeys {
  std::string meta_root = "/floe/";
  std::string object_prefix;
  uint64_t broker_id = 0;
  uint64_t epoch = 0;

  static std::string seq_name(uint64_t seq);  // 20 digits
  std::string object_dir() const;             // <object_prefix>wal/<broker>/<epoch>/
  std::string object_key(uint64_t seq) const;
  std::string meta_dir() const;  // <root>wal/<broker>/<epoch>/
  std::string cursor_key() const;
  std::string sealing_key() const;
  std::string seal_key() const;
  std::string commit_key(std::string_view object_key) const;  // <root>objects/<object key>
  std::string commit_prefix() const;                           // commit_key(object_dir())
};

struct WalObjectHeader {
  enum class Kind : uint8_t { data = 1, seal = 2 };
  Kind kind = Kind::data;
  uint64_t broker_id = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  std::string token;
};

// Parses a whole WAL object (every CRC checked) and returns its header; WalErrc::corrupt if it is not one.
Result<WalObjectHeader> parse_wal_object(ByteSpan object, std::string_view name);
// The bytes of a seal marker.
Bytes build_seal_marker(uint64_t broker_id, uint64_t epoch, uint64_t seq, std::string_view token);
// The committed ranges of a data object: its index without the header block.
Result<ObjectRanges> wal_object_ranges(ByteSpan object, std::string key);

struct ObjectWalOptions {
  std::string meta_root = "/floe/";             // metadata key prefix, ends with '/'
  std::string object_prefix;                    // object keys: <object_prefix>wal/<broker>/<epoch>/<seq>
  uint64_t broker_id = 0;
  uint64_t epoch = 0;                           // the broker epoch (the registration's revision)
  std::chrono::milliseconds flush_interval{50};  // wal.flush.ms: timer cuts; also the spacing of commit txns
  bool flush_eager = true;                       // wal.flush.eager: cut at once when no PUT is in flight
  std::chrono::milliseconds flush_min_spacing{5};  // wal.flush.min.ms: eager cuts at least this far apart
  size_t batch_bytes = 4u << 20;                // wal.batch.bytes: an object is cut at this size
  size_t block_bytes = 1u << 20;                // a stream's run is cut into blocks of about this (at appends)
  size_t inflight = 4;                          // wal.inflight: PUTs in flight at most
  size_t max_uncommitted_objects = 64;          // acked, waiting for their commit txn; the flusher waits beyond
  size_t commit_max_objects = 127;              // objects per commit txn (clamped to 1..127: etcd's 128 ops)
  size_t commit_max_bytes = 1u << 20;           // keys + values per commit txn (etcd: 1.5 MiB per request)
  size_t max_entry_bytes = 16u << 20;           // one append
  size_t max_buffered_bytes = 64u << 20;        // appended and not yet acked; beyond, append -> too_large
  std::chrono::milliseconds put_timeout{10000};     // back-pressure bound: object k written within this, or stop
  std::chrono::milliseconds attempt_timeout{3000};  // one PUT / read-back attempt
  std::chrono::milliseconds commit_timeout{10000};  // one commit txn, retries included
  std::chrono::milliseconds retry_backoff{20};      // first retry delay; doubles up to 1 s, jittered
  // wal.put.hedge.ms: a PUT with no answer after this long gets a twin (the identical bytes, put_if_absent); the
  // first "created" wins and the other's "not created" is ignored (or resolved by the read-back). Cuts the PUT tail
  // that ordered acks would otherwise add to every later ack. 0: off.
  std::chrono::milliseconds hedge_after{0};
  bool check_conditional_put = true;  // run objstore::enforces_conditional_put at open (tests of it only: off)
  // Called on the WAL strand after object k's commit txn succeeded, in seq order, with its committed ranges (what
  // its objects/ key now says): the owner moves its committed ends. Must not block or call back into the WAL.
  std::function<void(const ObjectRanges&)> on_commit;
  // Called once on the WAL strand when the WAL stops for good (failure(): ambiguous or not_written), before the
  // failed appends' callbacks run. Not called by a clean close().
  std::function<void(std::error_code)> on_stop;
};

// One append: whole record batches of one stream covering [first_offset, last_offset].
struct WalAppend {
  uint64_t stream_id = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = 0;
  Bytes batches;
};

struct ObjectWalStats {
  uint64_t objects = 0;        // objects cut from the buffer (the sum of the four reasons below)
  uint64_t cuts_timer = 0;     // ... because flush_interval passed
  uint64_t cuts_size = 0;      // ... because the buffer held batch_bytes
  uint64_t cuts_idle = 0;      // ... because no PUT was in flight (flush_eager)
  uint64_t cuts_request = 0;   // ... for close() or expedite()
  uint64_t commit_txns = 0;    // commit txns that succeeded
  uint64_t committed_objects = 0;  // objects they committed (/ commit_txns: objects per commit)
  uint64_t put_attempts = 0;
  uint64_t put_retries = 0;
  uint64_t put_hedges = 0;     // twin PUTs sent (hedge_after)
  uint64_t readbacks = 0;      // "not created" answers resolved by reading the key back
  uint64_t readback_ours = 0;  // ... that found our own earlier attempt
  uint64_t acked_seq = 0;      // highest seq whose appends were acked
  uint64_t committed_seq = 0;  // the commit cursor as this WAL last wrote it
  bool stopped = false;        // failed for good (see failure())
};

class ObjectWal {
 public:
  using Callback = std::function<void(std::error_code, uint64_t seq)>;

  // Checks that the store enforces put_if_absent (else WalErrc::unsafe_store) and that the epoch is unused (no
  // cursor, no "sealing", no object under its prefix: else WalErrc::epoch_in_use), then starts the flusher and the
  // committer on a strand of `executor`. The stores must outlive the WAL.
  static asio::awaitable<Result<std::unique_ptr<ObjectWal>>> open(asio::any_io_executor executor,
                                                                  ObjectWalOptions options,
                                                                  objstore::ObjectStore& objects,
                                                                  meta::MetaStore& meta);
  ~ObjectWal();  // close() must have completed

  // Buffers the append; `done(ec, seq)` runs once, on the WAL strand, when the object holding it (seq) and every
  // earlier object are in the store, or with the error. Never blocks. Returns false when refused at once (then
  // `done` has run already, on this thread).
  bool append(WalAppend entry, Callback done);
  // The same, except that a refusal is returned instead of reported through `done` (which is then never called):
  // for a caller that holds a lock `done` would take.
  std::error_code append_or_refuse(WalAppend entry, Callback done);

  template <typename Token>
  auto async_append(WalAppend entry, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, uint64_t)>(
        [this](auto handler, WalAppend e) {
          auto ex = asio::get_associated_executor(handler);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          append(std::move(e), [ex, shared](std::error_code ec, uint64_t seq) {
            asio::post(ex, [shared, ec, seq]() mutable { (*shared)(ec, seq); });
          });
        },
        token, std::move(entry));
  }

  // Any thread: cut what is buffered now and commit what is written without waiting for the flush or commit spacing
  // (one cut and one commit per call; StreamStore calls it while a release waits for its data to be committed).
  void expedite();

  // Stops accepting appends, writes and commits what is buffered, and waits for the PUTs and commits (bounded by
  // put_timeout and commit_timeout). Idempotent; must complete before the WAL is destroyed.
  asio::awaitable<void> close();

  // The error that stopped the WAL for good (empty while running or after a clean close).
  std::error_code failure() const;
  ObjectWalStats stats() const;
  // The PUT durations (first attempt to success) of the most recent objects, at most 8192, in microseconds.
  std::vector<int64_t> put_micros() const;
  const WalKeys& keys() const { return keys_; }
  const std::string& token() const { return token_; }

 private:
  struct Pending {
    WalAppend entry;
    Callback done;
  };
  struct Obj;

  ObjectWal(asio::any_io_executor executor, ObjectWalOptions options, objstore::ObjectStore& objects,
            meta::MetaStore& meta);
  asio::awaitable<Status> check_epoch_unused();
  asio::awaitable<void> flusher();
  asio::awaitable<void> put_task(std::shared_ptr<Obj> obj);
  asio::awaitable<objstore::Result<objstore::PutInfo>> put_hedged(std::shared_ptr<Obj> obj,
                                                                  objstore::Clock::time_point deadline);
  asio::awaitable<void> committer();
  asio::awaitable<void> record_own_sealing();
  enum class CutReason { timer, size, idle, request };
  std::shared_ptr<Obj> cut_object(CutReason why);  // strand; takes records from the buffer
  void advance();                     // strand: acks in order, stops on a failed object
  void stop(std::error_code why, uint64_t fenced_from);  // strand
  void poke();                                            // any thread: wakes the flusher
  void maybe_finished();                                  // strand

  asio::strand<asio::any_io_executor> strand_;
  ObjectWalOptions options_;
  WalKeys keys_;
  std::string token_;
  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;

  // Guarded by mu_ (append runs on any thread).
  mutable std::mutex mu_;
  std::vector<Pending> buffer_;
  size_t buffer_bytes_ = 0;
  size_t unacked_bytes_ = 0;  // buffer + cut objects not yet acked
  std::map<uint64_t, int64_t> buffer_last_;  // per stream, the last offset buffered since the last cut
  bool accepting_ = true;
  bool poke_posted_ = false;
  std::error_code failure_;
  ObjectWalStats stats_;
  std::deque<int64_t> put_micros_;

  // Strand only.
  asio::steady_timer flush_wake_;
  asio::steady_timer commit_wake_;
  asio::steady_timer finished_;
  bool wake_pending_ = false;
  bool cut_requested_ = false;     // expedite(): one cut regardless of the timer
  bool commit_requested_ = false;  // expedite(): one commit regardless of the commit spacing
  bool closing_ = false;
  bool stopped_ = false;
  bool flusher_done_ = false;
  bool committer_done_ = false;
  bool finished_flag_ = false;
  bool sealing_recorded_ = false;       // record_own_sealing started
  bool sealing_recorded_done_ = false;  // ... and finished
  size_t puts_in_flight_ = 0;
  size_t attempts_in_flight_ = 0;  // PUT requests (twins included) not yet answered
  uint64_t next_seq_ = 1;
  std::deque<std::shared_ptr<Obj>> objs_;  // cut and not yet committed, in seq order
};

}  // namespace floe::stream

template <>
struct std::is_error_code_enum<floe::stream::WalErrc> : std::true_type {};
