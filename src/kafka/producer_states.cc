#include "kafka/producer_states.h"

#include <algorithm>
#include <cstdio>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "meta/meta_store.h"
#include "protocol/record/batch_view.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr std::string_view kLog = "producer";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void note_epoch(std::map<int32_t, int64_t>& epochs, int32_t epoch, int64_t offset) {
  if (epoch < 0) return;
  auto [it, inserted] = epochs.emplace(epoch, offset);
  if (!inserted) it->second = std::min(it->second, offset);
  while (epochs.size() > producer::kMaxSnapshotEpochs) epochs.erase(epochs.begin());
}

// Kafka's leader-epoch cache truncation from the log start: entries that begin below `start` go, except the
// latest of them, which now begins at `start` (so the history matches what a replay from the log start would see).
void truncate_epochs_below(std::vector<producer::EpochStart>& epochs, int64_t start) {
  size_t covering = 0;
  while (covering + 1 < epochs.size() && epochs[covering + 1].start_offset <= start) ++covering;
  epochs.erase(epochs.begin(), epochs.begin() + static_cast<std::ptrdiff_t>(covering));
  if (!epochs.empty() && epochs.front().start_offset < start) epochs.front().start_offset = start;
}

}  // namespace

ProducerStates::ProducerStates(ProducerStatesConfig config, stream::StreamStore& store, meta::MetaStore& meta,
                               int32_t leader_epoch)
    : config_(std::move(config)), store_(store), meta_(meta), leader_epoch_(leader_epoch) {}

ProducerStates::~ProducerStates() = default;

std::string ProducerStates::snapshot_key(uint64_t stream_id) const {
  char id[17];  // the stream's 16 hex digits, as StreamStore names its streams/<id>/start key
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(stream_id));
  return config_.meta_root + "streams/" + id + "/producers";
}

ProducerStates::Partition& ProducerStates::partition_locked(uint64_t stream_id) {
  Partition& p = partitions_[stream_id];
  if (!p.table) {
    // Not loaded: a partition created after start-up. Its epoch history starts as a new leader's does.
    p.table = std::make_shared<producer::ProducerStateTable>(config_.table);
    note_epoch(p.epochs, leader_epoch_, store_.ends(stream_id).durable);
    p.snapshot_time = std::chrono::steady_clock::now();
  }
  return p;
}

std::shared_ptr<producer::ProducerStateTable> ProducerStates::table(uint64_t stream_id) {
  std::lock_guard lock(mu_);
  return partition_locked(stream_id).table;
}

