// Broker -> controller heartbeats (DESIGN §6 "Failure detection"): each broker keeps one TCP connection to the
// controller's heartbeat listener (advertised in the election key's value, cluster_keys.h) and sends one frame
// every heartbeat interval (~250 ms). The controller reads frames only; nothing flows back. A killed process closes
// its sockets at once, so a closed connection is the fast signal; silence and the lease are the slow ones.
//
// Frame (16 bytes, big-endian):
//   +------------------------+---------------+-------------------+
//   | magic u32 0x464C4842   | broker id i32 | broker epoch i64  |
//   |        ("FLHB")        |               |                   |
//   +------------------------+---------------+-------------------+
// A connection that sends a frame with a bad magic, or frames of two different broker epochs, is closed.
//
// Deposing a dead controller (the other direction of the same signal): when a broker's connection to the controller
// closes and no new one can be made for `depose_after` while the image still shows that election key, the broker
// deletes the election key with a txn comparing its create revision (so only that election, and only if it still
// stands). A killed controller closes its listener at once, so the others elect a new one within about
// `depose_after` instead of waiting for the controller's lease to expire. Safe because every controller txn compares
// its election key's create revision (DESIGN §6): a controller deposed by mistake (alive, but unreachable from this
// broker) changes nothing more, stops acting when its image shows the key gone, and campaigns again. A client
// deposes at most once per `min_depose_interval`, so a broker that cannot reach a live controller does not keep the
// cluster in elections.
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
inline constexpr size_t kHeartbeatFrameSize = 16;
std::array<uint8_t, kHeartbeatFrameSize> encode_heartbeat(int32_t broker_id, int64_t epoch);
std::optional<EpochKey> decode_heartbeat(const std::array<uint8_t, kHeartbeatFrameSize>& frame);

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

  struct Core;

 private:
  explicit HeartbeatClient(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace floe::cluster
