// Framing: size prefix + body in both directions, partial frames, and the bounds on the size prefix.
#include <gtest/gtest.h>

#include <string>

#include "alloc_probe.h"
#include "test_support.h"

namespace floe::net::testing {
namespace {

TEST(NetFraming, RoundTrip) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  ASSERT_TRUE(client.connected());
  const Bytes request = make_request('e', 0, "hello, floe");
  ASSERT_TRUE(client.send_frame(request));
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, request);
  EXPECT_EQ(harness.server().stats().total_requests, 1u);
}

TEST(NetFraming, EmptyFrameRoundTrip) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame({}));
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->empty());
}

TEST(NetFraming, LargeFrameRoundTrip) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  std::string payload(3 << 20, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 4096) payload[i] = static_cast<char>('a' + i % 26);
  const Bytes request = make_request('e', 0, payload);
  ASSERT_TRUE(client.send_frame(request));
  auto response = client.read_frame(10s);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, request);
}

TEST(NetFraming, PartialFramesAcrossSeveralWrites) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  const Bytes first = make_request('e', 0, "split into pieces");
  const Bytes second = make_request('e', 0, "second");
  Bytes wire = frame_of(first);
  const Bytes tail = frame_of(second);
  wire.insert(wire.end(), tail.begin(), tail.end());
  // One byte at a time through the first size prefix, then uneven chunks that straddle the frame boundary.
  std::size_t pos = 0;
  for (; pos < 4; ++pos) {
    ASSERT_TRUE(client.send_bytes(Bytes{wire[pos]}));
    std::this_thread::sleep_for(5ms);  // let each piece arrive on its own
  }
  for (std::size_t chunk = 3; pos < wire.size(); chunk += 4) {
    const std::size_t n = std::min(chunk, wire.size() - pos);
    ASSERT_TRUE(client.send_bytes(Bytes(wire.begin() + pos, wire.begin() + pos + n)));
    pos += n;
    std::this_thread::sleep_for(5ms);
  }
  auto r1 = client.read_frame();
  auto r2 = client.read_frame();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(*r1, first);
  EXPECT_EQ(*r2, second);
}

TEST(NetFraming, OversizedFrameClosesWithoutAllocating) {
  ServerHarness harness(test_config());  // default max_frame_bytes: 100 MiB
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame(make_request('e')));  // a normal request first: the connection works
  ASSERT_TRUE(client.read_frame());
  reset_largest_allocation();
  const uint32_t size = 0x7ffffff0;  // ~2 GiB, far above the bound
  ASSERT_TRUE(client.send_bytes(Bytes{static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16),
                                      static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)}));
  std::size_t received = 0;
  EXPECT_TRUE(client.wait_closed(5s, &received));
  EXPECT_EQ(received, 0u);
  EXPECT_LT(largest_allocation(), std::size_t{1} << 20);
  EXPECT_TRUE(eventually([&] { return harness.server().stats().open_connections == 0; }));
}

TEST(NetFraming, FrameJustOverTheConfiguredBoundCloses) {
  ServerConfig config = test_config();
  config.max_frame_bytes = 1024;
  ServerHarness harness(config);
  {
    TestClient client(harness.port());  // exactly at the bound is fine
    ASSERT_TRUE(client.send_frame(make_request('e', 0, std::string(1024 - 5, 'a'))));
    auto response = client.read_frame();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->size(), 1024u);
  }
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_bytes(frame_of(make_request('e', 0, std::string(1024 - 4, 'a')))));
  EXPECT_TRUE(client.wait_closed());
}

TEST(NetFraming, NegativeSizeCloses) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_bytes(Bytes{0xff, 0xff, 0xff, 0xfe}));  // -2
  std::size_t received = 0;
  EXPECT_TRUE(client.wait_closed(5s, &received));
  EXPECT_EQ(received, 0u);
}

TEST(NetFraming, PeerClosingMidFrameIsHandled) {
  ServerHarness harness(test_config());
  {
    TestClient client(harness.port());
    Bytes partial = frame_of(make_request('e', 0, "truncated"));
    partial.resize(partial.size() - 3);
    ASSERT_TRUE(client.send_bytes(partial));
    ASSERT_TRUE(eventually([&] { return harness.server().stats().open_connections == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return harness.server().stats().open_connections == 0; }));
  EXPECT_EQ(harness.server().stats().total_requests, 0u);
}

}  // namespace
}  // namespace floe::net::testing
