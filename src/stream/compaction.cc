#include "stream/compaction.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "meta/meta_store.h"
#include "objstore/object_store.h"
#include "protocol/wire.h"
#include "stream/committed_objects.h"
#include "stream/errc.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

using detail::err;
using detail::kLog;

namespace {

constexpr size_t kMaxTxnOps = 128;  // etcd --max-txn-ops
constexpr size_t kPage = 500;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One block of an output: consecutive input blocks of one stream (offsets contiguous), copied in order.
struct Piece {
  size_t input = 0;  // index into the round's inputs
  BlockInfo block;
};
struct OutBlock {
  uint64_t stream = 0;
  std::vector<Piece> pieces;
  int64_t first = 0, last = 0, max_ts = 0;
  uint64_t bytes = 0;
};
struct OutObject {
  std::vector<OutBlock> blocks;
  uint64_t bytes = 0;
};
struct Layout {
  std::vector<OutObject> outputs;
  size_t dropped = 0;
  bool overlap = false;
};

// The outputs of a round, from metadata alone: streams in id order, each stream's live blocks in offset order,
// contiguous ones merged up to block_bytes, packed into objects up to target_bytes.
template <typename Inputs>
Layout lay_out(const Inputs& inputs, size_t count, const std::map<uint64_t, int64_t>& starts,
               const CompactionOptions& o) {
  Layout out;
  std::map<uint64_t, std::vector<Piece>> by_stream;
  for (size_t i = 0; i < count; ++i) {
    for (const BlockInfo& b : inputs[i].ranges.blocks) {
      auto start = starts.find(b.stream_id);
      if (start != starts.end() && b.last_offset < start->second) {
        ++out.dropped;  // trimmed: nothing reads it any more
        continue;
      }
      by_stream[b.stream_id].push_back(Piece{i, b});
    }
  }
  OutObject current;
  auto finish_object = [&] {
    if (!current.blocks.empty()) out.outputs.push_back(std::move(current));
    current = OutObject{};
  };
  for (auto& [stream, pieces] : by_stream) {
    std::sort(pieces.begin(), pieces.end(),
              [](const Piece& a, const Piece& b) { return a.block.first_offset < b.block.first_offset; });
    OutBlock block;
    auto finish_block = [&] {
      if (block.pieces.empty()) return;
      if (!current.blocks.empty() && current.bytes + block.bytes > o.target_bytes) finish_object();
      current.bytes += block.bytes;
      current.blocks.push_back(std::move(block));
      block = OutBlock{};
    };
    for (const Piece& p : pieces) {
      if (!block.pieces.empty() && p.block.first_offset <= block.last) {
        out.overlap = true;  // two committed blocks share offsets: not ours to resolve
        return out;
      }
      const bool joins = !block.pieces.empty() && p.block.first_offset == block.last + 1 &&
                         block.bytes + p.block.size <= o.block_bytes;
      if (!joins) {
        finish_block();
        block.stream = stream;
        block.first = p.block.first_offset;
        block.max_ts = p.block.max_timestamp;
      }
      block.pieces.push_back(p);
      block.last = p.block.last_offset;
      block.max_ts = std::max(block.max_ts, p.block.max_timestamp);
      block.bytes += p.block.size;
    }
    finish_block();
  }
  finish_object();
  return out;
}

}  // namespace

std::string encode_gc_record(const GcRecord& record) {
  Bytes out;
  proto::Writer w(out);
  w.i8(1);
  w.i8(static_cast<int8_t>(record.state));
  w.i64(record.due_ms);
  w.u32(static_cast<uint32_t>(record.keys.size()));
  for (const std::string& k : record.keys) {
    w.u16(static_cast<uint16_t>(k.size()));
    w.raw(k.data(), k.size());
  }
  return std::string(out.begin(), out.end());
}

