// `floe serve` settings. Every setting has a config-file key (`key = value` lines), an environment variable
// (FLOE_ + the key upper-cased, dots as underscores) and a flag (-- + the key, dots as dashes). A flag beats the
// environment, which beats the config file, which beats the default. A bad value fails start-up with one line
// naming the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"

namespace floe::app {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

struct ServeConfig {
  int32_t node_id = 1;
  HostPort listen{"127.0.0.1", 9092};
  std::optional<HostPort> advertise;  // default: the listen address
  std::optional<std::string> zone;
  std::string data_dir = "./floe-data";
  log::Level log_level = log::Level::info;
  int32_t socket_request_max_bytes = 104857600;
  int64_t connections_max_idle_ms = 600000;
  unsigned io_threads = 1;
  int64_t io_stall_warn_ms = 500;  // io.stall.warn.ms: the stall watchdog's threshold (net/stall_watchdog.h); 0: off
  int64_t shutdown_drain_ms = 30000;
  HostPort http{"127.0.0.1", 9644};  // admin HTTP endpoint (/metrics, /healthz, /readyz); port 0: ephemeral
  bool auto_create_topics = true;     // auto.create.topics.enable
  int32_t num_partitions = 1;         // partitions of auto-created topics and of CreateTopics with -1
  int32_t offsets_topic_partitions = 50;  // offsets.topic.num.partitions: partitions of __consumer_offsets
  int64_t upload_bytes = 8 << 20;     // upload.bytes: uncommitted data that triggers an upload to objects
  int64_t upload_ms = 250;            // upload.ms: upload at least this often while data is uncommitted
  int64_t log_cache_bytes = 128 << 20;  // log.cache.bytes: committed data kept in memory for tail reads
  int64_t block_cache_bytes = 128 << 20;  // block.cache.bytes: blocks read back from objects, kept in memory
  int64_t read_ahead_max_bytes = 16 << 20;  // read.ahead.max.bytes: read-ahead window ceiling for catch-up reads
  int64_t retention_check_ms = 300000;  // log.retention.check.interval.ms
  int64_t object_gc_grace_ms = 60000;   // object.gc.grace.ms: unreferenced objects live this long before deletion
  int64_t compaction_interval_ms = 30000;       // compaction.interval.ms: how often compaction runs; 0: never
  int64_t compaction_target_bytes = 64 << 20;   // compaction.target.bytes: compacted object size
  int32_t compaction_min_objects = 8;           // compaction.min.objects: compact once this many small objects...
  int64_t compaction_max_age_ms = 300000;       // compaction.max.age.ms: ...or once the oldest waited this long
  int64_t compaction_dead_bytes = 16 << 20;     // compaction.dead.bytes: rewrite a partly dead object past this...
  int64_t compaction_dead_max_age_ms = 3600000;  // compaction.dead.max.age.ms: ...or once dead this long
  int64_t producer_snapshot_ms = 2000;   // producer.snapshot.interval.ms: idempotence state snapshots per partition
  enum class Wal { file, object };
  Wal wal = Wal::file;                  // wal: file (local disk, uploads) or object (WAL objects in the store)
  int64_t wal_flush_ms = 50;            // wal.flush.ms: the object WAL writes its buffer at least this often
  bool wal_flush_eager = false;         // wal.flush.eager: ... and at once when no PUT is in flight
  int64_t wal_flush_min_ms = 5;         // wal.flush.min.ms: eager writes at least this far apart
  int64_t wal_batch_bytes = 4 << 20;    // wal.batch.bytes: ... or once this much is buffered
  int32_t wal_inflight = 4;             // wal.inflight: object WAL PUTs in flight at most
  int64_t wal_put_hedge_ms = 150;       // wal.put.hedge.ms: object WAL twin PUT after this long unanswered; 0: off
  // Cluster mode (DESIGN §9): metadata in etcd instead of the embedded store; the broker registers, takes the
  // partitions the controller assigns it and writes through the object WAL.
  std::vector<std::string> meta_endpoints;  // meta: "embedded" (empty) or etcd://H:P[,H:P...]
  std::string objects;                      // objects: object store URL; empty: file:// under data.dir/objects
  int64_t broker_session_timeout_ms = 3000;  // broker.session.timeout.ms: the registration lease's TTL
  int64_t controller_answer_timeout_ms = 1000;  // controller.answer.timeout.ms: depose a controller this silent
  int32_t partition_open_parallelism = 32;   // partition.open.parallelism: producer-state loads run at once
  int64_t partition_open_wait_ms = 5000;     // partition.open.wait.ms: a produce waits this long for an open here
  int32_t partition_open_max_waiters = 1000;                  // partition.open.max.waiters: per partition
  int64_t partition_open_max_wait_bytes = INT64_C(64) << 20;  // partition.open.max.wait.bytes: per partition
  bool cluster_mode() const { return !meta_endpoints.empty(); }
};

struct ConfigResult {
  ServeConfig config;
  std::string error;  // one line naming the key; empty on success
  bool help = false;
};

// `args` are the arguments after `serve`; `environ_lookup` returns an environment variable's value (getenv in
// main; a map in tests).
ConfigResult parse_serve_config(const std::vector<std::string>& args,
                                std::optional<std::string> (*environ_lookup)(const std::string&));

// Help text listing every key, its flag, variable and default.
std::string serve_usage();

// Every setting as `key=value` separated by spaces, in help order, for the start-up log line (through
// format_config_entries: a setting declared secret shows as `<redacted>`).
std::string effective_config_line(const ServeConfig& config);

struct ConfigEntry {
  std::string key;
  std::string value;
  bool secret = false;
};
// `key=value ...`; secret values become `<redacted>`; empty values and values with spaces, quotes, `=` or
// backslashes are double-quoted with `"` and `\` escaped.
std::string format_config_entries(const std::vector<ConfigEntry>& entries);

// Parses "host:port" ("[v6]:port" too).
std::optional<HostPort> parse_host_port(const std::string& text);

}  // namespace floe::app
