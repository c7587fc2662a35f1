#include "kafka/stream_group_log.h"

#include <chrono>

#include "cluster/topic_catalog.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr size_t kReadBytes = 1u << 20;

Error log_error(group::LogErrc e, std::string message) { return Error{make_error_code(e), std::move(message)}; }

}  // namespace

Result<uint64_t> StreamGroupLog::stream_of(int32_t partition) const {
  auto topic = catalog_.find(kOffsetsTopic);
  if (!topic || partition < 0 || partition >= topic->partitions) {
    return log_error(group::LogErrc::not_leader,
                     std::string(kOffsetsTopic) + " has no partition " + std::to_string(partition));
  }
  return cluster::stream_id_of(topic->id, partition);
}

asio::awaitable<Result<int64_t>> StreamGroupLog::append(int32_t partition, std::vector<group::GroupRecord> records) {
  auto stream = stream_of(partition);
  if (!stream) co_return stream.error();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  record::BatchBuilder builder;
  for (const auto& r : records) {
    record::NewRecord nr;
    nr.key = proto::ByteSpan(r.key);
    if (r.value) nr.value = proto::ByteSpan(*r.value);
    nr.timestamp = now;
    if (builder.add(nr) != record::RecordError::ok) co_return log_error(group::LogErrc::too_large, "group record");
  }
  proto::Bytes batch;
  if (builder.build(batch) != record::RecordError::ok) co_return log_error(group::LogErrc::too_large, "group batch");
  auto r = co_await store_.append(*stream, std::move(batch), epoch_of_(partition));
  if (!r) {
    co_return log_error(
        r.error().code == stream::Errc::too_large ? group::LogErrc::too_large : group::LogErrc::unavailable,
        r.error().message);
  }
  co_return *r;
}

asio::awaitable<Result<std::vector<group::StoredRecord>>> StreamGroupLog::read(int32_t partition, int64_t from,
                                                                               size_t max_records) {
  auto stream = stream_of(partition);
  if (!stream) co_return stream.error();
  std::vector<group::StoredRecord> out;
  const stream::StreamEnds ends = store_.ends(*stream);
  int64_t next = std::max(from, ends.start);
  while (next < ends.durable && out.size() < max_records) {
    auto r = co_await store_.read(*stream, next, kReadBytes);
    if (!r) co_return log_error(group::LogErrc::unavailable, r.error().message);
    record::BatchSplitter split{proto::ByteSpan(r->batches)};
    const int64_t before = next;
    for (record::BatchView batch; split.next(batch) && out.size() < max_records;) {
      auto set = record::RecordSet::open(batch);
      if (!set) co_return log_error(group::LogErrc::unavailable, "corrupt batch in " + std::string(kOffsetsTopic));
      auto reader = set->reader();
      for (record::RecordView rec; reader.next(rec) && out.size() < max_records;) {
        const int64_t offset = rec.offset(batch.header());
        if (offset < next) continue;
        group::StoredRecord stored;
        stored.offset = offset;
        if (rec.key) stored.record.key.assign(rec.key->begin(), rec.key->end());
        if (rec.value) stored.record.value = proto::Bytes(rec.value->begin(), rec.value->end());
        out.push_back(std::move(stored));
        next = offset + 1;
      }
      next = std::max(
          next, out.size() < max_records ? batch.header().base_offset + batch.header().last_offset_delta + 1 : next);
    }
    if (next == before) break;  // nothing readable at `next`: stop rather than spin
  }
  co_return out;
}

asio::awaitable<Status> StreamGroupLog::trim(int32_t partition, int64_t offset) {
  auto stream = stream_of(partition);
  if (!stream) co_return stream.error();
  auto st = co_await store_.trim(*stream, offset);
  if (!st) co_return log_error(group::LogErrc::unavailable, st.error().message);
  co_return ok_status();
}

}  // namespace floe::kafka