Result<GcRecord> decode_gc_record(std::string_view name, std::string_view value) {
  auto bad = [&](const char* what) {
    return Error{make_error_code(Errc::corrupt_object), "gc record " + std::string(name) + ": " + what};
  };
  proto::Reader r(ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  if (r.i8() != 1) return bad("unknown version");
  GcRecord out;
  const int8_t state = r.i8();
  if (state < 0 || state > 2) return bad("unknown state");
  out.state = static_cast<GcRecord::State>(state);
  out.due_ms = r.i64();
  const uint32_t count = r.u32();
  if (!r.ok() || count > r.remaining() / 2) return bad("truncated");
  for (uint32_t i = 0; i < count; ++i) {
    const uint16_t len = r.u16();
    ByteSpan key = r.span(len);
    if (!r.ok()) return bad("truncated");
    out.keys.emplace_back(reinterpret_cast<const char*>(key.data()), key.size());
  }
  if (!r.at_end()) return bad("trailing bytes");
  return out;
}

Compactor::Compactor(CompactionOptions options, objstore::ObjectStore& objects, meta::MetaStore& meta)
    : options_(std::move(options)), objects_(objects), meta_(meta) {}

asio::awaitable<Result<std::vector<Compactor::Input>>> Compactor::plan(std::map<uint64_t, int64_t>& starts) {
  std::vector<Input> all;
  CompactionPlanInfo info;
  // One linearizable read: the objects at one revision, and the starts (and live streams) read at that revision.
  std::function<Status(CommittedObject&&)> collect = [&](CommittedObject&& o) {
    ++info.objects;
    all.push_back(Input{std::move(o.ranges), o.mod_revision, o.value_bytes});
    return ok_status();
  };
  auto read = co_await read_committed_objects(meta_, options_.meta_root, collect, "compaction");
  if (!read) co_return read.error();
  const int64_t revision = *read;
  auto read_starts = co_await read_stream_starts(meta_, options_.meta_root, revision, "compaction");
  if (!read_starts) co_return read_starts.error();
  starts = std::move(*read_starts);
  if (options_.live_streams) {
    // A deleted topic's stream: everything of it is dead, as if trimmed to the end (its blocks are dropped).
    auto live = co_await options_.live_streams(revision);
    if (!live) co_return live.error();
    if (*live) {
      for (const Input& in : all) {
        for (const BlockInfo& b : in.ranges.blocks) {
          if ((*live)->count(b.stream_id) == 0) starts[b.stream_id] = INT64_MAX;
        }
      }
    }
  }
  // Inputs: small objects, and objects of any size with dead blocks (trimmed, deleted streams) that still hold a
  // live block (wholly dead ones are retired whole: retire_unreferenced) once the dead part is half of the object,
  // or dead_bytes, or was first seen dead_max_age ago. A candidate with dead blocks ("dirty") triggers a round by
  // itself, so dead data inside shared objects is dropped, not kept forever.
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, std::chrono::steady_clock::time_point> dead_seen;
  std::vector<Input> small;
  size_t dirty = 0;
  for (Input& in : all) {
    uint64_t dead = 0;
    bool any_live = false;
    for (const BlockInfo& b : in.ranges.blocks) {
      auto s = starts.find(b.stream_id);
      if (s != starts.end() && b.last_offset < s->second) {
        dead += b.size;
      } else {
        any_live = true;
      }
    }
    const bool is_small = in.ranges.object_size < options_.small_object_bytes;
    bool dead_enough = false;
    if (any_live && dead > 0) {
      auto seen = dead_seen_.find(in.ranges.key);
      const auto since = seen == dead_seen_.end() ? now : seen->second;
      dead_seen.emplace(in.ranges.key, since);
      dead_enough = dead * 2 >= in.ranges.object_size || dead >= options_.dead_bytes ||
                    now - since >= options_.dead_max_age;
    }
    if (!is_small && !dead_enough) continue;
    if (is_small) {
      ++info.small_objects;
      info.small_bytes += in.ranges.object_size;
    }
    if (dead > 0 && any_live) ++dirty;
    small.push_back(std::move(in));
  }
  all.clear();
  plan_info_ = info;
  dead_seen_ = std::move(dead_seen);

  // The age trigger: when each small object was first seen here (bounded by the objects in metadata).
  std::map<std::string, std::chrono::steady_clock::time_point> seen;
  auto oldest = now;
  for (const Input& in : small) {
    auto it = first_seen_.find(in.ranges.key);
    const auto t = it == first_seen_.end() ? now : it->second;
    seen.emplace(in.ranges.key, t);
    oldest = std::min(oldest, t);
  }
  first_seen_ = std::move(seen);
  const bool triggered = dirty > 0 || small.size() >= std::max<size_t>(options_.min_objects, 2) ||
                         (small.size() >= 2 && info.small_bytes >= options_.target_bytes) ||
                         (small.size() >= 2 && now - oldest >= options_.max_age);
  if (!triggered) co_return std::vector<Input>{};

  // Oldest commits first, within the round's bounds (see compaction.h).
  std::sort(small.begin(), small.end(), [](const Input& a, const Input& b) { return a.mod_revision < b.mod_revision; });
  const size_t max_inputs = std::min<size_t>(options_.max_inputs, kMaxTxnOps - 8);
  std::vector<Input> round;
  uint64_t bytes = 0;
  size_t values = 0;
  for (Input& in : small) {
    if (round.size() >= max_inputs) break;
    const size_t value_cost = in.value_bytes + in.ranges.key.size() + 64;  // its blocks in an output + gc record
    if (!round.empty() && (bytes + in.ranges.object_size > options_.max_round_bytes ||
                           values + value_cost > options_.max_txn_value_bytes)) {
      break;
    }
    bytes += in.ranges.object_size;
    values += value_cost;
    round.push_back(std::move(in));
  }
  co_return round;
}

asio::awaitable<Result<std::optional<CompactionSwap>>> Compactor::run_round() {
  std::map<uint64_t, int64_t> starts;
  auto planned = co_await plan(starts);
  if (!planned) co_return planned.error();
  std::vector<Input> inputs = std::move(*planned);
  // One input is worth a round when it carries dead blocks (its rewrite drops them).
  auto has_dead = [&starts](const Input& in) {
    return std::any_of(in.ranges.blocks.begin(), in.ranges.blocks.end(), [&](const BlockInfo& b) {
      auto s = starts.find(b.stream_id);
      return s != starts.end() && b.last_offset < s->second;
    });
  };
  const size_t min_inputs = std::any_of(inputs.begin(), inputs.end(), has_dead) ? 1 : 2;
  if (inputs.size() < min_inputs) co_return std::optional<CompactionSwap>();

  // Fewer inputs until the swap fits one txn: inputs + outputs + the gc record ops.
  Layout layout;
  size_t count = inputs.size();
  for (; count >= min_inputs; --count) {
    layout = lay_out(inputs, count, starts, options_);
    if (layout.overlap) {
      co_return err(Errc::corrupt_object, "compaction: committed blocks of one stream overlap; not compacting");
    }
    if (count + layout.outputs.size() + 1 <= kMaxTxnOps) break;
  }
  if (count < min_inputs) co_return std::optional<CompactionSwap>();
  inputs.resize(count);

  // Read the inputs (whole objects; the used blocks are checked against their CRC).
  std::vector<std::string> data(inputs.size());
  CompactionSwap swap;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto got =
        co_await objects_.get(inputs[i].ranges.key, std::nullopt, objstore::Clock::now() + options_.object_timeout);
    if (!got) {
      // Gone (collected since the plan) or unreadable: plan again next time.
      co_return Error{
          got.error == objstore::Errc::not_found ? make_error_code(Errc::conflict) : make_error_code(Errc::io_error),
          "compaction: GET " + inputs[i].ranges.key + ": " + got.error.message()};
    }
    if (got.value.size() != inputs[i].ranges.object_size) {
      co_return err(Errc::corrupt_object, "compaction: " + inputs[i].ranges.key + " has another size than committed");
    }
    swap.bytes_read += got.value.size();
    data[i] = std::move(got.value);
  }

  // Build the outputs (CPU: copies and CRC-32C) on the cpu executor.
  std::vector<std::pair<ObjectRanges, std::string>> outputs;
  auto build = [&]() -> asio::awaitable<Status> {
    for (const OutObject& o : layout.outputs) {
      SegmentWriter writer;
      for (const OutBlock& b : o.blocks) {
        std::vector<ByteSpan> parts;
        for (const Piece& p : b.pieces) {
          ByteSpan bytes(reinterpret_cast<const uint8_t*>(data[p.input].data()) + p.block.position, p.block.size);
          if (Status st = verify_block(p.block, bytes, inputs[p.input].ranges.key); !st) co_return st;
          parts.push_back(bytes);
        }
        if (Status st = writer.add_parts(b.stream, b.first, b.last, b.max_ts, parts); !st) co_return st;
      }
      ObjectRanges ranges;
      ranges.key = options_.output_prefix + detail::random_hex(16);  // never reused
      ranges.blocks = writer.blocks();
      std::string object = writer.finish_string();
      ranges.object_size = object.size();
      outputs.emplace_back(std::move(ranges), std::move(object));
    }
    co_return ok_status();
  };
  Status built = ok_status();
  if (options_.cpu) {
    built = co_await asio::co_spawn(options_.cpu, build(), asio::use_awaitable);
  } else {
    built = co_await build();
  }
  if (!built) co_return built.error();
  data.clear();
  swap.dropped_blocks = layout.dropped;

  // The pending gc record first: a crash from here on leaves outputs that a sweep deletes.
  const std::string gc_key = options_.meta_root + "gc/" + detail::random_hex(16);
  GcRecord pending;
  pending.state = GcRecord::State::pending;
  pending.due_ms = wall_ms() + options_.grace.count();
  for (const auto& [ranges, object] : outputs) pending.keys.push_back(ranges.key);
  meta::PutRequest put_pending;
  put_pending.key = gc_key;
  put_pending.value = encode_gc_record(pending);
  auto pending_put = co_await meta_.put(put_pending);
  if (!pending_put)
    co_return err(Errc::io_error, "compaction: cannot write " + gc_key + ": " + pending_put.error().message());
  const int64_t gc_revision = pending_put->revision;
  note_gc_record(gc_key, gc_revision);

  for (auto& [ranges, object] : outputs) {
    swap.bytes_written += object.size();
    auto put = co_await objects_.put_if_absent(ranges.key, std::move(object),
                                               objstore::Clock::now() + options_.object_timeout);
    if (!put || (!put.value.created && !put.value.ambiguous)) {
      // Not written (or a key clash): the pending record deletes whatever landed.
      co_return err(Errc::io_error, "compaction: PUT " + ranges.key + " failed" +
                                        (put ? std::string(": key exists") : ": " + put.error.message()));
    }
  }

  // The swap: ONE txn, guarded by every input's mod revision and the gc record's.
  meta::TxnRequest txn;
  GcRecord replaced;
  replaced.state = GcRecord::State::replaced;
  replaced.due_ms = wall_ms() + options_.grace.count();
  const std::string objects_prefix = options_.meta_root + "objects/";
  for (const Input& in : inputs) {
    txn.compares.push_back(
        meta::Compare::mod_revision(objects_prefix + in.ranges.key, meta::Compare::Result::equal, in.mod_revision));
    meta::DeleteRequest del;
    del.key = objects_prefix + in.ranges.key;
    txn.success.emplace_back(std::move(del));
    replaced.keys.push_back(in.ranges.key);
    swap.removed.insert(in.ranges.key);
  }
  txn.compares.push_back(meta::Compare::mod_revision(gc_key, meta::Compare::Result::equal, gc_revision));
  for (const auto& [ranges, object] : outputs) {
    meta::PutRequest put;
    put.key = objects_prefix + ranges.key;
    put.value = encode_object_ranges(ranges);
    txn.success.emplace_back(std::move(put));
    swap.added.push_back(ranges);
  }
  meta::PutRequest put_replaced;
  put_replaced.key = gc_key;
  put_replaced.value = encode_gc_record(replaced);
  txn.success.emplace_back(std::move(put_replaced));
  if (std::error_code ec = meta::validate_txn(txn, meta::TxnLimits{}); ec) {
    (void)co_await delete_pending(gc_key, gc_revision, pending.keys);
    co_return err(Errc::too_large, "compaction: the swap txn is over etcd's limits: " + ec.message());
  }
  auto swapped = co_await meta_.txn(std::move(txn));
  if (!swapped) {
    // Outcome unknown: the txn may have applied. Leave it to the gc record, whichever state it is in.
    co_return err(Errc::io_error, "compaction: swap txn: " + swapped.error().message());
  }
  if (!swapped->succeeded) {
    (void)co_await delete_pending(gc_key, gc_revision, pending.keys);
    co_return err(Errc::conflict, "compaction: the inputs changed since the plan; nothing swapped");
  }
  swap.revision = swapped->revision;
  note_gc_record(gc_key, swapped->revision);  // the grace of the replaced inputs starts now (steady clock)
  co_return std::optional<CompactionSwap>(std::move(swap));
}

