#include "cost/http_get.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace floe::cost {
namespace {

using Clock = std::chrono::steady_clock;

Error fail(const std::string& what) { return Error{std::make_error_code(std::errc::io_error), what}; }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool split_host_port(const std::string& hp, std::string& host, std::string& port) {
  if (!hp.empty() && hp[0] == '[') {
    const auto close = hp.find("]:");
    if (close == std::string::npos) return false;
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    const auto colon = hp.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  return !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Result<HttpGetResult> http_get(const std::string& host_port, const std::string& path,
                               std::chrono::milliseconds timeout, std::size_t max_body_bytes) {
  const auto deadline = Clock::now() + timeout;
  std::string host, port;
  if (!split_host_port(host_port, host, port)) {
    return Error{std::make_error_code(std::errc::invalid_argument), "'" + host_port + "' is not HOST:PORT"};
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail(host_port + ": cannot resolve: " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addrs(found, &::freeaddrinfo);
  Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(host_port + ": socket: " + std::strerror(errno));
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return fail(host_port + ": cannot connect: " + std::strerror(errno));
    if (!wait_for(fd.get(), POLLOUT, deadline)) return fail(host_port + ": connect timed out");
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) return fail(host_port + ": cannot connect: " + std::strerror(so_error));
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\nAccept: text/plain\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) return fail(host_port + ": sending the request timed out");
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(host_port + ": send: " + std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string response;
  const std::size_t cap = max_body_bytes + 16384;  // the head is small
  char buf[65536];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) return fail(host_port + ": reading the response timed out");
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(host_port + ": recv: " + std::strerror(errno));
    }
    response.append(buf, static_cast<std::size_t>(n));
    if (response.size() > cap) return fail(host_port + ": response larger than " + std::to_string(cap) + " bytes");
  }
  const auto head_end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 && response.compare(0, 9, "HTTP/1.0 ") != 0) {
    return fail(host_port + ": not an HTTP response");
  }
  if (head_end == std::string::npos || response.size() < 12) return fail(host_port + ": truncated HTTP response");
  HttpGetResult r;
  r.status = std::atoi(response.c_str() + 9);
  r.body = response.substr(head_end + 4);
  return r;
}

}  // namespace floe::cost