asio::awaitable<Status> ProducerStates::load(uint64_t stream_id, std::string name, int32_t leader_epoch) {
  Partition loaded;
  loaded.table = std::make_shared<producer::ProducerStateTable>(config_.table);
  loaded.snapshot_time = std::chrono::steady_clock::now();
  const std::string key = snapshot_key(stream_id);
  auto stored = co_await stored_snapshot(stream_id);
  if (!stored) co_return Error{stored.error(), "producer state of " + name + ": cannot read " + key};
  const stream::StreamEnds ends = store_.ends(stream_id);
  int64_t next = ends.start;
  if (*stored) {
    loaded.snapshot_revision = (*stored)->mod_revision;
    const std::string& value = (*stored)->value;
    auto snapshot = producer::decode_snapshot(
        std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    if (!snapshot) {
      log::warn(kLog, name, ": ignoring its producer snapshot (", snapshot.error().message, "); replaying the log");
    } else if (snapshot->next_offset > ends.durable) {
      log::warn(kLog, name, ": ignoring its producer snapshot at offset ", snapshot->next_offset,
                ", beyond the log's end ", ends.durable, "; replaying the log");
    } else {
      if (auto r = loaded.table->restore(*snapshot); !r) co_return r.error();
      loaded.table->expire(wall_ms());
      truncate_epochs_below(snapshot->leader_epochs, ends.start);
      for (const producer::EpochStart& e : snapshot->leader_epochs) {
        note_epoch(loaded.epochs, e.epoch, e.start_offset);
        store_.observe_epoch(stream_id, e.epoch, e.start_offset);
      }
      loaded.snapshot_offset = snapshot->next_offset;
      next = std::max(next, snapshot->next_offset);
      ++snapshots_loaded_;
    }
  }
  uint64_t replayed = 0;
  while (next < ends.durable) {
    auto r = co_await store_.read(stream_id, next, config_.replay_read_bytes);
    if (!r && r.error().code == stream::Errc::out_of_range && store_.ends(stream_id).start > next) {
      next = store_.ends(stream_id).start;  // retention moved the log start meanwhile: what was below is gone
      continue;
    }
    if (!r) co_return Error{r.error().code, "producer state of " + name + ": " + r.error().message};
    record::BatchSplitter split{proto::ByteSpan(r->batches)};
    const int64_t before = next;
    for (record::BatchView batch; split.next(batch);) {
      const record::BatchHeader& h = batch.header();
      const int64_t last = h.base_offset + h.last_offset_delta;
      if (last < next) continue;
      loaded.table->observe(h);
      note_epoch(loaded.epochs, h.partition_leader_epoch, h.base_offset);
      store_.observe_epoch(stream_id, h.partition_leader_epoch, h.base_offset);
      ++replayed;
      next = last + 1;
    }
    if (next == before) break;  // nothing readable at `next` (cannot happen on a healthy log): stop, do not spin
  }
  batches_replayed_ += replayed;
  // This load's epoch begins at the log end, as a new leader's does (even before it writes).
  const int64_t end = store_.ends(stream_id).durable;
  note_epoch(loaded.epochs, leader_epoch, end);
  store_.observe_epoch(stream_id, leader_epoch, end);
  loaded.batches_at_snapshot = loaded.table->applied_batches();
  log::debug(kLog, name, ": producer state loaded (", loaded.table->size(), " producers; snapshot at ",
             loaded.snapshot_offset, ", ", replayed, " batches replayed)");

  std::shared_ptr<producer::ProducerStateTable> previous;
  {
    std::lock_guard lock(mu_);
    Partition& slot = partitions_[stream_id];
    previous = std::move(slot.table);
    slot = std::move(loaded);
  }
  if (previous) previous->close();
  co_return ok_status();
}

asio::awaitable<meta::Result<std::optional<meta::KeyValue>>> ProducerStates::stored_snapshot(uint64_t stream_id) {
  {
    std::lock_guard lock(mu_);
    auto it = prepared_.find(stream_id);
    if (it != prepared_.end()) {
      std::optional<meta::KeyValue> kv = std::move(it->second);
      prepared_.erase(it);
      co_return kv;
    }
  }
  auto stored = co_await meta_.get(snapshot_key(stream_id));
  if (!stored) co_return stored.error();
  co_return std::move(*stored);
}

asio::awaitable<stream::StreamStore::PrefetchPlan> ProducerStates::prepare_loads(std::vector<uint64_t> stream_ids) {
  {
    std::lock_guard lock(mu_);
    prepared_.clear();
  }
  // The snapshots: up to kReadsPerTxn reads per round trip.
  constexpr size_t kReadsPerTxn = 128;  // etcd's --max-txn-ops
  std::map<uint64_t, std::optional<meta::KeyValue>> read;
  for (size_t at = 0; at < stream_ids.size(); at += kReadsPerTxn) {
    const size_t n = std::min(kReadsPerTxn, stream_ids.size() - at);
    meta::TxnRequest txn;
    for (size_t i = 0; i < n; ++i) {
      meta::RangeRequest get;
      get.key = snapshot_key(stream_ids[at + i]);
      txn.success.push_back(std::move(get));
    }
    auto r = co_await meta_.txn(std::move(txn));
    if (!r || !r->succeeded || r->responses.size() != n) {
      log::warn(kLog, "cannot read ", n, " producer snapshot(s) at once (each load reads its own): ",
                r ? "short answer" : r.error().message());
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      const auto* range = std::get_if<meta::RangeResponse>(&r->responses[i]);
      if (!range) break;
      read[stream_ids[at + i]] = range->kvs.empty() ? std::nullopt : std::optional<meta::KeyValue>(range->kvs.front());
    }
  }
  // What each load will replay: from its snapshot (when it is usable, as load() decides) or the log start, to the
  // end.
  std::vector<stream::StreamStore::PrefetchRange> ranges;
  for (const auto& [stream_id, kv] : read) {
    const stream::StreamEnds ends = store_.ends(stream_id);
    int64_t from = ends.start;
    if (kv) {
      auto snapshot = producer::decode_snapshot(
          std::span(reinterpret_cast<const uint8_t*>(kv->value.data()), kv->value.size()));
      if (snapshot && snapshot->next_offset <= ends.durable) from = std::max(from, snapshot->next_offset);
    }
    if (from < ends.durable) ranges.push_back({stream_id, from, ends.durable});
  }
  {
    std::lock_guard lock(mu_);
    prepared_ = std::move(read);
  }
  co_return store_.prefetch(ranges);
}

void ProducerStates::drop(uint64_t stream_id) {
  std::shared_ptr<producer::ProducerStateTable> previous;
  {
    std::lock_guard lock(mu_);
    prepared_.erase(stream_id);
    auto it = partitions_.find(stream_id);
    if (it == partitions_.end()) return;
    previous = std::move(it->second.table);
    partitions_.erase(it);
  }
  if (previous) previous->close();
}

asio::awaitable<Status> ProducerStates::rebuild_all(const cluster::TopicCatalog& catalog) {
  for (const cluster::TopicInfo& topic : catalog.list()) {
    for (int32_t p = 0; p < topic.partitions; ++p) {
      Status st = co_await load(cluster::stream_id_of(topic.id, p), topic.name + "-" + std::to_string(p),
                                leader_epoch_);
      if (!st) co_return st;
    }
  }
  co_return ok_status();
}

bool ProducerStates::snapshot_due(uint64_t stream_id, std::chrono::milliseconds interval, uint64_t batches,
                                  int64_t records) const {
  std::shared_ptr<producer::ProducerStateTable> table;
  int64_t offset = -1;
  uint64_t at_snapshot = 0;
  std::chrono::steady_clock::time_point when;
  {
    std::lock_guard lock(mu_);
    auto it = partitions_.find(stream_id);
    if (it == partitions_.end()) return false;
    table = it->second.table;
    offset = it->second.snapshot_offset;
    at_snapshot = it->second.batches_at_snapshot;
    when = it->second.snapshot_time;
  }
  // An empty partition needs none; otherwise only when the committed end moved past the stored snapshot.
  const stream::StreamEnds ends = store_.ends(stream_id);
  if (ends.committed <= std::max<int64_t>(offset, 0)) return false;
  // Retention removed log above the snapshot: a load would no longer see those batches, only the live table has
  // them. At once, whatever the interval.
  if (ends.start > std::max<int64_t>(offset, 0)) return true;
  if (records > 0 && ends.committed - std::max<int64_t>(offset, 0) >= records) return true;
  return std::chrono::steady_clock::now() - when >= interval || table->applied_batches() - at_snapshot >= batches;
}

Result<std::optional<ProducerStates::PendingSnapshot>> ProducerStates::capture_snapshot(
    uint64_t stream_id, std::optional<stream::StreamEnds> at) {
  PendingSnapshot pending;
  pending.stream_id = stream_id;
  int64_t previous_offset = -1;
  std::vector<producer::EpochStart> epochs;
  {
    std::lock_guard lock(mu_);
    auto it = partitions_.find(stream_id);
    if (it == partitions_.end()) return std::optional<PendingSnapshot>();
    pending.table = it->second.table;
    previous_offset = it->second.snapshot_offset;
    pending.revision = it->second.snapshot_revision;
    for (const auto& [epoch, start] : it->second.epochs) epochs.push_back({epoch, start});
  }
  pending.batches = pending.table->applied_batches();
  const stream::StreamEnds ends = at ? *at : store_.ends(stream_id);
  auto captured = pending.table->capture(ends.committed);
  if (!captured) {
    log::debug(kLog, "stream ", stream_id, ": no producer snapshot now: ", captured.error().message);
    return std::optional<PendingSnapshot>();
  }
  producer::ProducerSnapshot& snapshot = *captured;
  if (snapshot.next_offset <= previous_offset) return std::optional<PendingSnapshot>();  // nothing new committed
  for (const producer::EpochStart& e : epochs) {
    if (e.start_offset <= snapshot.next_offset) snapshot.leader_epochs.push_back(e);
  }
  truncate_epochs_below(snapshot.leader_epochs, std::min(ends.start, snapshot.next_offset));
  producer::SnapshotBounds bounds;
  bounds.max_producers = config_.max_snapshot_producers;
  bounds.producer_id_expiration_ms = config_.table.producer_id_expiration_ms;
  producer::bound_snapshot(snapshot, bounds, wall_ms());
  auto blob = producer::encode_snapshot(snapshot);
  if (!blob) return blob.error();
  pending.next_offset = snapshot.next_offset;
  pending.key = snapshot_key(stream_id);
  pending.value.assign(blob->begin(), blob->end());
  return std::optional<PendingSnapshot>(std::move(pending));
}

void ProducerStates::snapshot_written(const PendingSnapshot& pending, int64_t revision) {
  {
    std::lock_guard lock(mu_);
    auto it = partitions_.find(pending.stream_id);
    if (it != partitions_.end() && it->second.table == pending.table) {
      it->second.snapshot_offset = pending.next_offset;
      it->second.snapshot_revision = revision;
      it->second.batches_at_snapshot = pending.batches;
      it->second.snapshot_time = std::chrono::steady_clock::now();
    }
  }
  ++snapshots_written_;
}

void ProducerStates::add_snapshot_put(meta::TxnRequest& txn, const PendingSnapshot& pending) {
  txn.compares.push_back(meta::Compare::mod_revision(pending.key, meta::Compare::Result::equal, pending.revision));
  meta::PutRequest put;
  put.key = pending.key;
  put.value = pending.value;
  txn.success.push_back(std::move(put));
}

asio::awaitable<Result<bool>> ProducerStates::write_snapshot(uint64_t stream_id,
                                                            std::optional<stream::StreamEnds> at) {
  auto captured = capture_snapshot(stream_id, at);
  if (!captured) co_return captured.error();
  if (!*captured) co_return false;
  const PendingSnapshot& pending = **captured;
  meta::TxnRequest txn;
  add_snapshot_put(txn, pending);
  auto written = co_await meta_.txn(std::move(txn));
  if (!written) co_return Error{written.error(), "producer snapshot: cannot write " + pending.key};
  if (!written->succeeded) {
    // Another broker wrote it (the partition moved, or is moving): adopt its revision and skip this round.
    auto now = co_await meta_.get(pending.key);
    if (!now) co_return Error{now.error(), "producer snapshot: cannot read " + pending.key};
    log::warn(kLog, "stream ", stream_id, ": its producer snapshot was written elsewhere; skipped");
    std::lock_guard lock(mu_);
    auto it = partitions_.find(stream_id);
    if (it != partitions_.end() && it->second.table == pending.table) {
      it->second.snapshot_revision = *now ? (*now)->mod_revision : 0;
    }
    co_return false;
  }
  snapshot_written(pending, written->revision);
  co_return true;
}

asio::awaitable<Result<ProducerStates::SnapshotPass>> ProducerStates::write_snapshots(
    std::vector<uint64_t> stream_ids, size_t max_bytes, const std::map<uint64_t, stream::StreamEnds>* ends_at) {
  auto given_ends = [ends_at](uint64_t stream_id) -> std::optional<stream::StreamEnds> {
    if (ends_at == nullptr) return std::nullopt;
    auto it = ends_at->find(stream_id);
    if (it == ends_at->end()) return std::nullopt;
    return it->second;
  };
  SnapshotPass pass;
  size_t& written = pass.written;
  std::vector<PendingSnapshot> chunk;
  meta::TxnRequest txn;
  size_t chunk_bytes = 0;
  // One txn per chunk; a chunk that loses a compare (a partition moved meanwhile) is redone one by one, so that
  // every other partition's snapshot is still written and the lost one adopts the other writer's revision.
  auto flush = [&]() -> asio::awaitable<Status> {
    if (chunk.empty()) co_return ok_status();
    auto r = co_await meta_.txn(std::move(txn));
    txn = meta::TxnRequest{};
    chunk_bytes = 0;
    std::vector<PendingSnapshot> done = std::move(chunk);
    chunk.clear();
    if (!r) co_return Error{r.error(), "producer snapshots: cannot write " + std::to_string(done.size()) + " keys"};
    if (r->succeeded) {
      for (const PendingSnapshot& p : done) snapshot_written(p, r->revision);
      written += done.size();
      co_return ok_status();
    }
    for (const PendingSnapshot& p : done) {
      std::optional<stream::StreamEnds> at = given_ends(p.stream_id);
      auto one = co_await write_snapshot(p.stream_id, at);
      if (!one) co_return one.error();
      if (*one) ++written;
    }
    co_return ok_status();
  };
  for (uint64_t stream_id : stream_ids) {
    if (pass.bytes >= max_bytes) break;  // the rest in a later pass
    ++pass.visited;
    auto captured = capture_snapshot(stream_id, given_ends(stream_id));
    if (!captured) {
      log::warn(kLog, "stream ", stream_id, ": ", captured.error().message);
      continue;
    }
    if (!*captured) continue;
    const size_t bytes = (*captured)->key.size() * 2 + (*captured)->value.size();
    if (!chunk.empty() && (chunk.size() >= kSnapshotsPerTxn || chunk_bytes + bytes > kSnapshotTxnBytes)) {
      if (Status st = co_await flush(); !st) co_return st.error();
    }
    add_snapshot_put(txn, **captured);
    chunk_bytes += bytes;
    pass.bytes += (*captured)->value.size();
    chunk.push_back(std::move(**captured));
  }
  if (Status st = co_await flush(); !st) co_return st.error();
  co_return pass;
}

asio::awaitable<Status> ProducerStates::delete_snapshot(uint64_t stream_id) {
  drop(stream_id);
  meta::DeleteRequest del;
  del.key = snapshot_key(stream_id);
  auto r = co_await meta_.del(std::move(del));
  if (!r) co_return Error{r.error(), "producer snapshot: cannot delete " + snapshot_key(stream_id)};
  co_return ok_status();
}

size_t ProducerStates::expire_all(int64_t now_ms) {
  std::vector<std::shared_ptr<producer::ProducerStateTable>> tables;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : partitions_) tables.push_back(p.table);
  }
  size_t n = 0;
  for (const auto& t : tables) n += t->expire(now_ms);
  return n;
}

std::vector<uint64_t> ProducerStates::stream_ids() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, p] : partitions_) out.push_back(id);
  return out;
}

int64_t ProducerStates::snapshot_offset(uint64_t stream_id) const {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(stream_id);
  return it == partitions_.end() ? -1 : it->second.snapshot_offset;
}

}  // namespace floe::kafka
