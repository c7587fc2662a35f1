// Shared pieces of the net tests: a scriptable request handler, a blocking POSIX client with bounded waits, and a
// harness that runs a Server on its own io threads.
//
// Test request format (the frame the handler receives): op (1 byte), delay in ms (4 bytes big-endian), payload.
// An empty frame or one shorter than 5 bytes is echoed. Ops:
//   'e' echo the whole frame      'n' Action::none          'c' Action::close with the frame as body
//   'C' Action::close, no body    't' throw                 'g' wait until the gate opens, then echo
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>

#include "net/request_handler.h"
#include "net/server.h"
#include "net/server_config.h"

namespace floe::net::testing {

using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;

Bytes make_request(char op, uint32_t delay_ms = 0, const std::string& payload = "");
Bytes frame_of(const Bytes& body);  // size prefix + body

class TestHandler : public RequestHandler {
 public:
  asio::awaitable<Reply> handle(ConnectionContext& conn, std::vector<uint8_t> frame) override;

  std::atomic<bool> gate_open{false};
  std::atomic<int> started{0};
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> none_completed{0};
};

// Blocking client socket on 127.0.0.1. Every wait takes a timeout.
class TestClient {
 public:
  explicit TestClient(uint16_t port);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send_bytes(const Bytes& bytes);
  bool send_frame(const Bytes& body) { return send_bytes(frame_of(body)); }
  // One response frame's body, or nullopt on timeout / close / error.
  std::optional<Bytes> read_frame(std::chrono::milliseconds timeout = 5s);
  // True once the server has closed the connection (EOF or reset) within `timeout`. Counts any bytes that arrived
  // before the close into *received.
  bool wait_closed(std::chrono::milliseconds timeout = 5s, std::size_t* received = nullptr);
  // True if some bytes (or a close) become readable within `timeout`.
  bool readable_within(std::chrono::milliseconds timeout);
  void close();

 private:
  bool read_exact(uint8_t* out, std::size_t n, std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
};

// Polls `condition` every few ms until true or `timeout`; returns its final value.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A Server on port 0 whose io_context runs on its own threads (as main would run it).
class ServerHarness {
 public:
  explicit ServerHarness(ServerConfig config = {}, RequestHandler* handler = nullptr);
  ~ServerHarness();  // stops and drains (bounded), then joins the io threads

  uint16_t port() const { return server_->port(); }
  Server& server() { return *server_; }
  TestHandler& handler() { return own_handler_; }
  asio::io_context& io() { return io_; }
  // True once every io thread's run() has returned (the io_context ran out of work).
  bool wait_io_finished(std::chrono::milliseconds timeout = 5s);

 private:
  TestHandler own_handler_;
  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::future<void> finished_;
};

ServerConfig test_config();  // 127.0.0.1, port 0, short drain timeout

}  // namespace floe::net::testing
