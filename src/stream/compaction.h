// Compaction (DESIGN §5, §7): rewrites many small committed segment objects (WAL objects, file-WAL uploads, small
// earlier outputs) into few large ones, and swaps the metadata in ONE txn guarded by compares.
//
// One round:
//   1. plan: one linearizable read of every <root>objects/ key (paged at the first page's revision) and of the
//      stream starts. Inputs: the committed objects smaller than small_object_bytes, oldest commit (mod revision)
//      first, as many as fit the round's bounds (max_inputs, max_round_bytes, and etcd's txn limits: the swap has
//      inputs + outputs + 1 ops and at most max_txn_value_bytes of values).
//   2. read the inputs (whole-object GETs, every used block checked against its CRC-32C) and build the outputs:
//      streams in id order, each stream's blocks in offset order, packed into objects of up to target_bytes
//      (so a busy stream gets objects of its own); adjacent blocks of a stream (offsets contiguous) are merged into
//      blocks of up to block_bytes. Batches are copied as stored: offsets and bytes never change. Blocks wholly
//      below their stream's start (trimmed), or of a deleted topic's stream (options.live_streams), are dropped.
//      Besides small objects, an object of any size that still holds a live block is an input once its dead
//      blocks are at least half of it, or at least dead_bytes, or it has held dead blocks for dead_max_age (first
//      seen so by this process, steady clock); an input with dead blocks triggers a round by itself (even alone):
//      dead data inside shared objects goes, it is not kept for as long as a live neighbour lives. So every dead
//      byte is reclaimed within about dead_max_age (plus a pass interval and the grace), and an object is
//      rewritten for its dead blocks at most once per dead_max_age unless it is half dead or dead_bytes of it are.
//   3. a "pending" gc record <root>gc/<id> naming the outputs is written BEFORE they are PUT (crash: a later sweep
//      deletes them), then the outputs are PUT with put_if_absent under fresh keys (never reused).
//   4. the swap txn: compares every input key's mod revision (unchanged since the plan: no concurrent trim-GC,
//      retention or other compactor touched it) and the gc record's mod revision (no sweeper claimed it); then
//      deletes the inputs' keys, puts the outputs' keys and turns the gc record into a "replaced" record naming the
//      inputs, due after the grace. Lost compare: nothing changed; the outputs are deleted (best effort; the
//      pending record covers a crash).
// Garbage (sweep_gc): a record past its due time is claimed first (txn: state -> sweeping, comparing its mod
// revision, which fences a compactor still about to swap a pending record), then its objects are deleted, then
// the record. Seal markers are never named by an objects/ key, hence never by a gc record.
// Due time: a record is due only when BOTH its recorded wall-clock due_ms has passed AND this process has watched
// the record unchanged (same mod revision) for the grace on the steady clock. The wall clock alone could delete
// early after a clock jump (or a sweeper whose clock runs ahead of the writer's); the steady clock alone never
// can (a record is first seen after it was written), so the later of the two is used. A sweeper that just
// started (a new controller) therefore waits one grace before its first deletions: late, never early.
//
// Retirement (retire_unreferenced, garbage.cc; cluster mode, where no broker's memory sees every stream): from
// ONE linearizable read of every objects/ key, the stream starts and (through a hook) the live streams, all at one
// revision, an object is dead when every block of it is below its stream's start or belongs to a stream no live
// topic has (deleted topics). Dead objects are retired in txns that compare each objects/ key's mod revision
// (unchanged since the read), delete those keys and write a "replaced" gc record naming them, due after the
// grace: the objects themselves go in a later sweep_gc, so a reader that planned a GET before the trim still finds
// them. A dead object never comes back to life (starts only move forward; a topic id is never reused), so the
// compare on the key is all the txn needs.
//
// gc record value (<root>gc/<16 random hex>), big-endian:
//   +-----------+----------+------------+-----------+----------------------------------------+
//   | version u8| state u8 | due_ms i64 | count u32 | count x (key_len u16, key bytes)        |
//   |   (1)     | 0 pending| wall clock |           | object keys to delete once due          |
//   |           | 1 replaced, 2 sweeping |          |                                        |
//   +-----------+----------+------------+-----------+----------------------------------------+
//
// Threads: everything here is coroutines over the async object and metadata stores; the CPU-bound build of the
// outputs (copies, CRC-32C) runs on the `cpu` executor given in CompactionOptions.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "stream/object_ranges.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

// The live streams at a metadata revision (cluster mode: the streams of the topics that exist at it). nullopt:
// not known (an unreadable topic record): then no stream counts as deleted.
using LiveStreams = std::function<asio::awaitable<Result<std::optional<std::set<uint64_t>>>>(int64_t revision)>;

