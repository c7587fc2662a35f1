// The admin HTTP endpoint of a broker (`floe serve --http H:P`):
//   GET /metrics   the metrics registry in the Prometheus text format 0.0.4
//   GET /healthz   200 "ok" whenever the process answers at all
//   GET /readyz    200 "ready" when the Readiness source says so, else 503 with the reason (starting, draining)
//   GET /v1/cluster  JSON cluster status from the ClusterStatusSource (cluster_status.h); 503 until one is set
//   anything else  404; non-GET methods 405; junk 400/431/505 (see http_server.h)
// It also publishes its own figures: floe_http_requests_total{path,code} and, at scrape time, connection counts.
//
// Executor model: an HttpServer on the caller's io_context (the Kafka listener's); handlers run on the
// connection's strand and only read atomics and render the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <system_error>

#include "admin/cluster_status.h"
#include "admin/http_server.h"
#include "metrics/metrics.h"

namespace floe::admin {

// Whether the broker should receive traffic. Implemented by the app; thread-safe (read on any io thread).
class Readiness {
 public:
  virtual ~Readiness() = default;
  // True when ready; otherwise false with a short reason ("starting", "draining", ...).
  virtual bool ready(std::string& why_not) const = 0;
};

// The broker's readiness: starting -> ready -> draining. Draining is final (set_ready no longer applies), so
// /readyz turns 503 before the Kafka listener starts draining and stays so until exit. An optional gate (cluster
// mode: registered and every partition assigned to this epoch open) must also say ready; draining wins over it.
class ReadinessState final : public Readiness {
 public:
  void set_ready() {
    int expected = kStarting;
    state_.compare_exchange_strong(expected, kReady);
  }
  void set_draining() { state_.store(kDraining); }
  // `gate` must outlive its use (or be replaced by nullptr first). Thread-safe.
  void set_gate(const Readiness* gate) { gate_.store(gate); }
  bool ready(std::string& why_not) const override;

 private:
  static constexpr int kStarting = 0, kReady = 1, kDraining = 2;
  std::atomic<int> state_{kStarting};
  std::atomic<const Readiness*> gate_{nullptr};
};

class AdminServer {
 public:
  // `registry` and `readiness` must outlive the server and the io_context's run.
  AdminServer(asio::io_context& io, HttpServerConfig config, metrics::Registry& registry, const Readiness& readiness);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  std::error_code start();
  uint16_t port() const { return server_.port(); }
  void stop() { server_.stop(); }
  HttpServerStats stats() const { return server_.stats(); }
  // Where /v1/cluster comes from; it must outlive the server (or be replaced by nullptr first). Thread-safe.
  void set_cluster_status_source(const ClusterStatusSource* source) { cluster_source_.store(source); }

  // Routing without sockets (what each connection calls).
  HttpResponse handle(const HttpRequest& request);

 private:
  metrics::Registry& registry_;
  const Readiness& readiness_;
  std::atomic<const ClusterStatusSource*> cluster_source_{nullptr};
  metrics::Family<metrics::Counter>& requests_;
  HttpServer server_;
  metrics::Registry::CollectorId collector_ = 0;
};

}  // namespace floe::admin
