#include "http/client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <tuple>
#include <unordered_map>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/log.h"
#include "http/connection.h"
#include "http/message_head.h"
#include "http/tls.h"

namespace floe::http {

using asio::awaitable;
using asio::use_awaitable;
using namespace detail;  // this file's internals: connection.h, message_head.h

const std::string* Response::header(std::string_view name) const { return find_header(headers, name); }

// ---------------------------------------------------------------------------------------------------------------
// Internals

namespace {

// Relays the caller's cancellation onto the exchange's strand (a cancellation slot handler runs on the thread that
// emits, which is the caller's; the exchange must only be touched on its strand).
struct CancelRelay {
  std::weak_ptr<Exchange> exchange;
  void operator()(asio::cancellation_type_t type) const {
    if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none &&
        (type & asio::cancellation_type::partial) == asio::cancellation_type::none &&
        (type & asio::cancellation_type::total) == asio::cancellation_type::none) {
      return;
    }
    if (auto x = exchange.lock()) asio::post(x->strand, [x] { x->abort(Abort::cancelled); });
  }
};

struct Waiter {
  explicit Waiter(std::shared_ptr<Exchange> x) : exchange(std::move(x)) {}
  std::shared_ptr<Exchange> exchange;
  bool granted = false;
  std::unique_ptr<Conn> conn;  // an idle connection handed over, or null: open a new one (the slot was freed)
};

struct HostPool {
  std::vector<std::unique_ptr<Conn>> idle;
  std::size_t open = 0;  // busy + idle + slots granted to waiters
  std::deque<std::shared_ptr<Waiter>> waiters;
};

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::any_io_executor ex, ClientConfig cfg) : executor(std::move(ex)), config(cfg) {
    if (config.max_connections_per_host == 0) config.max_connections_per_host = 1;
    if (config.read_chunk_bytes < 1024) config.read_chunk_bytes = 1024;
    body_.read_chunk_bytes = config.read_chunk_bytes;
    body_.max_trailer_bytes = config.max_header_bytes;
  }

  awaitable<std::pair<std::error_code, Response>> start(Request req, std::function<bool(std::string_view)> on_data);
  void shutdown();
  // The TLS context, made at the first https request (a failure is kept and returned every time).
  std::error_code tls_context(detail::TlsContext*& out);

  asio::any_io_executor executor;
  ClientConfig config;
  std::atomic<uint64_t> requests{0}, opened{0}, reused{0}, stale_retries{0};

 private:
  struct Lease {
    Impl* impl;
    std::string key;
    std::unique_ptr<Conn> conn;
    bool reusable = false;
    ~Lease() {
      if (conn) impl->release(key, std::move(conn), reusable);
    }
  };

  awaitable<std::pair<std::error_code, Response>> run(std::shared_ptr<Impl> self, std::shared_ptr<Exchange> x,
                                                      Request req, std::function<bool(std::string_view)>* on_data);
  awaitable<std::error_code> attempt(Exchange& x, const Url& url, const Request& req, const std::string& head,
                                     Response& resp, std::function<bool(std::string_view)>* on_data, bool fresh,
                                     Clock::time_point deadline, bool& retry_stale);
  awaitable<std::pair<std::error_code, std::unique_ptr<Conn>>> acquire(std::shared_ptr<Exchange> x,
                                                                       const std::string& key, bool fresh,
                                                                       bool& was_reused);
  void release(const std::string& key, std::unique_ptr<Conn> conn, bool reusable);
  awaitable<std::error_code> connect(Exchange& x, const Url& url, Conn& conn, Clock::time_point deadline);
  // Set from `config` at construction (after its minimums are applied).
  BodyReader body_;

  std::mutex tls_mu_;
  bool tls_made_ = false;
  std::error_code tls_error_;
  detail::TlsContextPtr tls_;

  std::mutex mu_;
  bool shut_ = false;
  std::map<std::string, HostPool> pools_;
  std::unordered_map<uint64_t, std::weak_ptr<Exchange>> running_;
  uint64_t next_id_ = 0;
};