struct CompactionOptions {
  std::string meta_root = "/floe/";
  std::string output_prefix = "data/compacted/";  // output object keys: <prefix><32 random hex>
  size_t target_bytes = 64u << 20;                // compaction.target.bytes: output object size
  size_t small_object_bytes = 32u << 20;          // inputs: committed objects below this size
  size_t block_bytes = 1u << 20;                  // merged blocks up to this (one ranged GET per read)
  size_t min_objects = 8;                         // trigger: at least this many small objects...
  std::chrono::milliseconds max_age{300000};      // ...or at least 2, the oldest seen this long ago
  size_t max_inputs = 64;                         // inputs per round (the swap txn: inputs + outputs + 1 ops)
  size_t max_round_bytes = 256u << 20;            // input bytes read per round (memory bound)
  size_t max_txn_value_bytes = 1u << 20;          // metadata values per swap txn (etcd: 1.5 MiB a request)
  // Partly dead objects of any size are rewritten without their dead blocks once these are half of the object,
  // or at least dead_bytes (compaction.dead.bytes), or were first seen dead dead_max_age ago
  // (compaction.dead.max.age.ms).
  uint64_t dead_bytes = 16u << 20;
  std::chrono::milliseconds dead_max_age{3600000};
  std::chrono::milliseconds grace{60000};         // replaced objects live this long (object.gc.grace.ms)
  std::chrono::milliseconds object_timeout{30000};
  asio::any_io_executor cpu;  // where outputs are built; empty: the caller's executor
  // Cluster mode: the plan treats the blocks of streams not live at its revision as dead (dropped, like trimmed
  // blocks). Empty: no stream counts as deleted.
  LiveStreams live_streams;
};

// A gc record (see the diagram above).
struct GcRecord {
  enum class State : uint8_t { pending = 0, replaced = 1, sweeping = 2 };
  State state = State::pending;
  int64_t due_ms = 0;
  std::vector<std::string> keys;
};
std::string encode_gc_record(const GcRecord& record);
Result<GcRecord> decode_gc_record(std::string_view name, std::string_view value);

// What a successful swap changed: the caller updates its in-memory block map with it.
struct CompactionSwap {
  std::set<std::string> removed;    // input object keys (no longer in metadata)
  std::vector<ObjectRanges> added;  // outputs, committed
  int64_t revision = 0;             // the swap txn's revision
  uint64_t bytes_read = 0;          // input bytes
  uint64_t bytes_written = 0;       // output bytes
  size_t dropped_blocks = 0;        // trimmed blocks left out
};

struct CompactionPlanInfo {
  size_t objects = 0;        // committed objects in metadata
  size_t small_objects = 0;  // of them, compaction candidates (the backlog)
  uint64_t small_bytes = 0;
};

class Compactor {
 public:
  Compactor(CompactionOptions options, objstore::ObjectStore& objects, meta::MetaStore& meta);

  // One round: plans, and when the trigger holds, compacts one batch of inputs. nullopt: nothing to do (the
  // trigger does not hold). Errors: io_error (store), conflict (a compare failed: nothing changed; plan again).
  asio::awaitable<Result<std::optional<CompactionSwap>>> run_round();
  // The figures of the last plan.
  const CompactionPlanInfo& last_plan() const { return plan_info_; }

  // Deletes the objects of every gc record that is due (now_ms: wall clock; see "Due time" above), then the
  // record. Returns how many objects were deleted.
  asio::awaitable<Result<size_t>> sweep_gc(int64_t now_ms);

  using LiveStreams = stream::LiveStreams;
  struct Retired {
    std::set<std::string> keys;  // objects/ keys deleted (their objects are now named by gc records)
    size_t conflicts = 0;        // batches whose compares failed (changed meanwhile: the next pass plans again)
  };
  // Retires up to max_objects dead objects (see "Retirement" above). `live` may be empty (no stream is deleted).
  asio::awaitable<Result<Retired>> retire_unreferenced(LiveStreams live, size_t max_objects = 4096);

 private:
  struct Input {
    ObjectRanges ranges;
    int64_t mod_revision = 0;
    size_t value_bytes = 0;
  };
  asio::awaitable<Result<std::vector<Input>>> plan(std::map<uint64_t, int64_t>& starts);
  asio::awaitable<Status> delete_pending(const std::string& gc_key, int64_t gc_revision,
                                         const std::vector<std::string>& outputs);

  CompactionOptions options_;
  objstore::ObjectStore& objects_;
  meta::MetaStore& meta_;
  CompactionPlanInfo plan_info_;
  std::map<std::string, std::chrono::steady_clock::time_point> first_seen_;  // small objects (age trigger)
  // Objects holding dead and live blocks: when this process first saw them so (the dead age trigger). Bounded
  // like first_seen_: rebuilt from every plan.
  std::map<std::string, std::chrono::steady_clock::time_point> dead_seen_;
  // gc records: key -> (mod revision, when this process first saw the record at that revision): the steady-clock
  // half of the due time. Bounded by the gc/ keys in metadata (pruned on every sweep).
  std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> gc_seen_;
  void note_gc_record(const std::string& key, int64_t mod_revision);
};

}  // namespace floe::stream
