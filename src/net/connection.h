// One accepted client connection (internal to net; the protocol layer sees only ConnectionContext).
//
// Everything here runs on the connection's own strand: the socket's executor. Three long-lived coroutines share
// the state below without locks:
//   read_loop      reads frames while the pipelining bounds allow, starts one handler coroutine per frame
//   write_loop     writes finished replies strictly in request order, batching consecutive ones into one gather write
//   idle_watchdog  closes the connection after idle_timeout with nothing in flight
// plus one handler coroutine per request in flight. Each holds a shared_ptr to the Connection, so it lives until
// the last of them ends; closing the socket makes the loops end promptly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "net/notifier.h"
#include "net/request_handler.h"

namespace floe::net::detail {

class ServerCore;

class Connection final : public ConnectionContext, public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  // `socket` is connected and its executor is a strand of its own.
  Connection(std::shared_ptr<ServerCore> core, asio::ip::tcp::socket socket, uint64_t id, std::string peer,
             uint16_t local_port);

  // Starts the coroutines. Call once, after the connection is registered with the server.
  void start();

  // Thread-safe. Stop reading new requests, finish the ones in flight, write their replies, then close.
  void begin_drain();
  // Thread-safe. Close now; replies not yet written are dropped.
  void force_close();

 private:
  struct Slot {
    bool done = false;
    Reply reply;
  };

  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> idle_watchdog();
  static asio::awaitable<void> run_handler(std::shared_ptr<Connection> self, uint64_t seq,
                                           std::vector<uint8_t> frame);
  // Runs `body` (a member coroutine of `self`) on the strand; an escaping exception is logged and closes.
  void spawn(asio::awaitable<void> body, const char* what);
  static asio::awaitable<void> guarded(std::shared_ptr<Connection> self, asio::awaitable<void> body,
                                       const char* what);

  bool pipeline_full() const;
  void complete(uint64_t seq, Reply reply);
  void close(bool graceful);

  std::shared_ptr<ServerCore> core_;
  asio::ip::tcp::socket socket_;
  asio::any_io_executor strand_;
  Notifier reader_wake_;  // a slot or queued response bytes were freed, or draining/closing began
  Notifier writer_wake_;  // the oldest slot finished, or reading ended, or draining/closing began
  asio::steady_timer idle_timer_;

  // Requests read and not yet answered, oldest first; slots_[i] has sequence number first_seq_ + i.
  std::deque<Slot> slots_;
  uint64_t first_seq_ = 0;
  std::size_t in_flight_request_bytes_ = 0;  // frames held by running handlers
  std::size_t queued_response_bytes_ = 0;    // finished replies waiting to be written
  Clock::time_point last_activity_;          // last request read, response written, or pipeline emptied

  bool draining_ = false;
  bool reader_done_ = false;  // the peer ended its side cleanly (EOF between frames)
  bool closed_ = false;
};

}  // namespace floe::net::detail