awaitable<std::pair<std::error_code, Response>> Client::Impl::start(Request req,
                                                                    std::function<bool(std::string_view)> on_data) {
  auto x = std::make_shared<Exchange>(executor);
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    co_return std::pair<std::error_code, Response>{asio::error::operation_aborted, Response{}};
  }
  asio::cancellation_slot slot = cs.slot();
  struct SlotGuard {
    asio::cancellation_slot slot;
    ~SlotGuard() {
      if (slot.is_connected()) slot.clear();
    }
  } guard{slot};
  if (slot.is_connected()) slot.assign(CancelRelay{x});
  auto task = run(shared_from_this(), x, std::move(req), on_data ? &on_data : nullptr);
  // The exchange is not connected to the caller's slot directly (CancelRelay does that, thread-safely).
  auto token = asio::bind_cancellation_slot(asio::cancellation_slot(), use_awaitable);
  co_return co_await asio::co_spawn(x->strand, std::move(task), token);
}

awaitable<std::pair<std::error_code, Response>> Client::Impl::run(std::shared_ptr<Impl> self,
                                                                  std::shared_ptr<Exchange> x, Request req,
                                                                  std::function<bool(std::string_view)>* on_data) {
  std::pair<std::error_code, Response> result;
  requests.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    if (shut_) {
      result.first = Error::shut_down;
      co_return result;
    }
    x->id = ++next_id_;
    running_.emplace(x->id, x);
  }
  struct Finish {
    Impl* impl;
    Exchange* x;
    ~Finish() {
      x->finished = true;
      x->watchdog.cancel();
      std::lock_guard lock(impl->mu_);
      impl->running_.erase(x->id);
    }
  } finish{this, x.get()};

  try {
    std::optional<Url> url = parse_url(req.url);
    if (!url) {
      result.first = Error::bad_url;
      co_return result;
    }
    if (url->scheme != "http" && url->scheme != "https") {
      result.first = Error::unsupported_scheme;
      co_return result;
    }
    if (req.method.empty() || req.method.find_first_of(" \r\n\t") != std::string::npos) {
      result.first = Error::bad_request;
      co_return result;
    }
    // Head of the request.
    std::string head;
    head.reserve(256);
    head.append(req.method).append(" ").append(url->target).append(" HTTP/1.1\r\n");
    if (find_header(req.headers, "Host") == nullptr) head.append("Host: ").append(url->authority()).append("\r\n");
    for (const auto& [name, value] : req.headers) {
      if (name.empty() || has_ctl(name) || has_ctl(value) || name.find_first_of(": \t") != std::string::npos) {
        result.first = Error::bad_request;
        co_return result;
      }
      head.append(name).append(": ").append(value).append("\r\n");
    }
    if (const std::string* cl = find_header(req.headers, "Content-Length")) {
      uint64_t n = 0;
      if (!parse_decimal(*cl, n) || n != req.payload().size()) {
        result.first = Error::bad_request;
        co_return result;
      }
    } else if (find_header(req.headers, "Transfer-Encoding") != nullptr) {
      result.first = Error::bad_request;  // the client sends bodies with Content-Length only
      co_return result;
    } else if (!req.payload().empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      head.append("Content-Length: ").append(std::to_string(req.payload().size())).append("\r\n");
    }
    head.append("\r\n");

    const Clock::time_point deadline =
        req.deadline == Clock::time_point{} ? Clock::now() + config.default_timeout : req.deadline;
    x->arm(deadline);

    // A pooled connection may have been closed by the server while idle; then the request is sent once more on
    // a fresh connection (only when no byte of a response arrived, so the server did not act on it).
    for (int attempt_no = 0; attempt_no < 2; ++attempt_no) {
      bool retry_stale = false;
      result.second = Response{};
      result.first = co_await attempt(*x, *url, req, head, result.second, on_data, attempt_no > 0, deadline,
                                      retry_stale);
      if (!retry_stale) break;
      stale_retries.fetch_add(1, std::memory_order_relaxed);
      log::debug("http", "pooled connection to ", url->host_port(), " was closed (", result.first.message(),
                 "); sending again on a new one");
    }
    if (x->reason != Abort::none) result.first = x->abort_error();
    if (result.first) result.second.body.clear();
  } catch (const std::bad_alloc&) {
    result.first = std::make_error_code(std::errc::not_enough_memory);
  } catch (const std::exception& e) {
    log::warn("http", "request to ", req.url, " failed unexpectedly: ", e.what());
    result.first = Error::bad_response;
  }
  co_return result;
}

