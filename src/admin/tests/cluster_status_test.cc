// /v1/cluster: the JSON rendering of ClusterStatus and its route (AdminServer::handle, no sockets).
#include "admin/cluster_status.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>

#include "admin/admin_server.h"

namespace floe::admin {
namespace {

ClusterStatus sample_status() {
  ClusterStatus s;
  s.cluster_id = "abc";
  s.mode = "single-broker";
  s.self = 1;
  s.brokers.push_back({1, "127.0.0.1", 9092, std::nullopt, "ready"});
  s.brokers.push_back({2, "::1", 9093, std::string("zone-b"), "draining"});
  s.partitions.push_back({"orders", 0, 1, 3, 0, 42});
  s.partitions.push_back({"orders", 1, -1, -1, 5, 7});
  return s;
}

TEST(ClusterStatusJson, ShapeAndValues) {
  const std::string expected =
      "{\"cluster_id\":\"abc\",\"mode\":\"single-broker\",\"self\":1,\"brokers\":["
      "{\"node_id\":1,\"host\":\"127.0.0.1\",\"port\":9092,\"rack\":null,\"state\":\"ready\"},"
      "{\"node_id\":2,\"host\":\"::1\",\"port\":9093,\"rack\":\"zone-b\",\"state\":\"draining\"}],\"partitions\":["
      "\n{\"topic\":\"orders\",\"partition\":0,\"leader\":1,\"leader_epoch\":3,\"log_start_offset\":0,"
      "\"high_watermark\":42},"
      "\n{\"topic\":\"orders\",\"partition\":1,\"leader\":-1,\"leader_epoch\":-1,\"log_start_offset\":5,"
      "\"high_watermark\":7}]}\n";
  EXPECT_EQ(to_json(sample_status()), expected);
  ClusterStatus empty;
  EXPECT_EQ(to_json(empty), "{\"cluster_id\":\"\",\"mode\":\"\",\"self\":-1,\"brokers\":[],\"partitions\":[]}\n");
}

TEST(ClusterStatusJson, ClusterModeFieldsAppearOnlyWhenSet) {
  ClusterStatus s;
  s.cluster_id = "c";
  s.mode = "cluster";
  s.self = 2;
  BrokerStatus b{2, "h", 9, std::nullopt, "ready"};
  b.epoch = 77;
  b.controller = true;
  s.brokers.push_back(b);
  PartitionStatus led{"t", 0, 2, 4, 0, 10};
  led.broker_epoch = 77;
  led.released = false;
  led.local = true;
  PartitionStatus moving{"t", 1, -1, 5, std::nullopt, std::nullopt};
  moving.broker_epoch = 70;
  moving.released = true;
  moving.move_target = 3;
  moving.local = false;
  s.partitions = {led, moving};
  s.self_view = SelfView{77, true, true, 1, 1, 1234};
  const std::string expected =
      "{\"cluster_id\":\"c\",\"mode\":\"cluster\",\"self\":2,\"brokers\":["
      "{\"node_id\":2,\"host\":\"h\",\"port\":9,\"rack\":null,\"state\":\"ready\",\"epoch\":77,"
      "\"controller\":true}],\"partitions\":["
      "\n{\"topic\":\"t\",\"partition\":0,\"leader\":2,\"leader_epoch\":4,\"log_start_offset\":0,"
      "\"high_watermark\":10,\"broker_epoch\":77,\"released\":false,\"move_target\":null,\"local\":true},"
      "\n{\"topic\":\"t\",\"partition\":1,\"leader\":-1,\"leader_epoch\":5,\"log_start_offset\":null,"
      "\"high_watermark\":null,\"broker_epoch\":70,\"released\":true,\"move_target\":3,\"local\":false}],"
      "\"self_view\":{\"broker_epoch\":77,\"registered\":true,\"controller\":true,\"assigned_partitions\":1,"
      "\"local_partitions\":1,\"image_revision\":1234}}\n";
  EXPECT_EQ(to_json(s), expected);
}

class FixedReadiness final : public Readiness {
 public:
  bool ready(std::string& why_not) const override {
    if (!ok) why_not = "opening partitions";
    return ok;
  }
  bool ok = false;
};

TEST(ReadinessGate, ReadyNeedsTheGateAndDrainingWins) {
  ReadinessState state;
  FixedReadiness gate;
  std::string why;
  state.set_gate(&gate);
  EXPECT_FALSE(state.ready(why));
  EXPECT_EQ(why, "starting");
  state.set_ready();
  EXPECT_FALSE(state.ready(why));
  EXPECT_EQ(why, "opening partitions");
  gate.ok = true;
  EXPECT_TRUE(state.ready(why));
  state.set_draining();
  EXPECT_FALSE(state.ready(why));
  EXPECT_EQ(why, "draining");
  state.set_gate(nullptr);
  EXPECT_FALSE(state.ready(why));
}

TEST(ClusterStatusJson, StringsAreEscapedAndValidUtf8) {
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string(std::string("\n\x01", 2)), "\"\\u000a\\u0001\"");
  EXPECT_EQ(json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");                // valid UTF-8 kept
  EXPECT_EQ(json_string("x\xff" "y"), "\"x\xef\xbf\xbdy\"");                // a stray byte becomes U+FFFD
  EXPECT_EQ(json_string("\xc3"), "\"\xef\xbf\xbd\"");                       // a cut sequence too
}

class FixedSource final : public ClusterStatusSource {
 public:
  ClusterStatus cluster_status() const override { return sample_status(); }
};

TEST(ClusterStatusRoute, ServesTheSourceAsJsonAnd503WithoutOne) {
  asio::io_context io;
  metrics::Registry registry;
  ReadinessState readiness;
  AdminServer server(io, HttpServerConfig{}, registry, readiness);
  HttpRequest req;
  req.method = "GET";
  req.path = "/v1/cluster";
  HttpResponse r = server.handle(req);
  EXPECT_EQ(r.status, 503);
  FixedSource source;
  server.set_cluster_status_source(&source);
  r = server.handle(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, to_json(sample_status()));
  server.set_cluster_status_source(nullptr);
  EXPECT_NE(registry.render().find("floe_http_requests_total{path=\"/v1/cluster\",code=\"200\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace floe::admin
