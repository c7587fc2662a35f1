// Shared by the StreamStore crash test and its child: the store settings and the content of each batch, a function
// of (stream, tag, count) alone, so the checker needs nothing from the killed writer but its "ack" lines.
#pragma once

#include <string>
#include <vector>

#include "protocol/record/batch_builder.h"
#include "stream/stream_store.h"

namespace floe::stream::testing {

// `epoch`: the object WAL needs a new one per open (the file WAL only stamps it).
inline StreamStoreConfig crash_config(const std::string& root,
                                      StreamStoreConfig::WalKind kind = StreamStoreConfig::WalKind::file,
                                      uint64_t epoch = 0) {
  StreamStoreConfig c;
  c.wal_kind = kind;
  c.broker_id = 1;
  c.epoch = epoch;
  c.wal_flush_interval = std::chrono::milliseconds(2);  // many small objects: kills land between PUT and commit
  c.wal_batch_bytes = 64 << 10;
  c.wal_inflight = 4;
  c.wal_dir = root + "/wal";
  c.upload_bytes = 256 << 10;  // upload often, so that kills land in every phase of put -> commit -> trim
  c.upload_interval = std::chrono::milliseconds(10);
  c.log_cache_bytes = 256 << 10;
  c.max_uncommitted_bytes = 4 << 20;
  c.max_append_bytes = 4 << 10;
  c.wal_segment_bytes = 8 << 10;  // tiny segments: what is uncommitted spans several, so trims must pick right
  return c;
}

// The crash child's "compact" mode: a compaction pass every 5 ms over every object it commits, replaced objects
// deleted at once, so that kills land in every step (pending record, output PUTs, swap, sweep).
inline void crash_compaction(StreamStoreConfig& c) {
  c.compaction_interval = std::chrono::milliseconds(5);
  c.compaction_target_bytes = 1 << 20;
  c.compaction_min_objects = 4;
  c.compaction_block_bytes = 64 << 10;
  c.compaction_grace = std::chrono::milliseconds(0);
}

inline std::string crash_value(uint64_t stream, int64_t tag, int i) {
  return "s" + std::to_string(stream) + "-t" + std::to_string(tag) + "-r" + std::to_string(i);
}

inline Bytes crash_batch(uint64_t stream, int64_t tag, int count) {
  record::BatchBuilder b;
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) values.push_back(crash_value(stream, tag, i));
  for (const auto& v : values) {
    record::NewRecord r;
    r.value = ByteSpan(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    r.timestamp = tag & 0xffffff;
    (void)b.add(r);
  }
  Bytes out;
  (void)b.build(out);
  return out;
}

}  // namespace floe::stream::testing
