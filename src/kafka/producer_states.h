// The idempotence state of every partition this broker leads (one producer::ProducerStateTable per stream), with
// its snapshots in the metadata store (DESIGN §8).
//
// Loading a partition (load(): at start-up for every partition through rebuild_all(), and in cluster mode when the
// broker takes a partition over) reads the partition's snapshot, then replays only the log from
// max(snapshot offset, log start) to the durable end: batch headers feed the table and the stream's leader-epoch
// history (StreamStore::observe_epoch), and this load's leader epoch is noted at the durable end. A missing, corrupt
// or stale snapshot (one beyond the log's end) is logged and ignored: a full replay from the log start.
// Partitions created after loading start empty when first used. drop() forgets a partition given up.
//
// Snapshots (write_snapshot(), driven by ProducerSnapshotTask) describe committed data only: the table is captured at
// the stream's committed end (ProducerStateTable::capture keeps each producer's batches below it, and stays below
// batches still in flight), so a snapshot never reflects data that could still disappear. This rather than waiting
// for durable == committed, which a partition under steady produce load may never reach. Each snapshot carries the
// partition's leader-epoch history below its offset (loading skips that part of the log, which is what fed the
// history), cut at the log start as Kafka cuts its leader-epoch cache (when written, and again when loaded). Expired producers (producer.id.expiration.ms) and, beyond max_producers, the least recently active are
// left out, which bounds the value (producer_snapshot.h).
//
// Metadata key, one per partition: <meta_root>streams/<stream id, 16 hex digits>/producers = the snapshot blob
// (beside StreamStore's streams/<id>/start). Written with a compare on the key's mod_revision as last seen, so a
// broker that lost the partition without knowing yet cannot overwrite the new owner's newer snapshot; on a lost
// compare the snapshot is skipped and the revision re-read.
//
// Thread-safety: every member function may be called from any thread; load() and write_snapshot() of one partition
// must not overlap (the snapshot task and the owner of the partition's lifecycle run on one executor).
#pragma once

#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "meta/errors.h"
#include "meta/types.h"
#include "producer/producer_snapshot.h"
#include "producer/producer_state.h"
#include "stream/stream_store.h"

namespace floe::cluster {
class TopicCatalog;
}
namespace floe::meta {
class MetaStore;
}
namespace floe::kafka {

struct ProducerStatesConfig {
  std::string meta_root = "/floe/";  // ends with '/'
  producer::TableConfig table;
  size_t max_snapshot_producers = 5000;  // producers kept in a snapshot (clamped to kMaxSnapshotProducers)
  size_t replay_read_bytes = 4u << 20;   // one log read while loading
};

class ProducerStates {
 public:
  // `leader_epoch`: the epoch this broker stamps on partitions it did not load (created after start-up).
  ProducerStates(ProducerStatesConfig config, stream::StreamStore& store, meta::MetaStore& meta,
                 int32_t leader_epoch);
  ~ProducerStates();

  // The table of `stream_id`, created empty on first use. Shared: a produce in progress keeps it alive across a
  // drop() or a reload (a dropped table is closed: what waits on it gets Errc::closed, NOT_LEADER_OR_FOLLOWER).
  std::shared_ptr<producer::ProducerStateTable> table(uint64_t stream_id);

  // Loads one partition (see the file comment) and installs its table, replacing (and closing) any previous one.
  // Call before serving the partition. `name` is for log lines ("topic-3").
  asio::awaitable<Status> load(uint64_t stream_id, std::string name, int32_t leader_epoch);
  // Before loading many partitions at once (the partitions a broker takes over in a failover; call it after
  // StreamStore::acquire and before their load()s): reads their snapshots in a few round trips (up to 128 reads in
  // one txn) and keeps them for the load()s, then has the StreamStore prefetch every log range those load()s will
  // replay (StreamStore::prefetch: each shared WAL object read once for all of them, not once per partition).
  // Best effort: on a failure each load() reads for itself. Returns the prefetch plan.
  asio::awaitable<stream::StreamStore::PrefetchPlan> prepare_loads(std::vector<uint64_t> stream_ids);
  // Forgets a partition this broker no longer leads (its snapshot stays for the next owner).
  void drop(uint64_t stream_id);
  // load() of every partition of every topic, with the broker's leader epoch (start-up, before serving).
  asio::awaitable<Status> rebuild_all(const cluster::TopicCatalog& catalog);

