// Settings of one listener (floe::net::Server). Names follow the Kafka broker settings where one exists.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace floe::net {

struct ServerConfig {
  // Address to listen on. Port 0 asks the kernel for an ephemeral port; Server::port() gives the bound one.
  std::string host = "127.0.0.1";
  uint16_t port = 9092;

  // Largest request frame accepted (Kafka `socket.request.max.bytes`). A larger or negative size prefix closes the
  // connection before anything is allocated for it.
  int32_t max_frame_bytes = 104857600;

  // A connection with no request for this long and nothing in flight is closed (Kafka `connections.max.idle.ms`).
  // 0 disables the check.
  std::chrono::milliseconds idle_timeout{600000};

  // Per-connection pipelining bound: requests read but whose response is not yet written. When full the connection
  // stops reading (TCP back-pressure) until the oldest response is written.
  std::size_t max_in_flight_requests = 32;

  // Per-connection bound on request bytes held by unfinished handlers. The next frame is read only once it fits
  // (a frame always fits when nothing else is in flight, so one max-size frame is always possible).
  std::size_t max_in_flight_request_bytes = 104857600;

  // Per-connection bound on finished responses waiting for their turn to be written (a slow request ahead of them,
  // or a client that does not read). Reading stops while it is exceeded. Soft: handlers already running may still
  // add their response, so the true peak is this plus at most max_in_flight_requests responses.
  std::size_t max_queued_response_bytes = 104857600;

  // Open connections on this listener. At the bound the server stops accepting (the kernel backlog holds new
  // clients) until a connection closes. 0 = unbounded.
  std::size_t max_connections = 10000;

  // Threads that run the io_context (see run_io_threads in io_threads.h). The server itself is thread-agnostic:
  // one io_context, every connection on its own strand, the acceptor and drain logic on the server's strand.
  unsigned io_threads = 1;

  // After stop(), how long in-flight requests get to finish and have their responses written before the remaining
  // connections are closed forcibly.
  std::chrono::milliseconds drain_timeout{30000};

  // Listen backlog (kernel queue of not-yet-accepted connections).
  int listen_backlog = 1024;
};

// Empty if `config` is usable, else one line naming the offending setting (Server::start refuses such a config).
std::string validate(const ServerConfig& config);

}  // namespace floe::net
