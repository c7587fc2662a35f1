#include "kafka/producer_states.h"

#include "cluster/topic_catalog.h"
#include "protocol/record/batch_view.h"
#include "stream/stream_store.h"

namespace floe::kafka {

producer::ProducerStateTable& ProducerStates::table(uint64_t stream_id) {
  std::lock_guard lock(mu_);
  auto& t = tables_[stream_id];
  if (!t) t = std::make_unique<producer::ProducerStateTable>();
  return *t;
}

asio::awaitable<Status> ProducerStates::rebuild_all(const cluster::TopicCatalog& catalog, stream::StreamStore& store,
                                                    int32_t leader_epoch) {
  for (const cluster::TopicInfo& topic : catalog.list()) {
    for (int32_t p = 0; p < topic.partitions; ++p) {
      const uint64_t stream = cluster::stream_id_of(topic.id, p);
      producer::ProducerStateTable& t = table(stream);
      stream::StreamEnds ends = store.ends(stream);
      int64_t next = ends.start;
      while (next < ends.durable) {
        auto r = co_await store.read(stream, next, 4u << 20);
        if (!r) co_return r.error();
        record::BatchSplitter split{proto::ByteSpan(r->batches)};
        int64_t before = next;
        for (record::BatchView batch; split.next(batch);) {
          const int64_t last = batch.header().base_offset + batch.header().last_offset_delta;
          if (last < next) continue;
          t.observe(batch.header());
          store.observe_epoch(stream, batch.header().partition_leader_epoch, batch.header().base_offset);
          next = last + 1;
        }
        if (next == before) break;  // nothing readable at `next` (cannot happen on a healthy log): stop, do not spin
      }
      // This start's epoch begins at the log end, as a new leader's does (even before it writes).
      store.observe_epoch(stream, leader_epoch, store.ends(stream).durable);
    }
  }
  co_return ok_status();
}

}  // namespace floe::kafka
