// The dispatcher's request metrics: exact counts per API, version and outcome, bytes, latency observations.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "kafka/dispatcher.h"
#include "metrics/metrics.h"
#include "protocol/msg/api_versions.h"
#include "protocol/msg/metadata.h"
#include "protocol/request.h"

namespace floe::kafka {
namespace {

class TestConnection : public net::ConnectionContext {
 public:
  TestConnection() : net::ConnectionContext(1, "127.0.0.1:5555", 9092) {}
};

proto::Bytes header_only(int16_t key, int16_t version, int32_t correlation = 1) {
  proto::RequestHeader h;
  h.request_api_key = key;
  h.request_api_version = version;
  h.correlation_id = correlation;
  h.client_id = "metrics-test";
  proto::Bytes out;
  proto::Writer w(out);
  const proto::ApiInfo* api = proto::find_api(key);
  h.encode(w, api ? api->request_header_version(version) : 1);
  return out;
}

template <typename Req>
proto::Bytes frame_of(const Req& req, int16_t key, int16_t version) {
  proto::Bytes out = header_only(key, version);
  proto::Writer w(out);
  req.encode(w, version);
  return out;
}

class DispatcherMetricsTest : public ::testing::Test {
 protected:
  net::Reply run(proto::Bytes frame) {
    request_bytes_ += frame.size();
    asio::io_context io;
    auto fut = asio::co_spawn(io, dispatcher_.handle(conn_, std::move(frame)), asio::use_future);
    io.run();
    net::Reply r = fut.get();
    return r;
  }

  // Looking a family up again returns the dispatcher's (same name, type and labels).
  uint64_t requests(std::string_view api, std::string_view version) {
    return registry_.counter("floe_kafka_requests_total", "", {"api", "version"}).with({api, version}).value();
  }
  uint64_t errors(std::string_view api, std::string_view error) {
    return registry_.counter("floe_kafka_request_errors_total", "", {"api", "error"}).with({api, error}).value();
  }
  uint64_t bytes(const std::string& family, std::string_view api) {
    return registry_.counter(family, "", {"api"}).with({api}).value();
  }

  metrics::Registry registry_;
  TestConnection conn_;
  Dispatcher dispatcher_{BrokerIdentity{7, "broker.example", 19092, std::nullopt, "cluster-x"}, &registry_};
  std::size_t request_bytes_ = 0;
};

TEST_F(DispatcherMetricsTest, CountsEveryRequestByApiVersionAndOutcome) {
  std::size_t response_bytes = 0;
  proto::ApiVersionsRequest av;
  av.client_software_name = "t";
  av.client_software_version = "1";
  for (int i = 0; i < 3; ++i) response_bytes += run(frame_of(av, 18, 3)).body.size();
  response_bytes += run(frame_of(av, 18, 0)).body.size();
  proto::MetadataRequest md;
  for (int i = 0; i < 2; ++i) response_bytes += run(frame_of(md, 3, 12)).body.size();
  response_bytes += run(frame_of(md, 3, 1)).body.size();
  const std::size_t handled_bytes = request_bytes_;

  // Failures: ApiVersions newer than ours (an error answer), Metadata v13 (closed), DescribeAcls (known, not
  // implemented: closed), a malformed Metadata body, an unknown key, a truncated header.
  auto newer = run(header_only(18, 99));
  EXPECT_EQ(newer.action, net::Reply::Action::send);
  response_bytes += newer.body.size();
  EXPECT_EQ(run(frame_of(md, 3, 13)).action, net::Reply::Action::close);
  EXPECT_EQ(run(header_only(29, 1)).action, net::Reply::Action::close);
  proto::Bytes bad = header_only(3, 12);
  bad.push_back(0xFF);
  EXPECT_EQ(run(bad).action, net::Reply::Action::close);
  EXPECT_EQ(run(header_only(999, 0)).action, net::Reply::Action::close);
  EXPECT_EQ(run(proto::Bytes{0, 3}).action, net::Reply::Action::close);

  EXPECT_EQ(requests("ApiVersions", "3"), 3u);
  EXPECT_EQ(requests("ApiVersions", "0"), 1u);
  EXPECT_EQ(requests("ApiVersions", "99"), 1u);
  EXPECT_EQ(requests("Metadata", "12"), 3u);  // 2 good + 1 malformed
  EXPECT_EQ(requests("Metadata", "1"), 1u);
  EXPECT_EQ(requests("Metadata", "13"), 1u);
  EXPECT_EQ(requests("DescribeAcls", "1"), 1u);

  EXPECT_EQ(errors("ApiVersions", "UNSUPPORTED_VERSION"), 1u);
  EXPECT_EQ(errors("Metadata", "closed_unsupported_version"), 1u);
  EXPECT_EQ(errors("DescribeAcls", "closed_unsupported_version"), 1u);
  EXPECT_EQ(errors("Metadata", "closed_malformed_request"), 1u);
  EXPECT_EQ(errors("unknown", "closed_unknown_api"), 1u);
  EXPECT_EQ(errors("unknown", "closed_malformed_header"), 1u);

  // Bytes: everything whose header parsed into a known API.
  const uint64_t in = bytes("floe_kafka_request_bytes_total", "ApiVersions") +
                      bytes("floe_kafka_request_bytes_total", "Metadata") +
                      bytes("floe_kafka_request_bytes_total", "DescribeAcls");
  EXPECT_EQ(in, request_bytes_ - header_only(999, 0).size() - 2);
  EXPECT_GE(in, handled_bytes);
  const uint64_t out = bytes("floe_kafka_response_bytes_total", "ApiVersions") +
                       bytes("floe_kafka_response_bytes_total", "Metadata");
  EXPECT_EQ(out, response_bytes);

  // Latency: one observation per request that reached a handler or got an answer.
  auto& lat = registry_.histogram("floe_kafka_request_duration_seconds", "", {"api"}, metrics::latency_buckets());
  EXPECT_EQ(lat.with({"ApiVersions"}).snapshot().count, 5u);
  EXPECT_EQ(lat.with({"Metadata"}).snapshot().count, 4u);  // 3 answered + the malformed one
  EXPECT_EQ(registry_.gauge("floe_kafka_requests_in_flight", "").get().value(), 0);

  const std::string text = registry_.render();
  EXPECT_NE(text.find("floe_kafka_requests_total{api=\"Metadata\",version=\"12\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("floe_kafka_request_duration_seconds_count{api=\"ApiVersions\"} 5\n"), std::string::npos);
}

TEST_F(DispatcherMetricsTest, HostileVersionsStayWithinTheSeriesBound) {
  for (int v = 100; v < 100 + 3000; ++v) run(header_only(3, static_cast<int16_t>(v)));
  auto& fam = registry_.counter("floe_kafka_requests_total", "", {"api", "version"});
  EXPECT_LE(fam.size(), metrics::kDefaultMaxSeries);
  EXPECT_GT(fam.dropped(), 0u);
}

TEST(DispatcherNoMetrics, WorksWithoutARegistry) {
  Dispatcher d(BrokerIdentity{1, "h", 1, std::nullopt, "c"});
  TestConnection conn;
  asio::io_context io;
  auto fut = asio::co_spawn(io, d.handle(conn, header_only(18, 0)), asio::use_future);
  io.run();
  EXPECT_EQ(fut.get().action, net::Reply::Action::send);
}

}  // namespace
}  // namespace floe::kafka
