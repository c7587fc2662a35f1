// The seam between net and the protocol layer: net hands each request frame to a RequestHandler and writes back
// the Reply it produces, in request order. net knows nothing about what the bytes mean.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>  // before asio/awaitable.hpp (needed by Boost.Asio's copy; harmless here)
#include <vector>

#include <asio/awaitable.hpp>

namespace floe::net {

// Opaque per-connection state the protocol layer may attach (e.g. SASL progress, client software name).
// Destroyed together with the connection.
class ConnectionState {
 public:
  virtual ~ConnectionState() = default;
};

// What a handler sees of its connection. Every handler of one connection runs on that connection's strand, so
// handlers may read and write state() without locking (but must not touch it from other threads).
class ConnectionContext {
 public:
  ConnectionContext(const ConnectionContext&) = delete;
  ConnectionContext& operator=(const ConnectionContext&) = delete;

  // Unique within the process, increasing in accept order.
  uint64_t id() const { return id_; }
  // The client's address as "ip:port" (for logs and quotas).
  const std::string& peer() const { return peer_; }
  // Local port of the listener that accepted the connection.
  uint16_t local_port() const { return local_port_; }

  std::unique_ptr<ConnectionState>& state() { return state_; }

 protected:
  ConnectionContext(uint64_t id, std::string peer, uint16_t local_port)
      : id_(id), peer_(std::move(peer)), local_port_(local_port) {}
  ~ConnectionContext() = default;

 private:
  uint64_t id_;
  std::string peer_;
  uint16_t local_port_;
  std::unique_ptr<ConnectionState> state_;
};

struct Reply {
  enum class Action {
    send,   // write `body` as one response frame
    none,   // no response (Kafka produce with acks=0); still keeps its place in the response order
    close,  // write `body` if non-empty, then close the connection; later requests get no response
  };
  std::vector<uint8_t> body;
  Action action = Action::send;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;

  // `frame` is one request frame without its 4-byte size prefix. Called on the connection's strand; the coroutine
  // resumes there after each co_await. Handlers of one connection may run concurrently (pipelining); the server
  // writes their replies in request order. `conn` stays valid until the returned awaitable completes.
  // An exception thrown here closes this connection only (and is logged).
  virtual asio::awaitable<Reply> handle(ConnectionContext& conn, std::vector<uint8_t> frame) = 0;
};

}  // namespace floe::net