awaitable<std::error_code> Client::Impl::attempt(Exchange& x, const Url& url, const Request& req,
                                                 const std::string& head, Response& resp,
                                                 std::function<bool(std::string_view)>* on_data, bool fresh,
                                                 Clock::time_point deadline, bool& retry_stale) {
  const std::string key = url.scheme + "://" + url.host_port();
  bool was_reused = false;
  auto [acquire_ec, conn] = co_await acquire(x.shared_from_this(), key, fresh, was_reused);
  if (acquire_ec) co_return acquire_ec;
  Lease lease{this, key, std::move(conn)};
  if (x.reason != Abort::none) {
    lease.reusable = lease.conn->connected;  // handed over but unused: back to the pool
    co_return x.abort_error();
  }
  Conn& c = *lease.conn;
  x.socket = &c.socket;
  struct Detach {
    Exchange& x;
    ~Detach() { x.socket = nullptr; }
  } detach{x};

  if (!c.connected) {
    if (auto ec = co_await connect(x, url, c, deadline)) co_return ec;
  }

  std::error_code ec;
  std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(req.payload())};
  co_await write_all(c, out, ec);
  if (x.reason != Abort::none) co_return x.abort_error();
  bool got = false;
  auto stale = [&](const std::error_code& e) {
    return was_reused && !got &&
           (e == asio::error::eof || e == asio::error::connection_reset || e == asio::error::broken_pipe ||
            e == Error::connection_closed);
  };
  if (ec) {
    retry_stale = stale(ec);
    co_return ec;
  }

  // Head; 1xx interim responses (100 Continue) are skipped.
  int minor = 1;
  for (;;) {
    std::size_t end = std::string_view::npos;
    std::size_t scanned = 0;
    while ((end = c.data().find("\r\n\r\n", scanned)) == std::string_view::npos) {
      if (c.avail() > config.max_header_bytes) co_return Error::response_too_large;
      scanned = c.avail() >= 3 ? c.avail() - 3 : 0;
      if (auto e = co_await body_.fill(x, c, got)) {
        retry_stale = stale(e);
        co_return e;
      }
    }
    if (end + 4 > config.max_header_bytes) co_return Error::response_too_large;
    if (!parse_head(c.data().substr(0, end + 2), resp, minor)) co_return Error::bad_response;
    c.consume(end + 4);
    if (resp.status >= 200) break;
    if (resp.status == 101) co_return Error::bad_response;  // no protocol upgrades
  }

  bool keep_alive = minor >= 1;
  if (const std::string* conn_header = resp.header("Connection")) {
    if (has_token(*conn_header, "close")) keep_alive = false;
    if (minor == 0 && has_token(*conn_header, "keep-alive")) keep_alive = true;
  }

  Sink sink;
  sink.resp = &resp;
  sink.max_bytes = config.max_response_bytes;
  if (on_data != nullptr && resp.status >= 200 && resp.status < 300) sink.on_data = on_data;

  const bool no_body = req.method == "HEAD" || resp.status == 204 || resp.status == 304;
  const std::string* te = resp.header("Transfer-Encoding");
  bool until_eof = false;
  if (no_body) {
    // nothing to read
  } else if (te != nullptr) {
    // Only "chunked" (last) is supported; anything else would need the body until EOF, which HTTP forbids to
    // reuse. Reject other codings rather than guess.
    std::string_view coding = trim(*te);
    if (!iequals(coding, "chunked")) co_return Error::bad_response;
    ec = co_await body_.read_chunked(x, c, sink, got);
  } else if (const std::string* cl = resp.header("Content-Length")) {
    uint64_t n = 0;
    if (!parse_decimal(*cl, n)) co_return Error::bad_response;
    for (const auto& [name, value] : resp.headers) {  // repeated Content-Length must agree
      uint64_t other = 0;
      if (iequals(name, "Content-Length") && (!parse_decimal(value, other) || other != n)) {
        co_return Error::bad_response;
      }
    }
    ec = co_await body_.read_exact(x, c, n, sink, got);
  } else {
    until_eof = true;
    keep_alive = false;
    ec = co_await body_.read_to_eof(x, c, sink, got);
  }
  if (x.reason != Abort::none) co_return x.abort_error();
  if (ec) co_return ec;
  if (sink.stopped) co_return std::error_code{};  // connection closed by the Lease (not reusable)
  lease.reusable = keep_alive && !until_eof && c.avail() == 0;
  co_return std::error_code{};
}

