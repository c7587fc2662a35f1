#include "net/connection.h"

#include <array>
#include <exception>
#include <limits>
#include <system_error>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/log.h"
#include "net/server_core.h"

namespace floe::net::detail {
namespace {

using SizePrefix = std::array<uint8_t, 4>;

// Replies written per gather write at most (two buffers each); bounds the per-write bookkeeping.
constexpr std::size_t kMaxRepliesPerWrite = 16;

int32_t decode_size(const SizePrefix& b) {
  return static_cast<int32_t>(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]});
}

SizePrefix encode_size(uint32_t size) {
  return {static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16), static_cast<uint8_t>(size >> 8),
          static_cast<uint8_t>(size)};
}

// A peer going away is routine; anything else is worth an info line.
bool routine_disconnect(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::operation_aborted;
}

}  // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, asio::ip::tcp::socket socket, uint64_t id,
                       std::string peer, uint16_t local_port)
    : ConnectionContext(id, std::move(peer), local_port),
      core_(std::move(core)),
      socket_(std::move(socket)),
      strand_(socket_.get_executor()),
      reader_wake_(strand_),
      writer_wake_(strand_),
      idle_timer_(strand_),
      last_activity_(Clock::now()) {}

void Connection::start() {
  spawn(read_loop(), "reader");
  spawn(write_loop(), "writer");
  if (core_->config.idle_timeout.count() > 0) spawn(idle_watchdog(), "idle watchdog");
}

void Connection::begin_drain() {
  asio::post(strand_, [self = shared_from_this()] {
    self->draining_ = true;
    self->reader_wake_.notify();
    self->writer_wake_.notify();  // with nothing in flight it closes at once
  });
}

void Connection::force_close() {
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->closed_) log::info("net", "drain timeout: closing connection ", self->id(), " from ", self->peer());
    self->close(false);
  });
}

void Connection::spawn(asio::awaitable<void> body, const char* what) {
  asio::co_spawn(strand_, guarded(shared_from_this(), std::move(body), what), asio::detached);
}

asio::awaitable<void> Connection::guarded(std::shared_ptr<Connection> self, asio::awaitable<void> body,
                                          const char* what) {
  // The loops report I/O errors as values; what lands here is unexpected (e.g. bad_alloc). Close, don't crash.
  try {
    co_await std::move(body);
  } catch (const std::exception& e) {
    log::warn("net", "connection ", self->id(), " from ", self->peer(), ": ", what, " failed: ", e.what(),
              "; closing it");
    self->close(false);
  } catch (...) {
    log::warn("net", "connection ", self->id(), " from ", self->peer(), ": ", what, " failed; closing it");
    self->close(false);
  }
}

bool Connection::pipeline_full() const {
  const ServerConfig& config = core_->config;
  return slots_.size() >= config.max_in_flight_requests || queued_response_bytes_ >= config.max_queued_response_bytes;
}

asio::awaitable<void> Connection::read_loop() {
  const ServerConfig& config = core_->config;
  SizePrefix prefix{};
  std::error_code ec;
  while (true) {
    while (!closed_ && !draining_ && pipeline_full()) co_await reader_wake_.wait();  // back-pressure
    if (closed_ || draining_) co_return;

    // No timeout on this read: the idle watchdog closes the socket if nothing arrives.
    co_await asio::async_read(socket_, asio::buffer(prefix), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (closed_ || draining_) co_return;  // a request that arrives after stop() is not started
    const int32_t size = decode_size(prefix);
    if (size < 0 || size > config.max_frame_bytes) {
      log::warn("net", "closing connection ", id(), " from ", peer(), ": request size ", size, " is outside [0, ",
                config.max_frame_bytes, "] (socket.request.max.bytes)");
      close(false);
      co_return;
    }
    last_activity_ = Clock::now();

    // Memory bound on request bytes held by running handlers, checked before allocating this frame.
    const auto frame_bytes = static_cast<std::size_t>(size);
    while (!closed_ && !draining_ && in_flight_request_bytes_ > 0 &&
           in_flight_request_bytes_ + frame_bytes > config.max_in_flight_request_bytes) {
      co_await reader_wake_.wait();
    }
    if (closed_ || draining_) co_return;

    std::vector<uint8_t> frame(frame_bytes);
    co_await asio::async_read(socket_, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!closed_) log::debug("net", "connection ", id(), " from ", peer(), " ended inside a frame: ", ec.message());
      close(false);
      co_return;
    }
    last_activity_ = Clock::now();

    const uint64_t seq = first_seq_ + slots_.size();
    slots_.emplace_back();
    in_flight_request_bytes_ += frame_bytes;
    core_->count_request();
    asio::co_spawn(strand_, run_handler(shared_from_this(), seq, std::move(frame)), asio::detached);
  }

  if (closed_) co_return;
  if (ec == asio::error::eof) {
    // The client finished sending (or closed); answer what it already asked, then close.
    log::debug("net", "connection ", id(), " from ", peer(), ": peer closed");
    reader_done_ = true;
    writer_wake_.notify();
    co_return;
  }
  if (routine_disconnect(ec)) {
    log::debug("net", "connection ", id(), " from ", peer(), ": ", ec.message());
  } else {
    log::info("net", "connection ", id(), " from ", peer(), ": read failed: ", ec.message());
  }
  close(false);
}

