// Compactor::retire_unreferenced (compaction.h, "Retirement"): committed objects that nothing can read any more
// (every block below its stream's start, or of a deleted topic's stream) lose their objects/ key in a guarded txn
// that names them in a gc record; sweep_gc deletes the objects after the grace.
#include <algorithm>

#include "base/log.h"
#include "meta/meta_store.h"
#include "stream/committed_objects.h"
#include "stream/compaction.h"
#include "stream/errc.h"
#include "stream/stream_store_internal.h"

namespace floe::stream {

using detail::err;
using detail::kLog;

namespace {

constexpr size_t kRetireBatch = 50;                 // objects per txn: 2 ops each (compare, delete) + the record
constexpr size_t kRetireRecordBytes = 256u << 10;   // gc record value per txn (well inside etcd's 1.5 MiB)

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

asio::awaitable<Result<Compactor::Retired>> Compactor::retire_unreferenced(LiveStreams live, size_t max_objects) {
  struct Dead {
    std::string key;
    int64_t mod_revision = 0;
  };
  // The objects, at one revision (linearizable); the starts and the live streams at that same revision.
  std::vector<CommittedObject> objects;
  std::function<Status(CommittedObject&&)> keep = [&objects](CommittedObject&& o) {
    objects.push_back(std::move(o));
    return ok_status();
  };
  auto read = co_await read_committed_objects(meta_, options_.meta_root, keep, "gc");
  if (!read) co_return read.error();
  const int64_t revision = *read;
  auto read_starts = co_await read_stream_starts(meta_, options_.meta_root, revision, "gc");
  if (!read_starts) co_return read_starts.error();
  const std::map<uint64_t, int64_t>& starts = *read_starts;
  std::optional<std::set<uint64_t>> live_streams;
  if (live) {
    auto l = co_await live(revision);
    if (!l) co_return l.error();
    live_streams = std::move(*l);
  }

  std::vector<Dead> dead;
  for (const CommittedObject& o : objects) {
    if (o.ranges.blocks.empty()) continue;  // names no data: left alone (nothing shows it is garbage)
    const bool all_dead = std::all_of(o.ranges.blocks.begin(), o.ranges.blocks.end(), [&](const BlockInfo& b) {
      if (live_streams && live_streams->count(b.stream_id) == 0) return true;  // a deleted topic's stream
      auto s = starts.find(b.stream_id);
      return s != starts.end() && b.last_offset < s->second;
    });
    if (all_dead) dead.push_back(Dead{o.ranges.key, o.mod_revision});
    if (dead.size() >= max_objects) break;
  }

  Retired out;
  const std::string objects_prefix = options_.meta_root + "objects/";
  for (size_t i = 0; i < dead.size();) {
    meta::TxnRequest txn;
    GcRecord record;
    record.state = GcRecord::State::replaced;
    record.due_ms = wall_ms() + options_.grace.count();
    size_t record_bytes = 0;
    const size_t first = i;
    for (; i < dead.size() && i - first < kRetireBatch && record_bytes + dead[i].key.size() + 2 <= kRetireRecordBytes;
         ++i) {
      txn.compares.push_back(meta::Compare::mod_revision(objects_prefix + dead[i].key, meta::Compare::Result::equal,
                                                         dead[i].mod_revision));
      meta::DeleteRequest del;
      del.key = objects_prefix + dead[i].key;
      txn.success.emplace_back(std::move(del));
      record.keys.push_back(dead[i].key);
      record_bytes += dead[i].key.size() + 2;
    }
    const std::string gc_key = options_.meta_root + "gc/" + detail::random_hex(16);
    // Create-only: a random key never clashes, but the compare makes a replayed txn harmless.
    txn.compares.push_back(meta::Compare::create_revision(gc_key, meta::Compare::Result::equal, 0));
    meta::PutRequest put;
    put.key = gc_key;
    put.value = encode_gc_record(record);
    txn.success.emplace_back(std::move(put));
    auto r = co_await meta_.txn(std::move(txn));
    if (!r) co_return err(Errc::io_error, "gc: retire txn: " + r.error().message());
    if (!r->succeeded) {
      ++out.conflicts;  // one of them changed since the read (compacted, retired elsewhere): plan again later
      continue;
    }
    note_gc_record(gc_key, r->revision);
    for (size_t k = first; k < i; ++k) out.keys.insert(dead[k].key);
  }
  if (!out.keys.empty()) {
    log::info(kLog, "gc: retired ", out.keys.size(), " unreferenced object(s); deleted after the grace");
  }
  co_return out;
}

}  // namespace floe::stream
