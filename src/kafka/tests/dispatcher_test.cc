#include "kafka/dispatcher.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "kafka/errors.h"
#include "protocol/msg/api_versions.h"
#include "protocol/msg/metadata.h"
#include "protocol/msg/describe_acls.h"
#include "protocol/msg/produce.h"
#include "protocol/request.h"

namespace floe::kafka {
namespace {

class TestConnection : public net::ConnectionContext {
 public:
  TestConnection() : net::ConnectionContext(1, "127.0.0.1:5555", 9092) {}
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_(BrokerIdentity{7, "broker.example", 19092, std::string("zone-a"), "cluster-x"}) {}

  template <typename Req>
  proto::Bytes frame_of(const Req& req, int16_t key, int16_t version, int32_t correlation = 42) {
    proto::RequestHeader h;
    h.request_api_key = key;
    h.request_api_version = version;
    h.correlation_id = correlation;
    h.client_id = "test";
    proto::Bytes out;
    proto::Writer w(out);
    h.encode(w, proto::find_api(key)->request_header_version(version));
    req.encode(w, version);
    return out;
  }

  net::Reply run(proto::Bytes frame) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, dispatcher_.handle(conn_, std::move(frame)), asio::use_future);
    io.run();
    return fut.get();
  }

  // Checks the response header and returns a reader positioned at the body.
  template <typename Resp>
  Resp decode_response(const net::Reply& reply, int16_t key, int16_t version, int32_t correlation = 42) {
    EXPECT_EQ(reply.action, net::Reply::Action::send);
    proto::Reader r(reply.body);
    EXPECT_EQ(r.i32(), correlation);
    if (proto::find_api(key)->response_header_version(version) == 1) {
      EXPECT_EQ(r.uvarint(), 0u);
    }
    Resp resp;
    EXPECT_TRUE(resp.decode(r, version));
    EXPECT_TRUE(r.at_end());
    return resp;
  }

  TestConnection conn_;
  Dispatcher dispatcher_;
};

TEST_F(DispatcherTest, ApiVersionsEveryVersionListsImplementedApis) {
  for (int16_t v = 0; v <= 4; ++v) {
    proto::ApiVersionsRequest req;
    req.client_software_name = "floe-test";
    req.client_software_version = "1.0";
    auto resp = decode_response<proto::ApiVersionsResponse>(run(frame_of(req, 18, v)), 18, v);
    EXPECT_EQ(resp.error_code, 0) << "v" << v;
    bool has_metadata = false, has_describe_acls = false;
    for (const auto& k : resp.api_keys) {
      has_metadata = has_metadata || (k.api_key == 3 && k.min_version == 0 && k.max_version == 12);
      has_describe_acls = has_describe_acls || k.api_key == 29;
    }
    EXPECT_TRUE(has_metadata);
    EXPECT_FALSE(has_describe_acls) << "advertises only what is implemented";
  }
}

TEST_F(DispatcherTest, ApiVersionsNewerThanKnownFallsBackToV0) {
  proto::Bytes frame = frame_of(proto::ApiVersionsRequest{}, 18, 4);
  frame[2] = 0;
  frame[3] = 99;  // api_version 99: header v2 (flexible), body unknown
  auto resp = decode_response<proto::ApiVersionsResponse>(run(frame), 18, 0);
  EXPECT_EQ(resp.error_code, code(Errc::unsupported_version));
  EXPECT_FALSE(resp.api_keys.empty());
}

TEST_F(DispatcherTest, ApiVersionsRejectsBadSoftwareName) {
  proto::ApiVersionsRequest req;
  req.client_software_name = "-bad name";
  req.client_software_version = "1";
  auto resp = decode_response<proto::ApiVersionsResponse>(run(frame_of(req, 18, 3)), 18, 3);
  EXPECT_EQ(resp.error_code, code(Errc::invalid_request));
}

TEST_F(DispatcherTest, MetadataEveryVersionShowsThisBroker) {
  for (int16_t v = 0; v <= 12; ++v) {
    proto::MetadataRequest req;
    req.topics.emplace();
    req.topics->push_back({});
    req.topics->back().name = "orders";
    req.topics->push_back({});
    req.topics->back().name = "bad/name";
    auto resp = decode_response<proto::MetadataResponse>(run(frame_of(req, 3, v)), 3, v);
    ASSERT_EQ(resp.brokers.size(), 1u);
    EXPECT_EQ(resp.brokers[0].node_id, 7);
    EXPECT_EQ(resp.brokers[0].host, "broker.example");
    EXPECT_EQ(resp.brokers[0].port, 19092);
    if (v >= 1) {
      EXPECT_EQ(resp.brokers[0].rack, "zone-a");
      EXPECT_EQ(resp.controller_id, 7);
    }
    if (v >= 2) {
      EXPECT_EQ(resp.cluster_id, "cluster-x");
    }
    ASSERT_EQ(resp.topics.size(), 2u);
    EXPECT_EQ(resp.topics[0].error_code, code(Errc::unknown_topic_or_partition));
    EXPECT_EQ(resp.topics[1].error_code, code(Errc::invalid_topic_exception));
  }
}

TEST_F(DispatcherTest, MetadataAllTopicsIsEmptyList) {
  proto::MetadataRequest req;  // null topics: all
  auto resp = decode_response<proto::MetadataResponse>(run(frame_of(req, 3, 12)), 3, 12);
  EXPECT_TRUE(resp.topics.empty());
}

TEST_F(DispatcherTest, UnimplementedApiClosesTheConnection) {
  proto::ProduceRequest req;
  EXPECT_EQ(run(frame_of(req, 0, 2)).action, net::Reply::Action::close) << "Produce v2: message format v1 only";
  proto::DescribeAclsRequest acls;
  EXPECT_EQ(run(frame_of(acls, 29, 1)).action, net::Reply::Action::close) << "ACLs are not implemented";
}

TEST_F(DispatcherTest, UnknownApiKeyCloses) {
  proto::Bytes frame{0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff};
  EXPECT_EQ(run(frame).action, net::Reply::Action::close);
}

TEST_F(DispatcherTest, TruncatedHeaderCloses) {
  EXPECT_EQ(run(proto::Bytes{0, 3, 0}).action, net::Reply::Action::close);
  EXPECT_EQ(run(proto::Bytes{}).action, net::Reply::Action::close);
}

TEST_F(DispatcherTest, MalformedBodyCloses) {
  proto::MetadataRequest req;
  req.topics.emplace();
  req.topics->push_back({});
  req.topics->back().name = "orders";
  proto::Bytes frame = frame_of(req, 3, 4);
  frame.resize(frame.size() - 3);  // cut into the topic name
  EXPECT_EQ(run(frame).action, net::Reply::Action::close);
  proto::Bytes trailing = frame_of(req, 3, 4);
  trailing.push_back(0);  // garbage after a complete body
  EXPECT_EQ(run(trailing).action, net::Reply::Action::close);
}

}  // namespace
}  // namespace floe::kafka
