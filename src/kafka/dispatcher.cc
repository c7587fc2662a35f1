#include "kafka/dispatcher.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.h"
#include "kafka/api_handler.h"
#include "kafka/api_versions.h"
#include "metrics/metrics.h"

namespace floe::kafka {
namespace {

constexpr std::string_view kLog = "kafka";
constexpr int16_t kApiVersionsKey = 18;
constexpr std::size_t kMaxApiKeys = 128;  // above every key in the protocol table (checked when resolving)

net::Reply close_reply() { return net::Reply{{}, net::Reply::Action::close}; }

std::string client_of(const proto::RequestFrame& f) { return f.header.client_id.value_or("(null)"); }

}  // namespace

// The dispatcher's series. Per API (created on its first request): latency, bytes, and a lazily filled table of
// the requests counter for each version in the protocol's known range.
class Dispatcher::Metrics {
 public:
  struct Api {
    std::string_view name;
    int16_t max_version;
    metrics::Histogram* latency;
    metrics::Counter* request_bytes;
    metrics::Counter* response_bytes;
    std::unique_ptr<std::atomic<metrics::Counter*>[]> by_version;  // 0..max_version
  };

  explicit Metrics(metrics::Registry& r)
      : requests_(r.counter("floe_kafka_requests_total", "Kafka requests received, by API and version",
                            {"api", "version"})),
        errors_(r.counter("floe_kafka_request_errors_total",
                          "Kafka requests that failed, by API and error: a Kafka error code name for error answers, "
                          "closed_* when the connection was closed instead",
                          {"api", "error"})),
        latency_(r.histogram("floe_kafka_request_duration_seconds",
                             "Time from a request's dispatch to its response being ready, by API", {"api"},
                             metrics::latency_buckets())),
        request_bytes_(r.counter("floe_kafka_request_bytes_total", "Request frame bytes (without the size prefix)",
                                 {"api"})),
        response_bytes_(r.counter("floe_kafka_response_bytes_total",
                                  "Response frame bytes (without the size prefix)", {"api"})),
        in_flight_(r.gauge("floe_kafka_requests_in_flight", "Requests being handled").get()) {
    for (auto& slot : apis_) slot.store(nullptr, std::memory_order_relaxed);
  }

  // A request whose header parsed: counts it and its bytes.
  Api& begin(const proto::ApiInfo& info, int16_t version, std::size_t bytes) {
    Api& api = resolve(info);
    if (version >= 0 && version <= api.max_version) {
      std::atomic<metrics::Counter*>& slot = api.by_version[static_cast<std::size_t>(version)];
      metrics::Counter* c = slot.load(std::memory_order_acquire);
      if (!c) {
        c = &requests_.with({api.name, std::to_string(version)});
        slot.store(c, std::memory_order_release);  // racing threads store the same pointer
      }
      c->inc();
    } else {
      requests_.with({api.name, std::to_string(version)}).inc();  // bounded by the family's series cap
    }
    api.request_bytes->inc(bytes);
    return api;
  }

  // A frame that never got as far as an API (its header is malformed or its key unknown).
  void unparsed(std::string_view error) { errors_.with({"unknown", error}).inc(); }
  void error(const Api& api, std::string_view error) { errors_.with({api.name, error}).inc(); }

  void done(const Api& api, std::chrono::steady_clock::time_point start, const net::Reply& reply) {
    api.latency->observe(std::chrono::steady_clock::now() - start);
    api.response_bytes->inc(reply.body.size());
  }

  metrics::Gauge& in_flight() { return in_flight_; }

