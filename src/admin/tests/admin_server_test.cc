// The admin server over real sockets: an io_context on a thread, POSIX client sockets with receive deadlines.
#include "admin/admin_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

namespace floe::admin {
namespace {

using namespace std::chrono_literals;

// A blocking client socket; every read has a deadline (SO_RCVTIMEO), so no test can hang.
class Client {
 public:
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = 3000ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Response {
    int status = 0;
    std::string head;
    std::string body;
  };

  // One response (head + Content-Length body), or nullopt on close/timeout first.
  std::optional<Response> read_response() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    r.head = buf_.substr(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    const size_t cl = r.head.find("Content-Length: ");
    const size_t len = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    while (buf_.size() < end + 4 + len) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(end + 4, len);
    buf_.erase(0, end + 4 + len);
    return r;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // True if the server closes (EOF or reset) before the receive deadline; data received first is discarded.
  bool wait_closed() {
    char tmp[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool fill() {
    char tmp[4096];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

class AdminServerTest : public ::testing::Test {
 protected:
  void start(HttpServerConfig cfg = {}) {
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    server_.emplace(io_, cfg, registry_, readiness_);
    ASSERT_FALSE(server_->start());
    ASSERT_NE(server_->port(), 0);
    runner_ = std::async(std::launch::async, [this] { io_.run(); });
  }

  // Stops the server; the io_context must then run out of work on its own (nothing left pending).
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    ASSERT_EQ(runner_.wait_for(5s), std::future_status::ready) << "io_context still has work after stop()";
    server_.reset();
  }

  Client::Response get(Client& c, const std::string& path) {
    EXPECT_TRUE(c.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n"));
    auto r = c.read_response();
    EXPECT_TRUE(r.has_value()) << path;
    return r.value_or(Client::Response{});
  }

  uint16_t port() const { return server_->port(); }

  asio::io_context io_;
  metrics::Registry registry_;
  ReadinessState readiness_;
  std::optional<AdminServer> server_;
  std::future<void> runner_;
};

TEST_F(AdminServerTest, EndpointsOnOneKeepAliveConnection) {
  registry_.counter("floe_test_things_total", "things").get().inc(5);
  start();
  Client c(port());
  ASSERT_TRUE(c.connected());
  auto r = get(c, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_NE(r.head.find("Connection: keep-alive"), std::string::npos);

  r = get(c, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: starting\n");
  readiness_.set_ready();
  EXPECT_EQ(get(c, "/readyz").status, 200);
  readiness_.set_draining();
  r = get(c, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: draining\n");
  readiness_.set_ready();  // draining is final
  EXPECT_EQ(get(c, "/readyz").status, 503);

  EXPECT_EQ(get(c, "/nope").status, 404);
  r = get(c, "/metrics?debug=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos);
  EXPECT_NE(r.body.find("floe_test_things_total 5\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("floe_http_requests_total{path=\"/healthz\",code=\"200\"} 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("floe_http_requests_total{path=\"/readyz\",code=\"503\"} 3\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("floe_http_requests_total{path=\"other\",code=\"404\"} 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("floe_http_connections_open 1\n"), std::string::npos) << r.body;
}

TEST_F(AdminServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  Client c(port());
  std::string burst;
  for (const char* p : {"/healthz", "/nope", "/readyz", "/healthz"}) burst += std::string("GET ") + p + " HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(c.send(burst));
  for (int expected : {200, 404, 503, 200}) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, expected);
  }
}

TEST_F(AdminServerTest, ConnectionCloseAndHttp10) {
  start();
  {
    Client c(port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_NE(r->head.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    Client c(port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
    ASSERT_TRUE(c.read_response());
    EXPECT_TRUE(c.wait_closed());
  }
}

TEST_F(AdminServerTest, JunkGetsOneErrorThenCloseAndTheServerKeepsServing) {
  start();
  const std::pair<std::string, int> cases[] = {
      {"hello\r\n\r\n", 400},
      {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
      {"GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", 431},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + "\r\n", 400},
  };
  for (const auto& [text, status] : cases) {
    Client c(port());
    ASSERT_TRUE(c.send(text));
    auto r = c.read_response();
    ASSERT_TRUE(r) << text.substr(0, 30);
    EXPECT_EQ(r->status, status);
    EXPECT_NE(r->head.find("Connection: close"), std::string::npos);
    if (status == 405) {
      EXPECT_NE(r->head.find("Allow: GET"), std::string::npos);
    }
    EXPECT_TRUE(c.wait_closed());
  }
  // Random bytes on many connections: each gets an answer or a close, none hangs the server.
  std::mt19937 rng(7);
  for (int i = 0; i < 100; ++i) {
    Client c(port(), 2000ms);
    std::string junk(1 + rng() % 3000, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    c.send(junk);
    c.shutdown_write();  // an incomplete request then ends with the stream, not with the client's deadline
    auto r = c.read_response();
    if (r) {
      EXPECT_GE(r->status, 400);
    }
  }
  Client c(port());
  EXPECT_EQ(get(c, "/healthz").status, 200);
  EXPECT_GE(server_->stats().bad_requests, 5u);
}

TEST_F(AdminServerTest, IdleAndTrickleConnectionsAreClosed) {
  HttpServerConfig cfg;
  cfg.idle_timeout = 300ms;
  start(cfg);
  Client idle(port());
  Client trickle(port());
  const auto t0 = std::chrono::steady_clock::now();
  // One byte every 100 ms never completes a request; the deadline is per request, not per byte.
  const std::string req = "GET /healthz HTTP/1.1\r\n\r\n";
  bool closed_early = false;
  for (size_t i = 0; i < req.size() - 1; ++i) {
    if (!trickle.send(req.substr(i, 1))) {
      closed_early = true;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(closed_early || trickle.wait_closed());
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2900ms);
  // A connection that keeps sending whole requests stays open past the timeout.
  Client busy(port());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(get(busy, "/healthz").status, 200);
    std::this_thread::sleep_for(100ms);
  }
}

TEST_F(AdminServerTest, ConnectionBoundRefusesWith503) {
  HttpServerConfig cfg;
  cfg.max_connections = 3;
  start(cfg);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(port()));
    EXPECT_EQ(get(*held.back(), "/healthz").status, 200);  // accepted and registered
  }
  Client extra(port());
  auto r = extra.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(extra.wait_closed());
  held.pop_back();
  // Once one closes, a new connection is served again (the close is noticed asynchronously: bounded retry).
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    Client again(port());
    again.send("GET /healthz HTTP/1.1\r\n\r\n");
    auto a = again.read_response();
    served = a && a->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
  EXPECT_EQ(server_->stats().refused_connections >= 1, true);
}

TEST_F(AdminServerTest, StopClosesConnectionsAndReleasesTheIoContext) {
  start();
  Client a(port()), b(port());
  EXPECT_EQ(get(a, "/healthz").status, 200);
  ASSERT_TRUE(b.send("GET /hea"));  // half a request
  server_->stop();
  EXPECT_TRUE(a.wait_closed());
  EXPECT_TRUE(b.wait_closed());
  EXPECT_EQ(runner_.wait_for(3s), std::future_status::ready);
  Client late(port());
  EXPECT_FALSE(late.connected());
}

TEST(AdminServerStart, PortInUseIsAnError) {
  asio::io_context io;
  metrics::Registry registry;
  ReadinessState readiness;
  HttpServerConfig cfg;
  cfg.port = 0;
  AdminServer first(io, cfg, registry, readiness);
  ASSERT_FALSE(first.start());
  cfg.port = first.port();
  AdminServer second(io, cfg, registry, readiness);
  EXPECT_EQ(second.start().value(), EADDRINUSE);
  first.stop();
  second.stop();
  io.run_for(2s);
  EXPECT_TRUE(io.stopped());
}

}  // namespace
}  // namespace floe::admin
