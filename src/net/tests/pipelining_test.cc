// Pipelining: concurrent handlers, responses in request order, Action::none / close, and the in-flight bounds.
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace floe::net::testing {
namespace {

Bytes concat(std::initializer_list<Bytes> frames) {
  Bytes out;
  for (const Bytes& body : frames) {
    const Bytes f = frame_of(body);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

class NetPipelining : public ::testing::TestWithParam<unsigned> {
 protected:
  ServerConfig config() {
    ServerConfig c = test_config();
    c.io_threads = GetParam();
    return c;
  }
};

TEST_P(NetPipelining, LaterHandlersFinishingFirstStillAnswerInOrder) {
  ServerHarness harness(config());
  TestClient client(harness.port());
  const Bytes slow = make_request('e', 300, "first");
  const Bytes medium = make_request('e', 100, "second");
  const Bytes fast = make_request('e', 0, "third");
  ASSERT_TRUE(client.send_bytes(concat({slow, medium, fast})));
  auto r1 = client.read_frame();
  auto r2 = client.read_frame();
  auto r3 = client.read_frame();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(*r1, slow);
  EXPECT_EQ(*r2, medium);
  EXPECT_EQ(*r3, fast);
  EXPECT_GE(harness.handler().max_running.load(), 2);  // they ran concurrently, not one after another
}

TEST_P(NetPipelining, ManyPipelinedRequestsKeepTheirOrder) {
  ServerHarness harness(config());
  TestClient client(harness.port());
  std::vector<Bytes> requests;
  Bytes wire;
  for (int i = 0; i < 200; ++i) {
    requests.push_back(make_request('e', static_cast<uint32_t>((i * 7) % 5), "req-" + std::to_string(i)));
    const Bytes f = frame_of(requests.back());
    wire.insert(wire.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(client.send_bytes(wire));
  for (int i = 0; i < 200; ++i) {
    auto response = client.read_frame();
    ASSERT_TRUE(response) << "response " << i;
    ASSERT_EQ(*response, requests[i]) << "response " << i;
  }
}

TEST_P(NetPipelining, NoResponseStillHoldsItsPlaceInTheOrder) {
  ServerHarness harness(config());
  TestClient client(harness.port());
  const Bytes after = make_request('e', 0, "after the silent one");
  ASSERT_TRUE(client.send_bytes(concat({make_request('n', 200), after})));
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, after);
  // The echo finished long before; it may only have been written once the earlier, silent request was done.
  EXPECT_EQ(harness.handler().none_completed.load(), 1);
  EXPECT_FALSE(client.readable_within(50ms));  // and nothing was written for the silent one
}

TEST_P(NetPipelining, CloseActionWritesItsBodyThenClosesAndDropsLaterReplies) {
  ServerHarness harness(config());
  TestClient client(harness.port());
  const Bytes before = make_request('e', 0, "before");
  const Bytes bye = make_request('c', 50, "bye");
  ASSERT_TRUE(client.send_bytes(concat({before, bye, make_request('e', 0, "never answered")})));
  auto r1 = client.read_frame();
  auto r2 = client.read_frame();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(*r1, before);
  EXPECT_EQ(*r2, bye);
  std::size_t extra = 0;
  EXPECT_TRUE(client.wait_closed(5s, &extra));
  EXPECT_EQ(extra, 0u);
}

TEST_P(NetPipelining, CloseActionWithoutBodyJustCloses) {
  ServerHarness harness(config());
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame(make_request('C')));
  std::size_t extra = 0;
  EXPECT_TRUE(client.wait_closed(5s, &extra));
  EXPECT_EQ(extra, 0u);
}

TEST_P(NetPipelining, InFlightBoundStopsReading) {
  ServerConfig c = config();
  c.max_in_flight_requests = 4;
  ServerHarness harness(c);
  TestClient client(harness.port());
  std::vector<Bytes> requests;
  Bytes wire;
  for (int i = 0; i < 20; ++i) {
    requests.push_back(make_request('g', 0, std::to_string(i)));
    const Bytes f = frame_of(requests.back());
    wire.insert(wire.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(client.send_bytes(wire));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 4; }));
  std::this_thread::sleep_for(100ms);  // a negative check: give the server the chance to (wrongly) read more
  EXPECT_EQ(harness.handler().started.load(), 4);
  EXPECT_EQ(harness.server().stats().total_requests, 4u);
  harness.handler().gate_open = true;
  for (int i = 0; i < 20; ++i) {
    auto response = client.read_frame();
    ASSERT_TRUE(response) << "response " << i;
    ASSERT_EQ(*response, requests[i]);
  }
}

TEST_P(NetPipelining, QueuedResponseBytesBoundStopsReading) {
  ServerConfig c = config();
  c.max_queued_response_bytes = 1000;
  ServerHarness harness(c);
  TestClient client(harness.port());
  std::vector<Bytes> requests{make_request('g', 0, "held")};  // blocks the head of the line
  for (int i = 0; i < 30; ++i) requests.push_back(make_request('e', 0, std::string(600, 'a' + i % 26)));
  Bytes wire;
  for (const Bytes& r : requests) {
    const Bytes f = frame_of(r);
    wire.insert(wire.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(client.send_bytes(wire));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() >= 3; }));
  std::this_thread::sleep_for(100ms);  // negative check, as above
  // Two 605-byte replies exceed the bound; reading may run a frame or two ahead of the handlers, not 30.
  EXPECT_LE(harness.handler().started.load(), 8);
  harness.handler().gate_open = true;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto response = client.read_frame();
    ASSERT_TRUE(response) << "response " << i;
    ASSERT_EQ(*response, requests[i]);
  }
}

TEST_P(NetPipelining, InFlightRequestBytesBoundStopsReading) {
  ServerConfig c = config();
  c.max_in_flight_request_bytes = 1000;
  ServerHarness harness(c);
  TestClient client(harness.port());
  std::vector<Bytes> requests;
  Bytes wire;
  for (int i = 0; i < 10; ++i) {
    requests.push_back(make_request('g', 0, std::string(400, 'a' + i)));  // 405 bytes: two fit, three do not
    const Bytes f = frame_of(requests.back());
    wire.insert(wire.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(client.send_bytes(wire));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 2; }));
  std::this_thread::sleep_for(100ms);  // negative check
  EXPECT_EQ(harness.handler().started.load(), 2);
  harness.handler().gate_open = true;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto response = client.read_frame();
    ASSERT_TRUE(response) << "response " << i;
    ASSERT_EQ(*response, requests[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(IoThreads, NetPipelining, ::testing::Values(1u, 4u),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

}  // namespace
}  // namespace floe::net::testing
