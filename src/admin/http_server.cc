#include "admin/http_server.h"

#include <array>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/log.h"

namespace floe::admin {
namespace detail {
namespace {

constexpr std::string_view kLog = "admin";
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Strand>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;
using Clock = std::chrono::steady_clock;

// After an error answer (or Connection: close), how long and how much of what the client still sends is read and
// discarded before the close, so that the answer is not destroyed by a TCP reset.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 65536;
constexpr std::chrono::milliseconds kAcceptBackoff{100};

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

class HttpConnection;

class HttpCore : public std::enable_shared_from_this<HttpCore> {
 public:
  HttpCore(asio::io_context& io_in, HttpServerConfig config_in, HttpServer::Handler handler_in)
      : io(io_in),
        config(std::move(config_in)),
        handler(std::move(handler_in)),
        strand(asio::make_strand(io_in)),
        acceptor(strand) {}

  std::error_code start();
  void stop();
  static asio::awaitable<void> accept_loop(std::shared_ptr<HttpCore> core);
  void refuse(Socket& socket);
  void unregister(uint64_t id) {
    std::lock_guard lock(mu);
    conns.erase(id);
    open.fetch_sub(1);
  }

  asio::io_context& io;
  const HttpServerConfig config;
  const HttpServer::Handler handler;
  Strand strand;
  asio::basic_socket_acceptor<tcp, Strand> acceptor;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> open{0}, accepted{0}, requests{0}, bad{0}, refused{0};
  std::mutex mu;
  std::map<uint64_t, std::weak_ptr<HttpConnection>> conns;  // at most max_connections
  uint64_t next_id = 0;                                      // strand only
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpCore> core, Socket socket, uint64_t id)
      : core_(std::move(core)), socket_(std::move(socket)), timer_(socket_.get_executor()), id_(id) {
    std::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("(unknown)") : endpoint_string(ep);
  }
  ~HttpConnection() { core_->unregister(id_); }

  Strand strand() { return socket_.get_executor(); }

  static asio::awaitable<void> run(std::shared_ptr<HttpConnection> self) {
    try {
      co_await self->serve();
    } catch (const std::exception& e) {
      log::warn(kLog, "http connection ", self->peer_, " failed: ", e.what());
    }
    self->close();
  }

  static asio::awaitable<void> watchdog(std::shared_ptr<HttpConnection> self) {
    while (!self->closed_) {
      self->timer_.expires_at(self->deadline_);
      std::error_code ec;
      co_await self->timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (self->closed_) break;
      if (Clock::now() >= self->deadline_) {
        log::debug(kLog, "http connection ", self->peer_, " timed out; closing");
        self->close();
      }
    }
  }

  // On the strand. A connection writing a response finishes it first (serve() closes it afterwards).
  void stop() {
    if (!writing_) close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    std::error_code ec;
    socket_.close(ec);
    timer_.cancel();
  }

 private:
  asio::awaitable<void> serve() {
    deadline_ = Clock::now() + core_->config.idle_timeout;
    asio::co_spawn(strand(), watchdog(shared_from_this()), asio::detached);
    while (!closed_) {
      HttpRequest req;
      ParseResult r = parse_request(buf_, core_->config.limits, req);
      if (r.kind == ParseResult::Kind::incomplete) {
        if (core_->stopping) break;
        std::error_code ec;
        const std::size_t n =
            co_await socket_.async_read_some(asio::buffer(chunk_), asio::redirect_error(asio::use_awaitable, ec));
        if (ec || closed_) break;  // end of stream, reset, or closed by the watchdog or stop()
        buf_.append(chunk_.data(), n);
        continue;
      }
      if (r.kind == ParseResult::Kind::error) {
        core_->bad.fetch_add(1);
        log::debug(kLog, "http ", peer_, ": ", r.status, " ", r.reason);
        HttpResponse resp = HttpResponse::text(
            r.status, std::to_string(r.status) + " " + std::string(reason_phrase(r.status)) + ": " + r.reason + "\n");
        if (r.status == 405) resp.headers.emplace_back("Allow", "GET");
        if (co_await write(resp, false)) co_await linger_close();
        break;
      }
      buf_.erase(0, r.consumed);
      core_->requests.fetch_add(1);
      HttpResponse resp;
      try {
        resp = core_->handler(req);
      } catch (const std::exception& e) {
        log::error(kLog, "http ", req.method, " ", req.path, " from ", peer_, " failed: ", e.what());
        resp = HttpResponse::text(500, "500 Internal Server Error\n");
      }
      const bool keep_alive = req.keep_alive && !core_->stopping;
      if (!co_await write(resp, keep_alive)) break;
      if (!keep_alive) {
        co_await linger_close();
        break;
      }
      deadline_ = Clock::now() + core_->config.idle_timeout;
    }
  }

