#include "admincli/kafka_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "protocol/msg/api_versions.h"
#include "protocol/msg/header.h"

namespace floe::admincli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int32_t kMaxResponseBytes = 256 * 1024 * 1024;  // a corrupt size prefix must not make us allocate more
constexpr const char* kClientId = "floe-admin";

Error err(std::errc e, std::string message) { return Error{std::make_error_code(e), std::move(message)}; }

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

std::string api_name(int16_t key) {
  const proto::ApiInfo* api = proto::find_api(key);
  return api ? std::string(api->name) : "api " + std::to_string(key);
}

}  // namespace

Result<HostPort> parse_host_port(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return err(std::errc::invalid_argument, "bad address '" + text + "': expected HOST:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return err(std::errc::invalid_argument, "bad address '" + text + "': expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return err(std::errc::invalid_argument, "bad address '" + text + "': port must be 1-65535");
  unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return err(std::errc::invalid_argument, "bad address '" + text + "': port must be 1-65535");
  return HostPort{host, static_cast<uint16_t>(p)};
}

KafkaClient::~KafkaClient() {
  if (fd_ >= 0) ::close(fd_);
}

Status KafkaClient::connect(const HostPort& where, std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  peer_ = (where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host) + ":" +
          std::to_string(where.port);
  const Clock::time_point deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int gai = ::getaddrinfo(where.host.c_str(), std::to_string(where.port).c_str(), &hints, &found);
  if (gai != 0) return err(std::errc::host_unreachable, "cannot resolve " + peer_ + ": " + ::gai_strerror(gai));
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      int n;
      do n = ::poll(&pfd, 1, ms_left(deadline));
      while (n < 0 && errno == EINTR);
      if (n == 0) {
        ::close(fd);
        ::freeaddrinfo(found);
        return err(std::errc::timed_out, "cannot connect to " + peer_ + ": timed out after " +
                                             std::to_string(timeout.count()) + " ms");
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return err(std::errc::connection_refused, "cannot connect to " + peer_ + ": " + last_error);
  return negotiate();
}

Status KafkaClient::negotiate() {
  // ApiVersions v3 first; a broker that does not know v3 answers with a v0 body carrying UNSUPPORTED_VERSION (35)
  // and its own range, and we retry with v0.
  for (int16_t version : {int16_t{3}, int16_t{0}}) {
    proto::ApiVersionsRequest req;
    req.client_software_name = "floe-admin";
    req.client_software_version = "1";
    proto::Bytes body;
    proto::Writer w(body);
    req.encode(w, version);
    Result<proto::Bytes> answer = round_trip(proto::ApiVersionsRequest::kApiKey, version, body);
    if (!answer) return answer.error();
    proto::ApiVersionsResponse resp;
    proto::Reader r(*answer);
    bool decoded = resp.decode(r, version) && r.ok();
    if (!decoded) {
      // An UNSUPPORTED_VERSION answer is always v0-encoded.
      proto::Reader r0(*answer);
      resp = {};
      if (!resp.decode(r0, 0) || !r0.ok()) return malformed(proto::ApiVersionsRequest::kApiKey, version);
    }
    if (resp.error_code == 35 && version != 0) continue;
    if (resp.error_code != 0)
      return err(std::errc::protocol_error, "ApiVersions: broker " + peer_ + " answered error " +
                                                std::to_string(resp.error_code));
    versions_.clear();
    for (const auto& k : resp.api_keys) versions_[k.api_key] = {k.min_version, k.max_version};
    return ok_status();
  }
  return err(std::errc::protocol_error, "ApiVersions: broker " + peer_ + " supports no version we know");
}

Result<int16_t> KafkaClient::pick_version(int16_t key, int16_t lo, int16_t hi) const {
  auto it = versions_.find(key);
  if (it == versions_.end())
    return err(std::errc::not_supported, "broker " + peer_ + " does not serve " + api_name(key));
  int16_t top = std::min(hi, it->second.second);
  if (top < std::max(lo, it->second.first))
    return err(std::errc::not_supported, "broker " + peer_ + " serves " + api_name(key) + " versions " +
                                             std::to_string(it->second.first) + "-" +
                                             std::to_string(it->second.second) + ", this tool needs " +
                                             std::to_string(lo) + "-" + std::to_string(hi));
  return top;
}

Error KafkaClient::malformed(int16_t key, int16_t version) const {
  return err(std::errc::bad_message,
             "malformed " + api_name(key) + " v" + std::to_string(version) + " response from " + peer_);
}

Status KafkaClient::send_all(const proto::Bytes& frame, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd_, POLLOUT, 0};
      int rc = ::poll(&pfd, 1, ms_left(deadline));
      if (rc == 0) return err(std::errc::timed_out, "sending to " + peer_ + ": timed out");
      continue;
    }
    return err(std::errc::connection_reset, "sending to " + peer_ + ": " + std::strerror(errno));
  }
  return ok_status();
}

Status KafkaClient::read_exact(uint8_t* out, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd_, out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return err(std::errc::connection_reset, "broker " + peer_ + " closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{fd_, POLLIN, 0};
      int rc = ::poll(&pfd, 1, ms_left(deadline));
      if (rc == 0)
        return err(std::errc::timed_out, "no answer from " + peer_ + " within " +
                                             std::to_string(timeout_.count()) + " ms");
      continue;
    }
    return err(std::errc::connection_reset, "reading from " + peer_ + ": " + std::strerror(errno));
  }
  return ok_status();
}

Result<proto::Bytes> KafkaClient::round_trip(int16_t key, int16_t version, const proto::Bytes& body) {
  if (fd_ < 0) return err(std::errc::not_connected, "not connected");
  const proto::ApiInfo* api = proto::find_api(key);
  if (!api) return err(std::errc::not_supported, "unknown api " + std::to_string(key));
  const Clock::time_point deadline = Clock::now() + timeout_;

  proto::Bytes frame;
  proto::Writer w(frame);
  size_t size_at = w.placeholder(4);
  proto::RequestHeader header;
  header.request_api_key = key;
  header.request_api_version = version;
  header.correlation_id = next_correlation_++;
  header.client_id = kClientId;
  header.encode(w, api->request_header_version(version));
  w.raw(body.data(), body.size());
  w.patch_i32(size_at, static_cast<int32_t>(frame.size() - 4));
  if (Status s = send_all(frame, deadline); !s) return s.error();

  uint8_t size_bytes[4];
  if (Status s = read_exact(size_bytes, 4, deadline); !s) return s.error();
  int32_t size = static_cast<int32_t>((uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                                      (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]});
  if (size < 4 || size > kMaxResponseBytes)
    return err(std::errc::bad_message, "response from " + peer_ + " has a bad size " + std::to_string(size));
  proto::Bytes response(static_cast<size_t>(size));
  if (Status s = read_exact(response.data(), response.size(), deadline); !s) return s.error();

  proto::Reader r(response);
  proto::ResponseHeader rh;
  if (!rh.decode(r, api->response_header_version(version)) || !r.ok()) return malformed(key, version);
  if (rh.correlation_id != header.correlation_id)
    return err(std::errc::bad_message, "response from " + peer_ + " has correlation id " +
                                           std::to_string(rh.correlation_id) + ", expected " +
                                           std::to_string(header.correlation_id));
  return proto::Bytes(r.position(), r.position() + r.remaining());
}

}  // namespace floe::admincli