asio::awaitable<Status> Compactor::delete_pending(const std::string& gc_key, int64_t gc_revision,
                                                  const std::vector<std::string>& outputs) {
  // Only while the record is still ours (unclaimed): then nothing references the outputs.
  meta::TxnRequest claim;
  claim.compares.push_back(meta::Compare::mod_revision(gc_key, meta::Compare::Result::equal, gc_revision));
  meta::DeleteRequest del;
  del.key = gc_key;
  auto r = co_await meta_.get(gc_key);
  if (!r || !*r || (*r)->mod_revision != gc_revision) co_return ok_status();  // claimed by a sweep: its job
  auto removed = co_await objects_.remove_many(outputs, objstore::Clock::now() + options_.object_timeout);
  if (!removed || !removed.value.empty()) co_return ok_status();  // the record stays: a sweep retries
  claim.success.emplace_back(std::move(del));
  auto done = co_await meta_.txn(std::move(claim));
  if (!done) co_return err(Errc::io_error, "compaction: cannot delete " + gc_key + ": " + done.error().message());
  co_return ok_status();
}

void Compactor::note_gc_record(const std::string& key, int64_t mod_revision) {
  auto it = gc_seen_.find(key);
  if (it == gc_seen_.end() || it->second.first != mod_revision) {
    gc_seen_[key] = {mod_revision, std::chrono::steady_clock::now()};
  }
}