 private:
  Api& resolve(const proto::ApiInfo& info) {
    const auto key = static_cast<std::size_t>(info.key);
    std::atomic<Api*>* slot = key < kMaxApiKeys ? &apis_[key] : nullptr;
    if (slot) {
      if (Api* a = slot->load(std::memory_order_acquire)) return *a;
    }
    std::lock_guard lock(mu_);
    if (slot) {
      if (Api* a = slot->load(std::memory_order_relaxed)) return *a;
    }
    for (auto& a : owned_) {
      if (a->name == info.name) return *a;  // a key beyond the table (never in practice)
    }
    auto api = std::make_unique<Api>();
    api->name = info.name;
    api->max_version = std::max<int16_t>(info.max_version, 0);
    api->latency = &latency_.with({info.name});
    api->request_bytes = &request_bytes_.with({info.name});
    api->response_bytes = &response_bytes_.with({info.name});
    api->by_version = std::make_unique<std::atomic<metrics::Counter*>[]>(static_cast<std::size_t>(api->max_version) + 1);
    for (int i = 0; i <= api->max_version; ++i) api->by_version[static_cast<std::size_t>(i)].store(nullptr);
    Api* raw = api.get();
    owned_.push_back(std::move(api));
    if (slot) slot->store(raw, std::memory_order_release);
    return *raw;
  }

  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Counter>& errors_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Family<metrics::Counter>& request_bytes_;
  metrics::Family<metrics::Counter>& response_bytes_;
  metrics::Gauge& in_flight_;
  std::array<std::atomic<Api*>, kMaxApiKeys> apis_;
  std::mutex mu_;  // creating an Api entry (once per API)
  std::vector<std::unique_ptr<Api>> owned_;
};

Dispatcher::Dispatcher(BrokerIdentity identity, metrics::Registry* registry)
    : identity_(std::move(identity)), metrics_(registry ? std::make_unique<Metrics>(*registry) : nullptr) {}

Dispatcher::~Dispatcher() = default;

asio::awaitable<net::Reply> Dispatcher::handle(net::ConnectionContext& conn, std::vector<uint8_t> bytes) {
  const auto start = std::chrono::steady_clock::now();
  proto::RequestFrame frame;
  switch (proto::parse_request_frame(bytes, frame)) {
    case proto::FrameStatus::truncated:
      log::warn(kLog, "malformed request header (", bytes.size(), " bytes) from ", conn.peer(), "; closing");
      if (metrics_) metrics_->unparsed("closed_malformed_header");
      co_return close_reply();
    case proto::FrameStatus::unknown_api:
      log::warn(kLog, "unknown API key ", frame.header.request_api_key, " from ", conn.peer(), " (client ",
                client_of(frame), "); closing");
      if (metrics_) metrics_->unparsed("closed_unknown_api");
      co_return close_reply();
    case proto::FrameStatus::ok:
      break;
  }
  const int16_t key = frame.header.request_api_key;
  const int16_t version = frame.header.request_api_version;
  Metrics::Api* api = metrics_ ? &metrics_->begin(*frame.api, version, bytes.size()) : nullptr;
  const ApiHandler* handler = find_handler(key);
  if (handler && key == kApiVersionsKey && version > handler->max_version) {
    net::Reply reply{unsupported_api_versions_frame(frame.header.correlation_id), net::Reply::Action::send};
    if (api) {
      metrics_->error(*api, "UNSUPPORTED_VERSION");
      metrics_->done(*api, start, reply);
    }
    co_return reply;
  }
  if (!handler || version < handler->min_version || version > handler->max_version) {
    log::warn(kLog, "unsupported ", frame.api->name, " v", version, " from ", conn.peer(), " (client ",
              client_of(frame), "); closing");
    if (api) metrics_->error(*api, "closed_unsupported_version");
    co_return close_reply();
  }

  RequestContext ctx{frame, conn, identity_, services_};
  ctx.frame_buffer = &bytes;
  const std::size_t frame_size = bytes.size();
  HandlerOutcome out;
  bool failed = false;
  {
    // Also undone if this coroutine is destroyed while the handler is suspended.
    struct InFlight {
      metrics::Gauge* g;
      explicit InFlight(metrics::Gauge* gauge) : g(gauge) {
        if (g) g->add(1);
      }
      ~InFlight() {
        if (g) g->add(-1);
      }
    } in_flight(metrics_ ? &metrics_->in_flight() : nullptr);
    try {
      out = co_await handler->fn(ctx);
    } catch (const std::exception& e) {
      log::error(kLog, frame.api->name, " v", version, " from ", conn.peer(), " failed: ", e.what(), "; closing");
      failed = true;
    }
  }
  net::Reply reply = close_reply();
  if (failed) {
    if (api) metrics_->error(*api, "closed_handler_failed");
  } else {
    switch (out.kind) {
      case HandlerOutcome::Kind::malformed:
        log::warn(kLog, "malformed ", frame.api->name, " v", version, " request (", frame_size, " bytes) from ",
                  conn.peer(), " (client ", client_of(frame), "); closing");
        if (api) metrics_->error(*api, "closed_malformed_request");
        break;
      case HandlerOutcome::Kind::no_response:
        reply = net::Reply{{}, net::Reply::Action::none};
        break;
      case HandlerOutcome::Kind::respond:
        reply = net::Reply{std::move(out.frame), net::Reply::Action::send};
        break;
    }
  }
  if (api) metrics_->done(*api, start, reply);
  co_return reply;
}

}  // namespace floe::kafka
