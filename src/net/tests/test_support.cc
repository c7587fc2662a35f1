#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "net/io_threads.h"

namespace floe::net::testing {

// Built by resize + index (not init-list + insert, which trips a GCC 12 -Warray-bounds false positive).
Bytes make_request(char op, uint32_t delay_ms, const std::string& payload) {
  Bytes out(5 + payload.size());
  out[0] = static_cast<uint8_t>(op);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<uint8_t>(delay_ms >> (24 - 8 * i));
  std::copy(payload.begin(), payload.end(), out.begin() + 5);
  return out;
}

Bytes frame_of(const Bytes& body) {
  const auto n = static_cast<uint32_t>(body.size());
  Bytes out(4 + body.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  std::copy(body.begin(), body.end(), out.begin() + 4);
  return out;
}

asio::awaitable<Reply> TestHandler::handle(ConnectionContext&, std::vector<uint8_t> frame) {
  started++;
  const int now_running = ++running;
  int seen = max_running.load();
  while (now_running > seen && !max_running.compare_exchange_weak(seen, now_running)) {
  }
  struct Leave {
    std::atomic<int>& running;
    ~Leave() { --running; }
  } leave{running};

  if (frame.size() < 5) co_return Reply{std::move(frame)};
  const char op = static_cast<char>(frame[0]);
  const uint32_t delay_ms = uint32_t{frame[1]} << 24 | uint32_t{frame[2]} << 16 | uint32_t{frame[3]} << 8 | frame[4];
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  if (delay_ms > 0) {
    timer.expires_after(std::chrono::milliseconds(delay_ms));
    co_await timer.async_wait(asio::use_awaitable);
  }
  switch (op) {
    case 'g':
      while (!gate_open) {
        timer.expires_after(2ms);
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return Reply{std::move(frame)};
    case 't':
      throw std::runtime_error("test handler was asked to throw");
    case 'n':
      ++none_completed;
      co_return Reply{{}, Reply::Action::none};
    case 'c':
      co_return Reply{std::move(frame), Reply::Action::close};
    case 'C':
      co_return Reply{{}, Reply::Action::close};
    default:
      co_return Reply{std::move(frame)};
  }
}

TestClient::TestClient(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // so partial writes go out as separate segments
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
}

TestClient::~TestClient() { close(); }

void TestClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool TestClient::send_bytes(const Bytes& bytes) {
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return fd_ >= 0;
}

namespace {
// Waits until fd is readable or the deadline passes; true if readable (data, EOF or error).
bool poll_readable(int fd, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
    if (r == 0 && std::chrono::steady_clock::now() >= deadline) return false;
  }
}
}  // namespace

bool TestClient::read_exact(uint8_t* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    if (fd_ < 0 || !poll_readable(fd_, deadline)) return false;
    const ssize_t r = ::recv(fd_, out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

std::optional<Bytes> TestClient::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  uint8_t prefix[4];
  if (!read_exact(prefix, 4, deadline)) return std::nullopt;
  const uint32_t size = uint32_t{prefix[0]} << 24 | uint32_t{prefix[1]} << 16 | uint32_t{prefix[2]} << 8 | prefix[3];
  if (size > (64u << 20)) return std::nullopt;  // not a response of these tests
  Bytes body(size);
  if (size > 0 && !read_exact(body.data(), size, deadline)) return std::nullopt;
  return body;
}

bool TestClient::wait_closed(std::chrono::milliseconds timeout, std::size_t* received) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  uint8_t buffer[4096];
  while (fd_ >= 0 && poll_readable(fd_, deadline)) {
    const ssize_t r = ::recv(fd_, buffer, sizeof buffer, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return true;  // EOF or reset
    if (received) *received += static_cast<std::size_t>(r);
  }
  return false;
}

bool TestClient::readable_within(std::chrono::milliseconds timeout) {
  return fd_ >= 0 && poll_readable(fd_, std::chrono::steady_clock::now() + timeout);
}

ServerConfig test_config() {
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.drain_timeout = 2s;
  return config;
}

ServerHarness::ServerHarness(ServerConfig config, RequestHandler* handler)
    : io_(config.io_threads <= 1 ? 1 : static_cast<int>(config.io_threads)) {
  const unsigned threads = config.io_threads;
  server_ = std::make_unique<Server>(io_, std::move(config), handler ? *handler : own_handler_);
  if (auto ec = server_->start()) throw std::runtime_error("server start failed: " + ec.message());
  std::packaged_task<void()> run([this, threads] { run_io_threads(io_, threads); });
  finished_ = run.get_future();
  runner_ = std::thread(std::move(run));
}

bool ServerHarness::wait_io_finished(std::chrono::milliseconds timeout) {
  return finished_.wait_for(timeout) == std::future_status::ready;
}

ServerHarness::~ServerHarness() {
  own_handler_.gate_open = true;  // let gated handlers finish so the io_context can run out of work
  server_->stop();
  server_->wait_stopped_for(5s);
  if (!wait_io_finished(5s)) io_.stop();  // something still holds work; don't hang the test binary
  runner_.join();
}

}  // namespace floe::net::testing