awaitable<std::pair<std::error_code, std::unique_ptr<Conn>>> Client::Impl::acquire(std::shared_ptr<Exchange> x,
                                                                                   const std::string& key,
                                                                                   bool fresh, bool& was_reused) {
  using Result = std::pair<std::error_code, std::unique_ptr<Conn>>;
  std::vector<std::unique_ptr<Conn>> discard;  // closed after the lock is released
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mu_);
    if (shut_) co_return Result{Error::shut_down, nullptr};
    HostPool& p = pools_[key];
    const auto now = Clock::now();
    while (!p.idle.empty()) {
      std::unique_ptr<Conn> c = std::move(p.idle.back());
      p.idle.pop_back();
      if (fresh || now - c->idle_since > config.idle_timeout) {
        discard.push_back(std::move(c));
        --p.open;
        continue;
      }
      was_reused = true;
      reused.fetch_add(1, std::memory_order_relaxed);
      co_return Result{std::error_code{}, std::move(c)};
    }
    if (p.open < config.max_connections_per_host) {
      ++p.open;
      co_return Result{std::error_code{}, std::make_unique<Conn>(executor)};
    }
    if (p.waiters.size() >= config.max_pending_per_host) co_return Result{Error::too_many_pending, nullptr};
    waiter = std::make_shared<Waiter>(x);
    p.waiters.push_back(waiter);
  }
  // Woken by release() (a slot or connection granted) or by abort() (deadline, cancellation, shutdown).
  for (;;) {
    x->wait_timer.expires_at(Clock::time_point::max());
    std::error_code ignored;
    co_await x->wait_timer.async_wait(asio::redirect_error(use_awaitable, ignored));
    std::lock_guard lock(mu_);
    if (waiter->granted) {
      if (waiter->conn) {
        was_reused = true;
        reused.fetch_add(1, std::memory_order_relaxed);
        co_return Result{std::error_code{}, std::move(waiter->conn)};
      }
      co_return Result{std::error_code{}, std::make_unique<Conn>(executor)};
    }
    if (x->reason != Abort::none) {
      auto it = pools_.find(key);
      if (it != pools_.end()) {
        auto& ws = it->second.waiters;
        ws.erase(std::remove(ws.begin(), ws.end(), waiter), ws.end());
      }
      co_return Result{x->abort_error(), nullptr};
    }
  }
}

void Client::Impl::release(const std::string& key, std::unique_ptr<Conn> conn, bool reusable) {
  std::shared_ptr<Waiter> waiter;
  std::unique_ptr<Conn> close_me;
  {
    std::lock_guard lock(mu_);
    auto it = pools_.find(key);
    if (it == pools_.end()) return;  // cannot happen: a lease keeps its pool's open count above zero
    HostPool& p = it->second;
    if (!reusable || shut_ || !conn->connected) {
      close_me = std::move(conn);
    } else {
      conn->idle_since = Clock::now();
    }
    if (!p.waiters.empty()) {
      waiter = std::move(p.waiters.front());
      p.waiters.pop_front();
      waiter->granted = true;
      waiter->conn = std::move(conn);  // null: the waiter opens a new connection in this slot
    } else if (conn) {
      p.idle.push_back(std::move(conn));
    } else {
      --p.open;
      if (p.open == 0 && p.idle.empty()) pools_.erase(it);
    }
  }
  if (waiter) {
    auto x = waiter->exchange;
    asio::post(x->strand, [x] { x->wait_timer.cancel(); });
  }
}

