// Broker <-> controller heartbeats (DESIGN §6 "Failure detection"): each broker keeps one TCP connection to the
// controller's heartbeat listener (advertised in the election key's value, cluster_keys.h) and sends one frame
// every heartbeat interval (~250 ms); the controller answers each frame with an ack. A killed process closes its
// sockets at once, so a closed connection is the fast signal; silence (no frames, or no acks) and the lease are the
// slower ones.
//
// Heartbeat, broker -> controller (16 bytes, big-endian):
//   +------------------------+---------------+-------------------+
//   | magic u32 0x464C4842   | broker id i32 | broker epoch i64  |
//   |        ("FLHB")        |               |                   |
//   +------------------------+---------------+-------------------+
// A connection that sends a frame with a bad magic, or frames of two different broker epochs, is closed.
//
// Ack, controller -> broker, one per heartbeat received while the controller holds an election (16 bytes,
// big-endian):
//   +------------------------+--------------------+------------------------------------------+
//   | magic u32 0x464C4841   | controller id i32  | election i64: create revision of the     |
//   |        ("FLHA")        |                    | election key this controller holds (> 0) |
//   +------------------------+--------------------+------------------------------------------+
// The controller never waits on a slow reader: at most one ack per connection is being written; an ack due while
// the previous one is still in the socket's way is dropped (the broker only needs to hear one now and then). A
// broker closes a connection whose peer sends a bad magic; an ack of another election does not count as an answer.
//
// Deposing a dead controller (the other direction of the same signal): when a broker's connection to the controller
// closes and no new one can be made for `depose_after` while the image still shows that election key, the broker
// deletes the election key with a txn comparing its create revision (so only that election, and only if it still
// stands). A killed controller closes its listener at once, so the others elect a new one within about
// `depose_after` instead of waiting for the controller's lease to expire. A PAUSED controller (SIGSTOP, a hung
// process, a host cut off) keeps its connections open, so the broker also deposes it when a heartbeat it sent has
// gone unanswered for `answer_timeout` (~1 s), counted from this broker's own last stall at the latest (its own
// io not running, like the controller's rule in controller.h: acks may sit unread in its socket). Safe because
// every controller txn compares its election key's create revision (DESIGN §6): a controller deposed by mistake
// (alive, but unreachable from this broker, or slow) changes nothing more, stops acting when its image shows the
// key gone, and campaigns again. A client deposes at most once per `min_depose_interval`, so a broker that cannot
// reach a live controller does not keep the cluster in elections.
//
// Executors: HeartbeatServer runs on the strand given to start() (the controller's), and its peers() must be read
// on that strand. HeartbeatClient runs on its own strand.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/strand.hpp>

#include "base/result.h"
#include "cluster/cluster_image.h"

namespace floe::meta {
class MetaStore;
}

namespace floe::cluster {

inline constexpr uint32_t kHeartbeatMagic = 0x464C4842;
inline constexpr uint32_t kHeartbeatAckMagic = 0x464C4841;
inline constexpr size_t kHeartbeatFrameSize = 16;  // both directions
std::array<uint8_t, kHeartbeatFrameSize> encode_heartbeat(int32_t broker_id, int64_t epoch);
std::optional<EpochKey> decode_heartbeat(const std::array<uint8_t, kHeartbeatFrameSize>& frame);

struct HeartbeatAck {
  int32_t controller_id = -1;
  int64_t election = 0;
  bool operator==(const HeartbeatAck&) const = default;
};
std::array<uint8_t, kHeartbeatFrameSize> encode_heartbeat_ack(const HeartbeatAck& ack);
std::optional<HeartbeatAck> decode_heartbeat_ack(const std::array<uint8_t, kHeartbeatFrameSize>& frame);

class HeartbeatServer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Peer {
    int open_connections = 0;
    Clock::time_point last_heard{};       // last frame
    Clock::time_point disconnected_at{};  // when open_connections last dropped to 0
    uint64_t frames = 0;
  };

  // Listens on host:port (port 0: any free port). max_connections bounds the accepted sockets (beyond: closed).
  static Result<std::unique_ptr<HeartbeatServer>> start(asio::strand<asio::any_io_executor> strand,
                                                        const std::string& host, uint16_t port,
                                                        size_t max_connections = 4096);
  ~HeartbeatServer();  // stop()s
  uint16_t port() const;
  // The election this listener answers for: acks carry it; 0 (the start): heartbeats are read but not answered
  // (a controller that holds no election must not keep brokers from deposing it). Thread-safe.
  void set_election(int32_t controller_id, int64_t election);
  uint64_t acks_sent() const;
  uint64_t acks_dropped() const;  // due while the connection's previous ack was still being written
  // On the strand: what is known about each broker epoch that ever connected.
  const std::map<EpochKey, Peer>& peers() const;
  // Forgets a peer (its epoch is gone). On the strand.
  void forget(const EpochKey& epoch);
  // Closes the listener and every connection. Thread-safe, idempotent.
  void stop();

  struct Core;

 private:
  explicit HeartbeatServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

struct HeartbeatClientOptions {
  std::chrono::milliseconds interval{250};
  // Deposing an unreachable controller (above); nullptr or 0: never depose (wait for its lease to expire).
  meta::MetaStore* meta = nullptr;
  std::chrono::milliseconds depose_after{300};
  std::chrono::milliseconds min_depose_interval{5000};
  // Deposing a paused controller (above): a heartbeat unanswered this long; 0: never (wait for its lease).
  std::chrono::milliseconds answer_timeout{1000};
  // A wake-up of the sender this much later than planned is this broker's own stall: unanswered heartbeats are
  // counted from its end.
  std::chrono::milliseconds stall_allowance{200};
};

// Sends heartbeats for one broker epoch to whoever the image names as controller; reconnects when the connection
// drops or the controller changes (a new election key: the image wakes it at once).
class HeartbeatClient {
 public:
  static std::unique_ptr<HeartbeatClient> start(asio::any_io_executor executor, ClusterImage& image,
                                                int32_t broker_id, int64_t epoch, HeartbeatClientOptions options);
  ~HeartbeatClient();  // stop()s
  // Closes the connection and sends nothing more. Thread-safe, idempotent.
  void stop();
  // stop(), then waits until the sender no longer touches the image (call it before destroying the image).
  asio::awaitable<void> stop_and_wait();
  uint64_t frames_sent() const;
  uint64_t connects() const;
  uint64_t depositions() const;  // election keys this client deleted
  uint64_t acks_received() const;  // acks of the election it sent to

  struct Core;

 private:
  explicit HeartbeatClient(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster
