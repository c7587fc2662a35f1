// Connection and server lifecycle: idle timeout, graceful stop and drain, handler failures, many connections.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/signal_set.hpp>

#include "test_support.h"

namespace floe::net::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(NetLifecycle, IdleConnectionIsClosed) {
  ServerConfig config = test_config();
  config.idle_timeout = 200ms;
  ServerHarness harness(config);
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame(make_request('e')));
  ASSERT_TRUE(client.read_frame());
  const auto since = Clock::now();
  EXPECT_TRUE(client.wait_closed(5s));
  EXPECT_GE(Clock::now() - since, 150ms);
  EXPECT_TRUE(eventually([&] { return harness.server().stats().open_connections == 0; }));
}

TEST(NetLifecycle, SilentConnectionIsClosed) {
  ServerConfig config = test_config();
  config.idle_timeout = 200ms;
  ServerHarness harness(config);
  TestClient client(harness.port());  // never sends anything
  EXPECT_TRUE(client.wait_closed(5s));
}

TEST(NetLifecycle, RequestInFlightLongerThanIdleTimeoutIsNotIdle) {
  ServerConfig config = test_config();
  config.idle_timeout = 200ms;
  ServerHarness harness(config);
  TestClient client(harness.port());
  const Bytes request = make_request('e', 600, "slow");
  ASSERT_TRUE(client.send_frame(request));
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, request);
}

TEST(NetLifecycle, StopDrainsInFlightRequestThenIoContextFinishes) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  TestClient idle(harness.port());
  const Bytes slow = make_request('e', 300, "finish me");
  ASSERT_TRUE(client.send_frame(slow));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 1; }));
  ASSERT_TRUE(eventually([&] { return harness.server().stats().open_connections == 2; }));

  harness.server().stop();
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, slow);
  EXPECT_TRUE(client.wait_closed());
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_TRUE(harness.server().wait_stopped_for(5s));
  EXPECT_TRUE(harness.wait_io_finished(5s));
  TestClient late(harness.port());
  EXPECT_FALSE(late.connected());  // no longer accepting
}

TEST(NetLifecycle, RequestArrivingDuringDrainIsNotStarted) {
  ServerHarness harness(test_config());
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame(make_request('g')));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 1; }));
  harness.server().stop();
  ASSERT_TRUE(client.send_frame(make_request('e', 0, "too late")));
  std::this_thread::sleep_for(50ms);  // let it arrive while the first is still held
  harness.handler().gate_open = true;
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ((*response)[0], 'g');
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(harness.handler().started.load(), 1);
}

TEST(NetLifecycle, DrainTimeoutForceClosesStuckConnections) {
  ServerConfig config = test_config();
  config.drain_timeout = 200ms;
  ServerHarness harness(config);
  TestClient client(harness.port());
  ASSERT_TRUE(client.send_frame(make_request('g')));  // held until the gate opens
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 1; }));
  const auto since = Clock::now();
  harness.server().stop();
  std::size_t received = 0;
  EXPECT_TRUE(client.wait_closed(5s, &received));
  EXPECT_EQ(received, 0u);
  EXPECT_GE(Clock::now() - since, 150ms);
  EXPECT_TRUE(harness.server().wait_stopped_for(5s));
  harness.handler().gate_open = true;  // the abandoned handler ends; then nothing is left to run
  EXPECT_TRUE(harness.wait_io_finished(5s));
}

TEST(NetLifecycle, SignalStopsTheServerLikeMainDoes) {
  ServerHarness harness(test_config());
  asio::signal_set signals(harness.io(), SIGUSR1);
  Server& server = harness.server();
  signals.async_wait([&server](std::error_code ec, int) {
    if (!ec) server.stop();
  });
  TestClient client(harness.port());
  const Bytes slow = make_request('e', 200, "in flight at the signal");
  ASSERT_TRUE(client.send_frame(slow));
  ASSERT_TRUE(eventually([&] { return harness.handler().started.load() == 1; }));
  std::raise(SIGUSR1);
  auto response = client.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, slow);
  EXPECT_TRUE(harness.wait_io_finished(5s));  // the io_context ran out of work: main would exit 0 here
  EXPECT_TRUE(server.stopped());
}

TEST(NetLifecycle, WaitStoppedFromACoroutine) {
  ServerHarness harness(test_config());
  std::atomic<bool> resumed{false};
  asio::co_spawn(
      harness.io(),
      [&]() -> asio::awaitable<void> {
        co_await harness.server().wait_stopped();
        resumed = true;
      },
      asio::detached);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(resumed.load());
  harness.server().stop();
  EXPECT_TRUE(eventually([&] { return resumed.load(); }));
  EXPECT_TRUE(harness.wait_io_finished(5s));
}

TEST(NetLifecycle, HandlerExceptionClosesOnlyThatConnection) {
  ServerHarness harness(test_config());
  TestClient bad(harness.port());
  TestClient good(harness.port());
  ASSERT_TRUE(good.send_frame(make_request('e', 0, "before")));
  ASSERT_TRUE(good.read_frame());
  ASSERT_TRUE(bad.send_frame(make_request('t')));
  std::size_t received = 0;
  EXPECT_TRUE(bad.wait_closed(5s, &received));
  EXPECT_EQ(received, 0u);
  const Bytes after = make_request('e', 0, "after");
  ASSERT_TRUE(good.send_frame(after));
  auto response = good.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, after);
  TestClient fresh(harness.port());
  ASSERT_TRUE(fresh.send_frame(after));
  EXPECT_TRUE(fresh.read_frame());
}

TEST(NetLifecycle, TwoHundredConcurrentConnections) {
  ServerConfig config = test_config();
  config.io_threads = 4;
  ServerHarness harness(config);
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(harness.port()));
    ASSERT_TRUE(clients.back()->connected()) << "client " << i;
  }
  ASSERT_TRUE(eventually([&] { return harness.server().stats().open_connections == kClients; }));
  auto request = [](int client, int n) {
    return make_request('e', static_cast<uint32_t>((client + n) % 3), std::to_string(client) + "/" + std::to_string(n));
  };
  for (int i = 0; i < kClients; ++i) {
    for (int n = 0; n < 3; ++n) ASSERT_TRUE(clients[i]->send_frame(request(i, n)));
  }
  for (int i = 0; i < kClients; ++i) {
    for (int n = 0; n < 3; ++n) {
      auto response = clients[i]->read_frame();
      ASSERT_TRUE(response) << "client " << i << " response " << n;
      ASSERT_EQ(*response, request(i, n));
    }
  }
  EXPECT_EQ(harness.server().stats().total_requests, 3u * kClients);
  EXPECT_EQ(harness.server().stats().accepted_connections, static_cast<uint64_t>(kClients));
  clients.clear();
  EXPECT_TRUE(eventually([&] { return harness.server().stats().open_connections == 0; }));
}

TEST(NetLifecycle, MaxConnectionsHoldsBackNewClients) {
  ServerConfig config = test_config();
  config.max_connections = 2;
  ServerHarness harness(config);
  auto first = std::make_unique<TestClient>(harness.port());
  TestClient second(harness.port());
  ASSERT_TRUE(eventually([&] { return harness.server().stats().open_connections == 2; }));
  TestClient third(harness.port());  // completes the TCP handshake in the backlog, but is not served yet
  ASSERT_TRUE(third.send_frame(make_request('e', 0, "waiting")));
  EXPECT_FALSE(third.readable_within(100ms));
  first.reset();
  auto response = third.read_frame();
  ASSERT_TRUE(response);
  EXPECT_EQ(harness.server().stats().accepted_connections, 3u);
}

TEST(NetLifecycle, PortInUseIsReported) {
  ServerHarness harness(test_config());
  asio::io_context io;
  TestHandler handler;
  ServerConfig config = test_config();
  config.port = harness.port();
  Server second(io, config, handler);
  EXPECT_TRUE(second.start());
}

TEST(NetLifecycle, UnusableConfigIsRefused) {
  ServerConfig config = test_config();
  config.max_in_flight_requests = 0;
  EXPECT_NE(validate(config), "");
  asio::io_context io;
  TestHandler handler;
  Server server(io, config, handler);
  EXPECT_EQ(server.start(), std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(validate(test_config()), "");
}

}  // namespace
}  // namespace floe::net::testing