asio::awaitable<void> Connection::run_handler(std::shared_ptr<Connection> self, uint64_t seq,
                                              std::vector<uint8_t> frame) {
  const std::size_t frame_bytes = frame.size();
  Reply reply;
  bool failed = false;
  try {
    // Created outside the co_await expression: GCC 12 mishandles some temporaries inside one.
    auto handling = self->core_->handler.handle(*self, std::move(frame));
    reply = co_await std::move(handling);
  } catch (const std::exception& e) {
    log::warn("net", "handler failed on connection ", self->id(), " from ", self->peer(), ": ", e.what(),
              "; closing it");
    failed = true;
  } catch (...) {
    log::warn("net", "handler failed on connection ", self->id(), " from ", self->peer(), "; closing it");
    failed = true;
  }
  // Back on the connection's strand (awaitables resume on their own executor).
  self->in_flight_request_bytes_ -= frame_bytes;
  self->reader_wake_.notify();
  if (failed) {
    self->close(false);
  } else {
    self->complete(seq, std::move(reply));
  }
}

void Connection::complete(uint64_t seq, Reply reply) {
  if (closed_) return;  // closed meanwhile: nobody to answer
  Slot& slot = slots_[seq - first_seq_];
  queued_response_bytes_ += reply.body.size();
  slot.reply = std::move(reply);
  slot.done = true;
  if (seq == first_seq_) writer_wake_.notify();  // later slots wait for the oldest one anyway
}

asio::awaitable<void> Connection::write_loop() {
  std::array<SizePrefix, kMaxRepliesPerWrite> prefixes{};
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(2 * kMaxRepliesPerWrite);
  while (true) {
    while (!closed_ && (slots_.empty() || !slots_.front().done)) {
      if (slots_.empty() && (draining_ || reader_done_)) {
        close(true);
        co_return;
      }
      co_await writer_wake_.wait();
    }
    if (closed_) co_return;

    // Consecutive finished replies from the oldest on. Slots stay in the deque (so their bodies stay put) until
    // written; handlers finishing meanwhile only touch later slots, and push_back keeps references valid.
    buffers.clear();
    std::size_t taken = 0;
    bool close_after = false;
    for (; taken < slots_.size() && taken < kMaxRepliesPerWrite && slots_[taken].done && !close_after; ++taken) {
      const Reply& reply = slots_[taken].reply;
      if (reply.action == Reply::Action::none) continue;  // keeps its place, writes nothing
      close_after = reply.action == Reply::Action::close;
      if (close_after && reply.body.empty()) continue;
      if (reply.body.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max())) {
        log::error("net", "connection ", id(), " from ", peer(), ": response of ", reply.body.size(),
                   " bytes cannot be framed; closing it");
        close(false);
        co_return;
      }
      prefixes[taken] = encode_size(static_cast<uint32_t>(reply.body.size()));
      buffers.emplace_back(asio::buffer(prefixes[taken]));
      buffers.emplace_back(asio::buffer(reply.body));
    }

    if (!buffers.empty()) {
      std::error_code ec;
      co_await asio::async_write(socket_, buffers, asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) co_return;
      if (ec) {
        if (routine_disconnect(ec)) {
          log::debug("net", "connection ", id(), " from ", peer(), ": write: ", ec.message());
        } else {
          log::info("net", "connection ", id(), " from ", peer(), ": write failed: ", ec.message());
        }
        close(false);
        co_return;
      }
    }
    for (std::size_t i = 0; i < taken; ++i) {
      queued_response_bytes_ -= slots_.front().reply.body.size();
      slots_.pop_front();
      ++first_seq_;
    }
    last_activity_ = Clock::now();  // idle time counts from the last response too
    reader_wake_.notify();
    if (close_after) {
      log::debug("net", "connection ", id(), " from ", peer(), ": closed at the handler's request");
      close(true);
      co_return;
    }
  }
}

asio::awaitable<void> Connection::idle_watchdog() {
  const auto idle_timeout = core_->config.idle_timeout;
  while (!closed_) {
    // While requests are in flight the connection is not idle; look again one timeout later.
    const auto deadline = slots_.empty() ? last_activity_ + idle_timeout : Clock::now() + idle_timeout;
    idle_timer_.expires_at(deadline);
    std::error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) co_return;
    if (slots_.empty() && Clock::now() >= last_activity_ + idle_timeout) {
      log::info("net", "closing connection ", id(), " from ", peer(), ": idle for ", idle_timeout.count(),
                " ms (connections.max.idle.ms)");
      close(false);
      co_return;
    }
  }
}

void Connection::close(bool graceful) {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  // Graceful: send FIN after the last response so the client reads everything before seeing the end.
  if (graceful) socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);  // aborts the pending read (and a pending write, when forced)
  idle_timer_.cancel();
  reader_wake_.notify();
  writer_wake_.notify();
  core_->on_connection_closed(id());
}

}  // namespace floe::net::detail
