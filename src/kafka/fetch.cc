#include "kafka/fetch.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "cluster/topic_catalog.h"
#include "kafka/errors.h"
#include "kafka/open_gate.h"
#include "kafka/services.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

constexpr int32_t kMaxWaitCapMs = 30000;  // a client's max_wait_ms beyond this is cut (bounds held requests)

// One pass over every requested partition. Returns the bytes of records gathered. `not_local` (if given) collects
// the streams answered NOT_LEADER_OR_FOLLOWER (some may be opening here).
asio::awaitable<size_t> gather(RequestContext& ctx, proto::FetchRequest& req, proto::FetchResponse& resp,
                               bool& any_error, std::vector<uint64_t>* not_local) {
  Services& services = *ctx.services;
  const bool by_id = ctx.version() >= 13;
  size_t total = 0;
  const auto max_bytes = static_cast<size_t>(std::max(req.max_bytes, 0));
  resp.responses.clear();
  for (const auto& ft : req.topics) {
    auto& topic_resp = resp.responses.emplace_back();
    topic_resp.topic = ft.topic;
    topic_resp.topic_id = ft.topic_id;
    std::optional<cluster::TopicInfo> topic =
        by_id ? services.catalog.find(ft.topic_id) : services.catalog.find(ft.topic);
    for (const auto& fp : ft.partitions) {
      auto& p = topic_resp.partitions.emplace_back();
      p.partition_index = fp.partition;
      p.records = proto::RecordsView::of({});  // empty, not null: clients read a size of -1 as a protocol error
      p.high_watermark = -1;
      p.last_stable_offset = -1;
      p.log_start_offset = -1;
      if (!topic) {
        p.error_code = by_id ? code(Errc::unknown_topic_id) : code(Errc::unknown_topic_or_partition);
        any_error = true;
        continue;
      }
      if (fp.partition < 0 || fp.partition >= topic->partitions) {
        p.error_code = code(Errc::unknown_topic_or_partition);
        any_error = true;
        continue;
      }
      const PartitionLeader leader = services.leadership.leader(*topic, fp.partition);
      const uint64_t stream = cluster::stream_id_of(topic->id, fp.partition);
      if (int16_t e = serve_error(leader, fp.current_leader_epoch); e != 0) {
        p.error_code = e;
        any_error = true;
        if (not_local != nullptr && !leader.local) not_local->push_back(stream);
        continue;
      }
      stream::StreamEnds ends = services.store.ends(stream);
      p.high_watermark = ends.durable;
      p.last_stable_offset = ends.durable;
      p.log_start_offset = ends.start;
      if (fp.fetch_offset < ends.start || fp.fetch_offset > ends.durable) {
        p.error_code = code(Errc::offset_out_of_range);
        any_error = true;
        continue;
      }
      if (fp.fetch_offset == ends.durable) continue;
      if (total > 0 && total >= max_bytes) continue;  // the response is full; at least one batch went in already
      size_t limit =
          std::min(static_cast<size_t>(std::max(fp.partition_max_bytes, 1)), total > 0 ? max_bytes - total : max_bytes);
      auto r = co_await services.store.read_for_client(stream, fp.fetch_offset, limit);
      if (!r) {
        // image_lagging (DESIGN §7: this broker's metadata image lags past half the gc grace, so committed reads
        // wait): REPLICA_NOT_AVAILABLE, which the Java consumer, librdkafka and kafkajs retry after a metadata
        // refresh, without telling the application. Not NOT_LEADER_OR_FOLLOWER: this broker IS the leader, and
        // the refreshed metadata would say so again; not UNKNOWN_SERVER_ERROR: not retriable.
        if (r.error().code == stream::Errc::image_lagging) {
          p.error_code = code(Errc::replica_not_available);
        } else {
          p.error_code = r.error().code == stream::Errc::out_of_range ? code(Errc::offset_out_of_range)
                                                                      : code(Errc::kafka_storage_error);
        }
        any_error = true;
        continue;
      }
      p.high_watermark = r->high_watermark;
      p.last_stable_offset = r->high_watermark;
      p.log_start_offset = r->log_start;
      if (!r->batches.empty()) {
        auto bytes = std::make_shared<proto::Bytes>(std::move(r->batches));
        total += bytes->size();
        p.records = proto::RecordsView::of(proto::ByteSpan(*bytes), bytes);
      }
    }
  }
  co_return total;
}

// Right after a failover or a move the consumers, told by Metadata who leads now, fetch from this broker while it is
// still opening the partition. They would get NOT_LEADER_OR_FOLLOWER, refresh their metadata (librdkafka: after a
// back-off of up to a second) and learn the same leader again, so such a fetch waits for the open at the produce
// path's OpenGate (open_gate.h), bounded by its own max wait (and the gate's bounds). true: at least one of
// `streams` was opened meanwhile (gather again).
asio::awaitable<bool> wait_for_opens(Services& services, const std::vector<uint64_t>& streams,
                                     std::chrono::steady_clock::time_point deadline) {
  OpenGate* gate = services.leadership.open_gate();
  if (gate == nullptr) co_return false;
  bool any = false;
  for (uint64_t stream : streams) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    OpenGate::Ticket turn = co_await gate->wait(stream, 0, std::max(left, std::chrono::milliseconds(0)));
    if (turn.outcome() == OpenGate::Outcome::turn) any = true;
    // A fetch reserves nothing: its turn passes on here (~Ticket), and the next partition's wait follows.
  }
  co_return any;
}

}  // namespace

asio::awaitable<proto::FetchResponse> handle_fetch(RequestContext& ctx, proto::FetchRequest& req) {
  proto::FetchResponse resp;
  resp.session_id = 0;
  if (!ctx.services) {
    resp.error_code = code(Errc::unknown_server_error);
    co_return resp;
  }
  Services& services = *ctx.services;
  // Incremental fetch sessions (fetch_sessions.h): an incremental request is rewritten here to every partition of
  // its session; finish() below keeps only the partitions with news (or creates the session of a full fetch).
  FetchSessionContext session = services.fetch_sessions->open(req, ctx.version());
  if (session.kind() == FetchSessionContext::Kind::error) {
    session.finish(resp);
    co_return resp;
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::clamp(req.max_wait_ms, 0, kMaxWaitCapMs));
  bool waited_for_opens = false;  // once per request
  for (;;) {
    const uint64_t epoch = services.appends.epoch();
    bool any_error = false;
    std::vector<uint64_t> not_local;
    size_t bytes = co_await gather(ctx, req, resp, any_error, waited_for_opens ? nullptr : &not_local);
    if (!not_local.empty()) {
      waited_for_opens = true;
      if (co_await wait_for_opens(services, not_local, deadline)) continue;
    }
    if (any_error || bytes >= static_cast<size_t>(std::max(req.min_bytes, 0)) ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    co_await services.appends.wait_until(deadline, epoch);
  }
  session.finish(resp);
  if (services.data_metrics) {  // counted once, from the response actually sent
    for (const auto& t : resp.responses) {
      std::string name = t.topic;
      if (name.empty()) {
        if (auto topic = services.catalog.find(t.topic_id)) name = topic->name;
      }
      for (const auto& p : t.partitions) services.data_metrics->fetched(name, p.records.data);
    }
  }
  co_return resp;
}

}  // namespace floe::kafka
