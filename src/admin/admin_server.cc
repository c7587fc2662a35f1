#include "admin/admin_server.h"

namespace floe::admin {

bool ReadinessState::ready(std::string& why_not) const {
  switch (state_.load()) {
    case kReady: {
      const Readiness* gate = gate_.load();
      return gate == nullptr || gate->ready(why_not);
    }
    case kStarting:
      why_not = "starting";
      return false;
    default:
      why_not = "draining";
      return false;
  }
}

AdminServer::AdminServer(asio::io_context& io, HttpServerConfig config, metrics::Registry& registry,
                         const Readiness& readiness)
    : registry_(registry),
      readiness_(readiness),
      requests_(registry.counter("floe_http_requests_total", "Admin HTTP requests routed, by path and status code",
                                 {"path", "code"})),
      server_(io, std::move(config), [this](const HttpRequest& r) { return handle(r); }) {
  collector_ = registry_.add_collector([this](metrics::Exposition& e) {
    const HttpServerStats s = server_.stats();
    e.family("floe_http_connections_open", "Open admin HTTP connections", metrics::Type::gauge);
    e.sample({}, static_cast<double>(s.open_connections));
    e.family("floe_http_connections_accepted_total", "Admin HTTP connections accepted", metrics::Type::counter);
    e.sample({}, static_cast<double>(s.accepted_connections));
    e.family("floe_http_connections_refused_total", "Admin HTTP connections refused as over the connection bound",
             metrics::Type::counter);
    e.sample({}, static_cast<double>(s.refused_connections));
    e.family("floe_http_bad_requests_total", "Admin HTTP requests answered 4xx/505 as malformed or not a GET",
             metrics::Type::counter);
    e.sample({}, static_cast<double>(s.bad_requests));
  });
}

AdminServer::~AdminServer() {
  registry_.remove_collector(collector_);
  server_.stop();
}

std::error_code AdminServer::start() { return server_.start(); }

HttpResponse AdminServer::handle(const HttpRequest& request) {
  HttpResponse resp;
  std::string_view path_label = "other";
  if (request.path == "/metrics") {
    path_label = "/metrics";
    resp.content_type = std::string(metrics::kContentType);
    resp.body = registry_.render();
  } else if (request.path == "/healthz") {
    path_label = "/healthz";
    resp = HttpResponse::text(200, "ok\n");
  } else if (request.path == "/readyz") {
    path_label = "/readyz";
    std::string why_not;
    resp = readiness_.ready(why_not) ? HttpResponse::text(200, "ready\n")
                                     : HttpResponse::text(503, "not ready: " + why_not + "\n");
  } else if (request.path == "/v1/cluster") {
    path_label = "/v1/cluster";
    if (const ClusterStatusSource* source = cluster_source_.load()) {
      resp.content_type = "application/json";
      resp.body = to_json(source->cluster_status());
    } else {
      resp = HttpResponse::text(503, "cluster status not available yet\n");
    }
  } else {
    resp = HttpResponse::text(404, "404 Not Found: try /metrics, /healthz, /readyz or /v1/cluster\n");
  }
  requests_.with({path_label, std::to_string(resp.status)}).inc();
  return resp;
}

}  // namespace floe::admin