  asio::awaitable<bool> write(const HttpResponse& resp, bool keep_alive) {
    const std::string head = format_response_head(resp, keep_alive);
    const std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(resp.body)};
    deadline_ = Clock::now() + core_->config.idle_timeout;
    writing_ = true;
    std::error_code ec;
    co_await asio::async_write(socket_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    writing_ = false;
    co_return !ec && !closed_;
  }

  // Half-closes, then reads and discards (bounded in bytes and time) until the client closes.
  asio::awaitable<void> linger_close() {
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec || core_->stopping) co_return;
    deadline_ = std::min(deadline_, Clock::now() + kLingerTime);
    timer_.cancel();  // the watchdog re-arms at the earlier deadline
    std::size_t discarded = 0;
    while (!closed_ && discarded < kLingerBytes) {
      const std::size_t n =
          co_await socket_.async_read_some(asio::buffer(chunk_), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      discarded += n;
    }
  }

  std::shared_ptr<HttpCore> core_;
  Socket socket_;
  Timer timer_;
  uint64_t id_;
  std::string peer_;
  Clock::time_point deadline_{};
  bool closed_ = false;
  bool writing_ = false;
  std::string buf_;  // at most limits.max_request_bytes + one chunk: parse_request fails beyond the limit
  std::array<char, 4096> chunk_{};
};

std::error_code HttpCore::start() {
  if (started.exchange(true)) return std::make_error_code(std::errc::operation_in_progress);
  std::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec) {
    tcp::resolver resolver(io);  // before serving: blocking is fine
    const auto results = resolver.resolve(config.host, std::to_string(config.port), ec);
    if (ec) return ec;
    if (results.empty()) return std::make_error_code(std::errc::address_not_available);
    endpoint = results.begin()->endpoint();
  } else {
    endpoint = tcp::endpoint(address, config.port);
  }
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port = acceptor.local_endpoint(ec).port();
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
    return ec;
  }
  asio::co_spawn(strand, accept_loop(shared_from_this()), asio::detached);
  return {};
}

void HttpCore::refuse(Socket& socket) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 28\r\n"
      "Connection: close\r\n\r\n503 too many connections\r\n\r\n";
  std::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);  // best effort, never blocks
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

asio::awaitable<void> HttpCore::accept_loop(std::shared_ptr<HttpCore> core) {
  Timer backoff(core->strand);
  while (!core->stopping) {
    std::error_code ec;
    Socket socket = co_await core->acceptor.async_accept(asio::make_strand(core->io),
                                                         asio::redirect_error(asio::use_awaitable, ec));
    if (core->stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      log::warn(kLog, "http accept failed: ", ec.message());
      backoff.expires_after(kAcceptBackoff);  // resource exhaustion: do not spin
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    core->accepted.fetch_add(1);
    if (core->config.max_connections > 0 && core->open.load() >= core->config.max_connections) {
      core->refused.fetch_add(1);
      core->refuse(socket);
      continue;
    }
    const uint64_t id = core->next_id++;
    core->open.fetch_add(1);
    auto conn = std::make_shared<HttpConnection>(core, std::move(socket), id);
    {
      std::lock_guard lock(core->mu);
      core->conns.emplace(id, conn);
    }
    asio::co_spawn(conn->strand(), HttpConnection::run(conn), asio::detached);
  }
}

void HttpCore::stop() {
  asio::post(strand, [self = shared_from_this()] {
    if (self->stopping.exchange(true)) return;
    std::error_code ec;
    self->acceptor.close(ec);
    std::vector<std::shared_ptr<HttpConnection>> live;  // released outside the lock (~HttpConnection takes it)
    {
      std::lock_guard lock(self->mu);
      for (auto& [id, weak] : self->conns) {
        if (auto conn = weak.lock()) live.push_back(std::move(conn));
      }
    }
    for (auto& conn : live) asio::post(conn->strand(), [conn] { conn->stop(); });
  });
}

}  // namespace detail

HttpServer::HttpServer(asio::io_context& io, HttpServerConfig config, Handler handler)
    : core_(std::make_shared<detail::HttpCore>(io, std::move(config), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

std::error_code HttpServer::start() { return core_->start(); }
uint16_t HttpServer::port() const { return core_->port.load(); }
void HttpServer::stop() {
  if (core_->started.load()) core_->stop();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats s;
  s.open_connections = core_->open.load();
  s.accepted_connections = core_->accepted.load();
  s.requests = core_->requests.load();
  s.bad_requests = core_->bad.load();
  s.refused_connections = core_->refused.load();
  return s;
}

}  // namespace floe::admin
