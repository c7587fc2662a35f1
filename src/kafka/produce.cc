#include "kafka/produce.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "cluster/topic_catalog.h"
#include "cluster/topic_config.h"
#include "kafka/data_metrics.h"
#include "kafka/errors.h"
#include "kafka/open_gate.h"
#include "kafka/run_all.h"
#include "kafka/services.h"
#include "producer/producer_state.h"
#include "protocol/msg/produce.h"
#include "protocol/record/batch_view.h"
#include "protocol/record/record_set.h"
#include "stream/errc.h"
#include "stream/stream_store.h"

namespace floe::kafka {
namespace {

using PartitionResponse = proto::ProduceResponse::PartitionProduceResponse;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Kafka's answer for a failed append: retriable where the client should retry.
int16_t append_error(std::error_code ec) {
  if (ec == stream::Errc::too_large) return code(Errc::request_timed_out);    // back-pressure: uploads are behind
  if (ec == stream::Errc::closed) return code(Errc::not_leader_or_follower);  // shutting down: go elsewhere
  // Released or given up meanwhile, or this epoch's WAL stopped: not written here; the new leader takes it.
  if (ec == stream::Errc::not_owner || ec == stream::Errc::unavailable) return code(Errc::not_leader_or_follower);
  // The object WAL could not say whether the data landed: a retriable, ambiguous timeout (DESIGN §4).
  if (ec == stream::Errc::ambiguous) return code(Errc::request_timed_out);
  if (ec == stream::Errc::invalid_argument) return code(Errc::corrupt_message);
  return code(Errc::kafka_storage_error);
}

// Validates one partition's records; on success `out` holds batches ready to append: a copy, or, given `frame` (the
// request's own buffer, which holds the records), that buffer itself with the records moved to its front (no fresh
// allocation: a copy into new memory costs a page fault per 4 KiB besides the copy).
int16_t prepare(const proto::RecordsView& records, const cluster::TopicInfo& topic, proto::Bytes& out,
                int64_t& log_append_time, std::string& message, std::vector<uint8_t>* frame) {
  if (records.null || records.data.empty()) {
    message = "no records";
    return code(Errc::corrupt_message);
  }
  const int64_t max_batch = cluster::topic_config_int(topic.configs, "max.message.bytes");
  const bool append_time = cluster::topic_config_value(topic.configs, "message.timestamp.type") == "LogAppendTime";
  // Decompressed records of compressed batches, reused across batches and requests on this thread (not a
  // coroutine: prepare() runs to completion on one thread). Bounded: a buffer grown past kMaxKeptScratch by a
  // huge batch is released after use.
  constexpr size_t kMaxKeptScratch = 8u << 20;
  thread_local proto::Bytes scratch;
  struct Bound {
    ~Bound() {
      if (scratch.capacity() > kMaxKeptScratch) proto::Bytes().swap(scratch);
    }
  } bound;
  record::BatchSplitter split(records.data);
  for (record::BatchView batch; split.next(batch);) {
    if (static_cast<int64_t>(batch.bytes().size()) > max_batch) {
      message = "batch of " + std::to_string(batch.bytes().size()) + " bytes is over max.message.bytes " +
                std::to_string(max_batch);
      return code(Errc::message_too_large);
    }
    if (batch.header().is_control()) {
      message = "control batches are written by the broker only";
      return code(Errc::invalid_record);
    }
    record::ValidateOptions opts;
    opts.max_decompressed = static_cast<size_t>(std::max<int64_t>(max_batch, 1) * 64);
    opts.scratch = &scratch;
    if (record::RecordError e = record::validate_batch(batch, opts); e != record::RecordError::ok) {
      message = record::describe(e);
      return record::kafka_error_code(e);
    }
  }
  if (split.error() != record::RecordError::ok) {
    message = record::describe(split.error());
    return record::kafka_error_code(split.error());
  }
  if (frame != nullptr) {
    const size_t size = records.data.size();
    const uint8_t* from = records.data.data();
    out = std::move(*frame);
    std::memmove(out.data(), from, size);
    out.resize(size);
  } else {
    out.assign(records.data.begin(), records.data.end());
  }
  log_append_time = -1;
  if (append_time) {
    log_append_time = now_ms();
    record::BatchSplitter again{proto::ByteSpan(out)};
    std::span<uint8_t> all(out.data(), out.size());
    for (record::BatchView batch; again.next(batch);) {
      auto at = static_cast<size_t>(batch.bytes().data() - out.data());
      (void)record::set_max_timestamp(all.subspan(at, batch.bytes().size()), record::TimestampType::log_append_time,
                                      log_append_time);
    }
  }
  return 0;
}

// `topic` by value: the coroutine starts later (run_all), after the caller's copy is gone. `batches`: the
// partition's records as prepare() left them (validated).
// `open_wait`: how long it may wait for the partition's open here to finish (the request's timeout).
asio::awaitable<void> produce_partition(Services& services, cluster::TopicInfo topic, int32_t index,
                                        proto::Bytes batches, int64_t append_time, PartitionResponse& resp,
                                        std::chrono::milliseconds open_wait) {
  const uint64_t stream = cluster::stream_id_of(topic.id, index);
  auto first = record::BatchView::parse(proto::ByteSpan(batches));
  const producer::BatchMeta meta = producer::BatchMeta::from_header(first->header());
  if (meta.idempotent() && first->bytes().size() != batches.size()) {
    resp.error_code = code(Errc::invalid_record);
    resp.error_message = "an idempotent producer must send one batch per partition";
    resp.base_offset = -1;
    co_return;
  }
  const uint64_t batches_size = batches.size();
  // Being opened here (just after a failover): wait for it rather than refuse it, in arrival order (open_gate.h);
  // before taking the producer-state table, which the open loads.
  OpenGate::Ticket turn;
  if (OpenGate* gate = services.leadership.open_gate()) {
    turn = co_await gate->wait(stream, batches_size, open_wait);
    if (turn.outcome() == OpenGate::Outcome::refused || turn.outcome() == OpenGate::Outcome::timed_out) {
      resp.error_code = code(Errc::not_leader_or_follower);
      resp.base_offset = -1;
      co_return;
    }
  }
  // Shared: a drop() or reload of the partition meanwhile closes this table but does not free it.
  std::shared_ptr<producer::ProducerStateTable> table = services.producer_states.table(stream);
  const uint64_t records = record_count(proto::ByteSpan(batches));
  // A retry whose in-flight original failed may be asked again; bounded.
  for (int round = 0; round < 3; ++round) {
    producer::Decision decision;
    // Runs under the stream's offset lock: the sequence reservation happens in offset order.
    auto admit = [&]() -> std::error_code {
      decision = table->check_and_reserve(meta);
      turn.pass_on();  // reserved (or refused) in its turn: the next waiter may go
      return decision.kind == producer::Decision::Kind::append ? std::error_code()
                                                               : std::make_error_code(std::errc::operation_canceled);
    };
    // An idempotent batch may need a second round (its in-flight original failed): keep the bytes.
    proto::Bytes attempt = meta.idempotent() ? batches : std::move(batches);
    // Leadership is checked again each round: the partition may have moved while a retry waited.
    const PartitionLeader leader = services.leadership.leader(topic, index);
    if (!leader.local) {
      resp.error_code = code(Errc::not_leader_or_follower);
      resp.base_offset = -1;
      co_return;
    }
    auto r = co_await services.store.append(stream, std::move(attempt), leader.leader_epoch, admit);
    switch (decision.kind) {
      case producer::Decision::Kind::append:
        if (!r) {
          // A WAL failure may still leave the batch on disk (it reappears after a restart): ambiguous.
          decision.reservation.fail(stream::append_may_have_landed(r.error().code));
          resp.error_code = append_error(r.error().code);
          resp.error_message = r.error().message;
          resp.base_offset = -1;
          log::warn("kafka", "produce to ", topic.name, "-", index, ": ", r.error().message);
          co_return;
        }
        decision.reservation.complete(*r);  // waiting fetches were woken when it became durable (main.cc)
        if (services.data_metrics) services.data_metrics->produced(topic.name, batches_size, records);
        resp.base_offset = *r;
        resp.log_append_time_ms = append_time;
        resp.log_start_offset = services.store.ends(stream).start;
        co_return;
      case producer::Decision::Kind::duplicate:
        resp.base_offset = decision.duplicate.base_offset;
        resp.log_start_offset = services.store.ends(stream).start;
        co_return;
      case producer::Decision::Kind::wait: {
        producer::WaitOutcome w = co_await decision.wait.result();
        if (w.error == producer::Errc::original_failed) continue;
        if (w.error != producer::Errc::ok) {
          resp.error_code = producer::kafka_error_code(w.error);
          resp.base_offset = -1;
          co_return;
        }
        resp.base_offset = w.offsets.base_offset;
        resp.log_start_offset = services.store.ends(stream).start;
        co_return;
      }
      case producer::Decision::Kind::error:
        if (!r && r.error().code != std::errc::operation_canceled) {  // refused before the idempotence check
          resp.error_code = append_error(r.error().code);
          resp.error_message = r.error().message;
        } else {
          resp.error_code = producer::kafka_error_code(decision.error);
        }
        resp.base_offset = -1;
        co_return;
    }
  }
  resp.error_code = code(Errc::request_timed_out);  // the original kept failing: retriable
  resp.base_offset = -1;
}

}  // namespace

asio::awaitable<HandlerOutcome> handle_produce(RequestContext& ctx) {
  proto::ProduceRequest req;
  proto::Reader r(ctx.frame.body);
  if (!req.decode(r, ctx.version()) || !r.at_end()) co_return HandlerOutcome::malformed();
  proto::ProduceResponse resp;
  const bool acks_ok = req.acks == 0 || req.acks == 1 || req.acks == -1;
  Services* services = ctx.services;

  // Partitions that pass the request-level checks, prepared (validated, their batches taken) before any append.
  struct Pending {
    cluster::TopicInfo topic;
    const proto::ProduceRequest::PartitionProduceData* data;
    PartitionResponse* resp;
    proto::Bytes batches;
    int64_t append_time = -1;
    bool ready = false;
  };
  std::vector<Pending> pending;
  resp.responses.reserve(req.topic_data.size());  // stable addresses for Pending::resp
  for (const auto& topic_data : req.topic_data) {
    auto& topic_resp = resp.responses.emplace_back();
    topic_resp.name = topic_data.name;
    topic_resp.partition_responses.resize(topic_data.partition_data.size());
    std::optional<cluster::TopicInfo> topic = services ? services->catalog.find(topic_data.name) : std::nullopt;
    for (size_t i = 0; i < topic_data.partition_data.size(); ++i) {
      auto& p = topic_resp.partition_responses[i];
      const auto& data = topic_data.partition_data[i];
      p.index = data.index;
      p.base_offset = -1;
      if (!acks_ok) {
        p.error_code = code(Errc::invalid_required_acks);
      } else if (req.transactional_id) {
        p.error_code = code(Errc::transactional_id_authorization_failed);  // transactions are not built yet
      } else if (!topic) {
        p.error_code = code(Errc::unknown_topic_or_partition);
      } else if (topic->name == "__consumer_offsets") {
        p.error_code = code(Errc::invalid_topic_exception);  // written by the group coordinator only
      } else if (data.index < 0 || data.index >= topic->partitions) {
        p.error_code = code(Errc::unknown_topic_or_partition);
      } else {
        pending.push_back(Pending{*topic, &data, &p, {}, -1, false});
      }
    }
  }
  // The frame's buffer becomes the batches of the partition holding most of it, if that is at least half of the
  // frame (the log cache then never keeps more than twice the bytes it counts); that partition is prepared last,
  // once every other one has copied its records out of the frame.
  size_t owner = pending.size();
  if (ctx.frame_buffer != nullptr && !ctx.frame_buffer->empty()) {
    size_t largest = 0;
    for (size_t k = 0; k < pending.size(); ++k) {
      const size_t size = pending[k].data->records.data.size();
      if (size > largest) {
        largest = size;
        owner = k;
      }
    }
    if (2 * largest < ctx.frame_buffer->size()) owner = pending.size();
  }
  auto prepare_one = [&](Pending& p, std::vector<uint8_t>* frame) {
    std::string message;
    if (int16_t err = prepare(p.data->records, p.topic, p.batches, p.append_time, message, frame); err != 0) {
      p.resp->error_code = err;
      p.resp->error_message = p.topic.name + "-" + std::to_string(p.data->index) + ": " + message;
      p.resp->base_offset = -1;
      return;
    }
    p.ready = true;
  };
  for (size_t k = 0; k < pending.size(); ++k) {
    if (k != owner) prepare_one(pending[k], nullptr);
  }
  if (owner < pending.size()) prepare_one(pending[owner], ctx.frame_buffer);  // the frame's views end here

  std::vector<asio::awaitable<void>> appends;
  const auto open_wait = std::chrono::milliseconds(std::max<int32_t>(req.timeout_ms, 0));
  for (Pending& p : pending) {
    if (!p.ready) continue;
    appends.push_back(produce_partition(*services, std::move(p.topic), p.data->index, std::move(p.batches),
                                        p.append_time, *p.resp, open_wait));
  }
  co_await run_all(std::move(appends));
  if (req.acks == 0) co_return HandlerOutcome{HandlerOutcome::Kind::no_response, {}};
  HandlerOutcome out;
  proto::Writer w(out.frame);
  proto::write_response_header(w, *ctx.frame.api, ctx.version(), ctx.correlation_id());
  resp.encode(w, ctx.version());
  co_return out;
}

}  // namespace floe::kafka