  // Whether `stream_id` should be snapshotted now: its committed end moved past its snapshot and either
  // `interval` went by since the last one, or `batches` idempotent batches were applied since, or the log start
  // moved past the snapshot (retention: a load could not replay what is between them any more).
  // `records`: or the committed end moved this many offsets past the snapshot (bounds what a load replays on a
  // busy partition; 0: no such trigger).
  bool snapshot_due(uint64_t stream_id, std::chrono::milliseconds interval, uint64_t batches,
                    int64_t records = 0) const;
  // Writes the snapshot of `stream_id` as of its committed end. True when written; false when there was nothing
  // new to write (or a producer is in doubt, or another writer got there first: logged).
  // `at`: the stream's ends to snapshot at instead of the store's (a stream just released is forgotten by the
  // store: StreamStore::release returns its ends).
  asio::awaitable<Result<bool>> write_snapshot(uint64_t stream_id, std::optional<stream::StreamEnds> at = {});
  // write_snapshot() of many partitions in few txns (at most kSnapshotsPerTxn keys and kSnapshotTxnBytes each,
  // within etcd's 128 ops / 1.5 MiB): the snapshot task's pass. A txn that loses a compare is redone one partition
  // at a time. Partitions are taken in the given order until `max_bytes` of snapshots were captured (the pass's
  // bound on metadata writes: many producers make large snapshots); `visited` says how many of `stream_ids` were
  // looked at, so the next pass can go on from there.
  static constexpr size_t kSnapshotsPerTxn = 64;
  static constexpr size_t kSnapshotTxnBytes = 1u << 20;
  struct SnapshotPass {
    size_t written = 0;
    size_t visited = 0;
    size_t bytes = 0;  // snapshot bytes captured
  };
  // `ends_at` (null: none; must outlive the call): as write_snapshot's `at`, per stream (the others at the
  // store's ends).
  asio::awaitable<Result<SnapshotPass>> write_snapshots(
      std::vector<uint64_t> stream_ids, size_t max_bytes = SIZE_MAX,
      const std::map<uint64_t, stream::StreamEnds>* ends_at = nullptr);
  // Deletes the snapshot key of a partition whose topic was deleted, and drops the partition.
  asio::awaitable<Status> delete_snapshot(uint64_t stream_id);

  // Drops producers expired at `now_ms` from every table (Kafka producer.id.expiration.ms). Returns how many.
  size_t expire_all(int64_t now_ms);

  std::vector<uint64_t> stream_ids() const;
  // Where `stream_id`'s snapshot stands: offset (-1 without one).
  int64_t snapshot_offset(uint64_t stream_id) const;

  // Counters (since construction): batches replayed by loads, loads that used a snapshot, snapshots written.
  uint64_t batches_replayed() const { return batches_replayed_.load(); }
  uint64_t snapshots_loaded() const { return snapshots_loaded_.load(); }
  uint64_t snapshots_written() const { return snapshots_written_.load(); }

  std::string snapshot_key(uint64_t stream_id) const;

 private:
  struct Partition {
    std::shared_ptr<producer::ProducerStateTable> table;
    std::map<int32_t, int64_t> epochs;  // leader epoch -> first offset, as loaded and noted (bounded)
    int64_t snapshot_offset = -1;       // next_offset of the stored snapshot, -1 without one
    int64_t snapshot_revision = 0;      // the key's mod_revision as last seen (0: absent)
    uint64_t batches_at_snapshot = 0;   // table->applied_batches() when it was captured
    std::chrono::steady_clock::time_point snapshot_time{};
  };

  // A snapshot captured and encoded, not yet written.
  struct PendingSnapshot {
    uint64_t stream_id = 0;
    std::shared_ptr<producer::ProducerStateTable> table;
    std::string key;
    std::string value;
    int64_t revision = 0;  // the key's mod_revision expected (compare)
    int64_t next_offset = 0;
    uint64_t batches = 0;
  };

  Partition& partition_locked(uint64_t stream_id);
  // The snapshot of `stream_id` at its committed end; nullopt when there is nothing new to write.
  Result<std::optional<PendingSnapshot>> capture_snapshot(uint64_t stream_id, std::optional<stream::StreamEnds> at);
  static void add_snapshot_put(meta::TxnRequest& txn, const PendingSnapshot& pending);
  void snapshot_written(const PendingSnapshot& pending, int64_t revision);
  // The stored snapshot of `stream_id`: the one prepare_loads() read (taken), else read now.
  asio::awaitable<meta::Result<std::optional<meta::KeyValue>>> stored_snapshot(uint64_t stream_id);

  ProducerStatesConfig config_;
  stream::StreamStore& store_;
  meta::MetaStore& meta_;
  int32_t leader_epoch_;

  mutable std::mutex mu_;
  std::map<uint64_t, Partition> partitions_;
  // Snapshots prepare_loads() read for the load()s to come (absent key: nullopt); bounded by one wave, replaced
  // by the next prepare_loads().
  std::map<uint64_t, std::optional<meta::KeyValue>> prepared_;
  std::atomic<uint64_t> batches_replayed_{0};
  std::atomic<uint64_t> snapshots_loaded_{0};
  std::atomic<uint64_t> snapshots_written_{0};
};

}  // namespace floe::kafka
