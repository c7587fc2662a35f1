// A tiny scripted HTTP server for the client tests: blocking POSIX sockets, one thread per connection (at most
// kMaxConnections), every wait bounded. Each accepted connection runs the test's script with a ServerConn.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace floe::http::testing {

using namespace std::chrono_literals;

struct RawRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const;
};

class ServerConn {
 public:
  ServerConn(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  // The next request (head + Content-Length body), or nullopt on close, error, stop or timeout.
  std::optional<RawRequest> read_request(std::chrono::milliseconds timeout = 5s);
  bool write(const std::string& bytes);
  // Waits (bounded) until the peer closes or the server stops; true if the peer closed.
  bool wait_peer_close(std::chrono::milliseconds timeout = 5s);
  // Sleeps up to `d`, returning early (false) when the server stops.
  bool sleep_for(std::chrono::milliseconds d);
  int fd() const { return fd_; }

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
  std::string buf_;
};

class TestServer {
 public:
  static constexpr int kMaxConnections = 64;
  using Script = std::function<void(ServerConn&)>;

  explicit TestServer(Script script);
  ~TestServer();  // stops accepting, wakes every script, joins all threads

  uint16_t port() const { return port_; }
  std::string url(const std::string& target = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }
  int accepted() const { return accepted_.load(); }
  int max_concurrent() const { return max_concurrent_.load(); }

 private:
  void accept_loop();
  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0}, concurrent_{0}, max_concurrent_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// A script that answers every request on the connection with `status` and `body` (Content-Length, keep-alive).
TestServer::Script answer_all(int status, std::string body);
std::string response(int status, const std::string& body, const std::string& extra_headers = "");

}  // namespace floe::http::testing