awaitable<std::error_code> Client::Impl::connect(Exchange& x, const Url& url, Conn& conn,
                                                 Clock::time_point deadline) {
  detail::TlsContext* tls_context_ptr = nullptr;
  if (url.scheme == "https") {
    if (auto e = tls_context(tls_context_ptr)) co_return e;
  }
  const auto connect_deadline = std::min(deadline, Clock::now() + config.connect_timeout);
  x.arm(connect_deadline);
  std::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  const asio::ip::address literal = asio::ip::make_address(url.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, url.port);
  } else {
    ec.clear();
    tcp::resolver resolver(x.strand);
    x.resolver = &resolver;
    auto results = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                   asio::redirect_error(use_awaitable, ec));
    x.resolver = nullptr;
    if (x.reason != Abort::none) co_return x.abort_error();
    if (ec) co_return ec;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  for (const auto& endpoint : endpoints) {
    if (x.reason != Abort::none) break;
    std::error_code ignored;
    conn.socket.close(ignored);
    conn.socket.open(endpoint.protocol(), ec);
    if (ec) continue;
    co_await conn.socket.async_connect(endpoint, asio::redirect_error(use_awaitable, ec));
    if (!ec) break;
  }
  if (x.reason != Abort::none) co_return x.abort_error();
  if (ec) co_return ec;
  conn.socket.set_option(tcp::no_delay(true), ec);
  ec.clear();
  if (tls_context_ptr != nullptr) {
    // The handshake is part of connecting: bounded by the same (connect) deadline, aborted by the watchdog.
    conn.tls = detail::make_tls_stream(*tls_context_ptr, conn.socket);
    ec = co_await detail::tls_handshake(*conn.tls, url.host);
    if (x.reason != Abort::none) co_return x.abort_error();
    if (ec) co_return ec;
  }
  conn.connected = true;
  opened.fetch_add(1, std::memory_order_relaxed);
  x.arm(deadline);
  co_return std::error_code{};
}

std::error_code Client::Impl::tls_context(detail::TlsContext*& out) {
  std::lock_guard lock(tls_mu_);
  if (!tls_made_) {
    tls_made_ = true;
    std::tie(tls_error_, tls_) = detail::make_tls_context(config.tls);
  }
  out = tls_.get();
  return tls_error_;
}

void Client::Impl::shutdown() {
  std::vector<std::shared_ptr<Exchange>> running;
  std::vector<std::unique_ptr<Conn>> idle;
  {
    std::lock_guard lock(mu_);
    shut_ = true;
    for (auto& [id, weak] : running_) {
      if (auto x = weak.lock()) running.push_back(std::move(x));
    }
    for (auto it = pools_.begin(); it != pools_.end();) {
      HostPool& p = it->second;
      p.open -= p.idle.size();
      for (auto& c : p.idle) idle.push_back(std::move(c));
      p.idle.clear();
      if (p.open == 0 && p.waiters.empty()) {
        it = pools_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& x : running) asio::post(x->strand, [x] { x->abort(Abort::shutdown); });
  // `idle` closes its sockets here: no operation is pending on an idle connection.
}

// ---------------------------------------------------------------------------------------------------------------

Client::Client(asio::any_io_executor executor, ClientConfig config)
    : impl_(std::make_shared<Impl>(std::move(executor), config)) {}

Client::~Client() { impl_->shutdown(); }

asio::awaitable<std::pair<std::error_code, Response>> Client::send(Request request) {
  return impl_->start(std::move(request), nullptr);
}

asio::awaitable<std::pair<std::error_code, Response>> Client::stream(Request request,
                                                                     std::function<bool(std::string_view)> on_data) {
  if (!on_data) on_data = [](std::string_view) { return true; };
  return impl_->start(std::move(request), std::move(on_data));
}

void Client::shutdown() { impl_->shutdown(); }

ClientStats Client::stats() const {
  ClientStats s;
  s.requests = impl_->requests.load(std::memory_order_relaxed);
  s.connections_opened = impl_->opened.load(std::memory_order_relaxed);
  s.connections_reused = impl_->reused.load(std::memory_order_relaxed);
  s.stale_retries = impl_->stale_retries.load(std::memory_order_relaxed);
  return s;
}

const ClientConfig& Client::config() const { return impl_->config; }

}  // namespace floe::http