asio::awaitable<Result<size_t>> Compactor::sweep_gc(int64_t now_ms) {
  const std::string prefix = options_.meta_root + "gc/";
  const std::string objects_prefix = options_.meta_root + "objects/";
  size_t deleted = 0;
  std::string from = prefix;
  std::set<std::string> listed;  // gc_seen_ keeps only records still in metadata
  struct Prune {
    std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>>& seen;
    std::set<std::string>& listed;
    bool complete = false;
    ~Prune() {
      if (complete) std::erase_if(seen, [&](const auto& kv) { return listed.count(kv.first) == 0; });
    }
  } prune{gc_seen_, listed};
  for (;;) {
    meta::RangeRequest req;
    req.key = from;
    req.range_end = meta::prefix_end(prefix);
    req.limit = kPage;
    auto page = co_await meta_.range(req);
    if (!page) co_return err(Errc::io_error, "gc: cannot list " + prefix + ": " + page.error().message());
    for (const auto& kv : page->kvs) {
      auto record = decode_gc_record(kv.key, kv.value);
      if (!record) {
        log::warn(kLog, record.error().message, "; left alone");
        continue;
      }
      listed.insert(kv.key);
      note_gc_record(kv.key, kv.mod_revision);
      // Due: the recorded wall-clock time has passed AND this process watched the record unchanged for the
      // grace on the steady clock (compaction.h: a clock jump never deletes early).
      if (record->due_ms > now_ms) continue;
      if (std::chrono::steady_clock::now() - gc_seen_[kv.key].second < options_.grace) continue;
      int64_t claimed = kv.mod_revision;
      if (record->state != GcRecord::State::sweeping) {
        // Claim: fences a compactor about to swap a pending record (its swap compares this mod revision).
        GcRecord sweeping = *record;
        sweeping.state = GcRecord::State::sweeping;
        meta::TxnRequest claim;
        claim.compares.push_back(meta::Compare::mod_revision(kv.key, meta::Compare::Result::equal, kv.mod_revision));
        meta::PutRequest put;
        put.key = kv.key;
        put.value = encode_gc_record(sweeping);
        claim.success.emplace_back(std::move(put));
        auto r = co_await meta_.txn(std::move(claim));
        if (!r) co_return err(Errc::io_error, "gc: cannot claim " + kv.key + ": " + r.error().message());
        if (!r->succeeded) continue;  // changed meanwhile (swapped, or another sweeper): next pass
        claimed = r->revision;
      }
      // Insurance: never delete an object a committed key still names.
      std::vector<std::string> unreferenced;
      for (const std::string& key : record->keys) {
        auto ref = co_await meta_.get(objects_prefix + key);
        if (!ref)
          co_return err(Errc::io_error, "gc: cannot read " + objects_prefix + key + ": " + ref.error().message());
        if (*ref) {
          log::error(kLog, "gc record ", kv.key, " names ", key, ", which is still committed; kept");
          continue;
        }
        unreferenced.push_back(key);
      }
      if (!unreferenced.empty()) {
        auto removed = co_await objects_.remove_many(unreferenced, objstore::Clock::now() + options_.object_timeout);
        if (!removed) co_return err(Errc::io_error, "gc: delete of objects failed: " + removed.error.message());
        if (!removed.value.empty()) {
          log::warn(kLog, "gc: ", removed.value.size(), " object(s) of ", kv.key, " not deleted; retrying later");
          continue;
        }
      }
      meta::TxnRequest drop;
      drop.compares.push_back(meta::Compare::mod_revision(kv.key, meta::Compare::Result::equal, claimed));
      meta::DeleteRequest del;
      del.key = kv.key;
      drop.success.emplace_back(std::move(del));
      auto r = co_await meta_.txn(std::move(drop));
      if (!r) co_return err(Errc::io_error, "gc: cannot delete " + kv.key + ": " + r.error().message());
      deleted += unreferenced.size();
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + '\0';
  }
  prune.complete = true;
  co_return deleted;
}

}  // namespace floe::stream
