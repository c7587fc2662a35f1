#include "cluster/heartbeat.h"

#include <atomic>
#include <set>

#include <asio/experimental/as_tuple.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/log.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
}
uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// "host:port" (host may be a bracketed IPv6 literal).
bool split_host_port(const std::string& s, std::string& host, std::string& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return true;
}

}  // namespace

std::array<uint8_t, kHeartbeatFrameSize> encode_heartbeat(int32_t broker_id, int64_t epoch) {
  std::array<uint8_t, kHeartbeatFrameSize> f{};
  put_be(f.data(), kHeartbeatMagic, 4);
  put_be(f.data() + 4, static_cast<uint32_t>(broker_id), 4);
  put_be(f.data() + 8, static_cast<uint64_t>(epoch), 8);
  return f;
}

std::optional<EpochKey> decode_heartbeat(const std::array<uint8_t, kHeartbeatFrameSize>& f) {
  if (get_be(f.data(), 4) != kHeartbeatMagic) return std::nullopt;
  auto id = static_cast<int32_t>(static_cast<uint32_t>(get_be(f.data() + 4, 4)));
  auto epoch = static_cast<int64_t>(get_be(f.data() + 8, 8));
  if (id < 0 || epoch <= 0) return std::nullopt;
  return EpochKey{id, epoch};
}

std::array<uint8_t, kHeartbeatFrameSize> encode_heartbeat_ack(const HeartbeatAck& ack) {
  std::array<uint8_t, kHeartbeatFrameSize> f{};
  put_be(f.data(), kHeartbeatAckMagic, 4);
  put_be(f.data() + 4, static_cast<uint32_t>(ack.controller_id), 4);
  put_be(f.data() + 8, static_cast<uint64_t>(ack.election), 8);
  return f;
}

std::optional<HeartbeatAck> decode_heartbeat_ack(const std::array<uint8_t, kHeartbeatFrameSize>& f) {
  if (get_be(f.data(), 4) != kHeartbeatAckMagic) return std::nullopt;
  HeartbeatAck ack;
  ack.controller_id = static_cast<int32_t>(static_cast<uint32_t>(get_be(f.data() + 4, 4)));
  ack.election = static_cast<int64_t>(get_be(f.data() + 8, 8));
  if (ack.controller_id < 0 || ack.election <= 0) return std::nullopt;
  return ack;
}

// ---------------------------------------------------------------- server

struct HeartbeatServer::Core : std::enable_shared_from_this<Core> {
  Core(asio::strand<asio::any_io_executor> s, size_t max) : strand(s), acceptor(s), max_connections(max) {}
  asio::strand<asio::any_io_executor> strand;
  tcp::acceptor acceptor;
  size_t max_connections;
  uint16_t port = 0;
  bool stopped = false;  // strand
  std::map<EpochKey, Peer> peers;
  // One accepted connection; `out` is the ack being written (at most one at a time: no queue).
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    bool writing = false;
    std::array<uint8_t, kHeartbeatFrameSize> out{};
  };
  std::set<std::shared_ptr<Connection>> sockets;
  // What acks carry (set_election); election 0: heartbeats are not answered.
  std::atomic<int32_t> controller_id{-1};
  std::atomic<int64_t> election{0};
  std::atomic<uint64_t> acks_sent{0};
  std::atomic<uint64_t> acks_dropped{0};

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, sock] = co_await acceptor.async_accept(kTuple);
      if (stopped) break;
      if (ec) {
        asio::steady_timer pause(strand, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      if (sockets.size() >= max_connections) {
        std::error_code ignored;
        sock.close(ignored);
        continue;
      }
      auto c = std::make_shared<Connection>(std::move(sock));
      sockets.insert(c);
      asio::co_spawn(strand, read_loop(c), asio::detached);
    }
  }

  // Answers one heartbeat without ever waiting for the reader: if the previous ack is still being written (a
  // broker that does not read, or a full socket buffer), this one is dropped.
  void answer(const std::shared_ptr<Connection>& c) {
    const int64_t rev = election.load();
    if (rev <= 0) return;  // holds no election: no answer
    if (c->writing) {
      acks_dropped.fetch_add(1);
      return;
    }
    c->writing = true;
    c->out = encode_heartbeat_ack(HeartbeatAck{controller_id.load(), rev});
    auto self = shared_from_this();
    // The socket's executor is the strand, so the handler runs there.
    asio::async_write(c->socket, asio::buffer(c->out), [self, c](std::error_code ec, size_t) {
      c->writing = false;
      if (ec) {
        std::error_code ignored;
        c->socket.close(ignored);  // the read loop ends and cleans up
        return;
      }
      self->acks_sent.fetch_add(1);
    });
  }

  asio::awaitable<void> read_loop(std::shared_ptr<Connection> c) {
    auto self = shared_from_this();
    std::array<uint8_t, kHeartbeatFrameSize> buf{};
    std::optional<EpochKey> who;
    for (;;) {
      auto [ec, n] = co_await asio::async_read(c->socket, asio::buffer(buf), kTuple);
      if (ec || stopped) break;
      auto k = decode_heartbeat(buf);
      if (!k || (who && *who != *k)) break;
      Peer& p = peers[*k];
      if (!who) {
        who = k;
        ++p.open_connections;
      }
      p.last_heard = Clock::now();
      ++p.frames;
      answer(c);
    }
    if (who) {
      auto it = peers.find(*who);
      if (it != peers.end() && --it->second.open_connections <= 0) {
        it->second.open_connections = 0;
        it->second.disconnected_at = Clock::now();
      }
    }
    std::error_code ignored;
    c->socket.close(ignored);
    sockets.erase(c);
  }

  void stop_now() {
    if (stopped) return;
    stopped = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (const auto& c : sockets) c->socket.close(ignored);
  }
};

HeartbeatServer::HeartbeatServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}
HeartbeatServer::~HeartbeatServer() { stop(); }

Result<std::unique_ptr<HeartbeatServer>> HeartbeatServer::start(asio::strand<asio::any_io_executor> strand,
                                                                const std::string& host, uint16_t port,
                                                                size_t max_connections) {
  auto core = std::make_shared<Core>(strand, max_connections);
  std::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Error{ec, "heartbeat listener: " + host + " is not an IP address"};
  tcp::endpoint ep(address, port);
  core->acceptor.open(ep.protocol(), ec);
  if (!ec) core->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) core->acceptor.bind(ep, ec);
  if (!ec) core->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{ec, "heartbeat listener on " + host + ":" + std::to_string(port) + ": " + ec.message()};
  core->port = core->acceptor.local_endpoint(ec).port();
  asio::co_spawn(strand, core->accept_loop(), asio::detached);
  return std::unique_ptr<HeartbeatServer>(new HeartbeatServer(core));
}

uint16_t HeartbeatServer::port() const { return core_->port; }
void HeartbeatServer::set_election(int32_t controller_id, int64_t election) {
  core_->controller_id.store(controller_id);
  core_->election.store(election);
}
uint64_t HeartbeatServer::acks_sent() const { return core_->acks_sent.load(); }
uint64_t HeartbeatServer::acks_dropped() const { return core_->acks_dropped.load(); }
const std::map<EpochKey, HeartbeatServer::Peer>& HeartbeatServer::peers() const { return core_->peers; }
void HeartbeatServer::forget(const EpochKey& epoch) { core_->peers.erase(epoch); }
void HeartbeatServer::stop() {
  auto core = core_;
  asio::post(core->strand, [core] { core->stop_now(); });
}

// ---------------------------------------------------------------- client

struct HeartbeatClient::Core : std::enable_shared_from_this<Core> {
  using Clock = std::chrono::steady_clock;
  Core(asio::any_io_executor ex, ClusterImage& img, int32_t id_in, int64_t epoch_in, HeartbeatClientOptions o)
      : strand(asio::make_strand(ex)), image(img), id(id_in), epoch(epoch_in), options(o), interval(o.interval),
        timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  ClusterImage& image;
  int32_t id;
  int64_t epoch;
  HeartbeatClientOptions options;
  std::chrono::milliseconds interval;
  asio::steady_timer timer;  // the writer's pause; cancelled to wake it
  bool stopped = false;      // strand
  std::shared_ptr<tcp::socket> socket;  // strand
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> depositions{0};
  std::atomic<uint64_t> acks{0};
  std::atomic<int64_t> current_election{0};  // the election key this client sends to (0: none)
  // Strand: since when the controller of election `unreachable_election` has had no connection from us.
  int64_t unreachable_election = 0;
  Clock::time_point unreachable_since{};
  int64_t deposed_election = 0;
  std::optional<Clock::time_point> last_deposition;

  asio::awaitable<void> pause(std::chrono::milliseconds d) {
    timer.expires_after(d);
    co_await timer.async_wait(kTuple);
  }

  void note_unreachable(int64_t election) {
    if (unreachable_election == election) return;
    unreachable_election = election;
    unreachable_since = Clock::now();
  }

  // The controller of `c` has been unreachable for depose_after: depose it.
  asio::awaitable<void> maybe_depose(const ControllerRecord& c) {
    if (options.depose_after.count() <= 0) co_return;
    if (unreachable_election != c.create_revision || Clock::now() - unreachable_since < options.depose_after) {
      co_return;
    }
    co_await depose(c, unreachable_since, "its heartbeat listener " + c.heartbeat + " unreachable for ");
  }

  // Deletes the election key of `c` (only that election's, compared by create revision), at most once per election
  // and once per min_depose_interval; `since`: when the trouble began (for the log).
  asio::awaitable<void> depose(const ControllerRecord& c, Clock::time_point since, std::string why) {
    if (options.meta == nullptr || stopped) co_return;
    const auto now = Clock::now();
    if (deposed_election == c.create_revision) co_return;
    if (last_deposition && now - *last_deposition < options.min_depose_interval) co_return;
    auto still = image.controller();
    if (!still || still->create_revision != c.create_revision) co_return;
    deposed_election = c.create_revision;
    last_deposition = now;
    const std::string key = image.keys().controller();
    meta::TxnRequest txn;
    txn.compares.push_back(meta::Compare::create_revision(key, meta::Compare::Result::equal, c.create_revision));
    txn.success.push_back(meta::DeleteRequest{key, "", false});
    auto r = co_await options.meta->txn(std::move(txn));
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
    if (!r) {
      log::warn("cluster", "broker ", id, ": cannot depose controller ", c.broker_id, " (", why, waited, " ms): ",
                r.error().message());
    } else if (r->succeeded) {
      depositions.fetch_add(1);
      log::warn("cluster", "broker ", id, ": deposed controller ", c.broker_id, " (election ", c.create_revision,
                "): ", why, waited, " ms");
    }
  }

  asio::awaitable<bool> connect(const std::string& endpoint) {
    std::string host, port;
    if (!split_host_port(endpoint, host, port)) co_return false;
    tcp::resolver resolver(strand);
    auto [rec, results] = co_await resolver.async_resolve(host, port, kTuple);
    if (rec || results.empty() || stopped) co_return false;
    socket = std::make_shared<tcp::socket>(strand);
    // Bound the connect: a watchdog closes the socket if it has not connected in time.
    auto sock = socket;
    auto watchdog = std::make_shared<asio::steady_timer>(strand, std::max(interval * 4, std::chrono::milliseconds(500)));
    watchdog->async_wait([sock](std::error_code ec) {
      if (!ec) {
        std::error_code ignored;
        sock->close(ignored);
      }
    });
    auto [cec] = co_await sock->async_connect(results.begin()->endpoint(), kTuple);
    watchdog->cancel();
    if (cec || stopped) {
      std::error_code ignored;
      sock->close(ignored);
      co_return false;
    }
    std::error_code ignored;
    sock->set_option(tcp::no_delay(true), ignored);
    co_return true;
  }

  // One connection to one election's controller (strand).
  struct Link {
    int64_t election = 0;
    bool dead = false;
    // When the oldest heartbeat not answered yet was sent (none: every one sent was answered).
    std::optional<Clock::time_point> unanswered_since;
  };

  // Reads the controller's acks until the connection closes or the peer sends a bad frame, then wakes the writer.
  asio::awaitable<void> read_acks(std::shared_ptr<tcp::socket> sock, std::shared_ptr<Link> link) {
    auto self = shared_from_this();
    std::array<uint8_t, kHeartbeatFrameSize> buf{};
    for (;;) {
      auto [ec, n] = co_await asio::async_read(*sock, asio::buffer(buf), kTuple);
      if (ec) break;
      auto ack = decode_heartbeat_ack(buf);
      if (!ack) {
        log::warn("cluster", "broker ", id, ": bad heartbeat ack from the controller; closing the connection");
        break;
      }
      if (ack->election != link->election) continue;  // not an answer of the election we send to
      link->unanswered_since.reset();
      acks.fetch_add(1);
    }
    link->dead = true;
    timer.cancel();
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    const auto frame = encode_heartbeat(id, epoch);
    const auto answer_timeout = options.answer_timeout;
    while (!stopped) {
      auto controller = image.controller();
      current_election.store(controller ? controller->create_revision : 0);
      if (!controller) {
        co_await pause(std::chrono::milliseconds(50));
        continue;
      }
      if (!co_await connect(controller->heartbeat)) {
        note_unreachable(controller->create_revision);
        co_await maybe_depose(*controller);
        if (!stopped) co_await pause(std::chrono::milliseconds(50));
        continue;
      }
      unreachable_election = 0;
      connects.fetch_add(1);
      auto sock = socket;
      auto link = std::make_shared<Link>();
      link->election = controller->create_revision;
      asio::co_spawn(strand, read_acks(sock, link), asio::detached);
      bool lost_connection = false;
      auto next_send = Clock::now();
      while (!stopped) {
        if (link->dead) {
          lost_connection = true;
          break;
        }
        if (Clock::now() >= next_send) {
          auto [ec, n] = co_await asio::async_write(*sock, asio::buffer(frame), kTuple);
          if (ec) {
            lost_connection = true;
            break;
          }
          frames.fetch_add(1);
          const auto sent = Clock::now();
          if (!link->unanswered_since) link->unanswered_since = sent;
          next_send = sent + interval;
        }
        // A paused controller keeps the connection open but answers nothing.
        auto now = Clock::now();
        std::optional<Clock::time_point> answer_due;
        if (answer_timeout.count() > 0 && link->unanswered_since) answer_due = *link->unanswered_since + answer_timeout;
        if (answer_due && now >= *answer_due) {
          co_await depose(*controller, *link->unanswered_since, "a heartbeat unanswered for ");
          if (stopped) break;
          now = Clock::now();
          answer_due.reset();  // deposed, or not now (min_depose_interval): the next send rechecks
        }
        const auto wake_at = std::max(now, answer_due ? std::min(next_send, *answer_due) : next_send);
        co_await pause(std::chrono::ceil<std::chrono::milliseconds>(wake_at - now));
        if (stopped) break;
        // Woken far later than planned: this process was not running its io (SIGSTOP, a blocked thread, a
        // starved machine), so acks may still sit unread in the socket. Count silence from now.
        const auto woke = Clock::now();
        if (woke - wake_at > options.stall_allowance && link->unanswered_since) link->unanswered_since = woke;
        auto c = image.controller();
        if (!c || c->create_revision != controller->create_revision) break;
      }
      // A connection that closed under us counts from now (a killed controller's closes at once).
      if (lost_connection) note_unreachable(controller->create_revision);
      std::error_code ignored;
      sock->close(ignored);
    }
    done = true;
    done_timer.cancel();
  }

  bool done = false;  // strand
  asio::steady_timer done_timer{strand, asio::steady_timer::time_point::max()};

  static asio::awaitable<void> stop_on_strand(std::shared_ptr<Core> core) {
    core->stop_now();
    while (!core->done) co_await core->done_timer.async_wait(kTuple);
  }

  void stop_now() {
    stopped = true;
    timer.cancel();
    if (socket) {
      std::error_code ignored;
      socket->close(ignored);
    }
  }
};

HeartbeatClient::HeartbeatClient(std::shared_ptr<Core> core) : core_(std::move(core)) {}
HeartbeatClient::~HeartbeatClient() { stop(); }

std::unique_ptr<HeartbeatClient> HeartbeatClient::start(asio::any_io_executor executor, ClusterImage& image,
                                                        int32_t broker_id, int64_t epoch,
                                                        HeartbeatClientOptions options) {
  auto core = std::make_shared<Core>(executor, image, broker_id, epoch, options);
  // A new (or no) election key wakes the sender at once, so it reconnects to the new controller within
  // milliseconds rather than at its next heartbeat (the new controller gives the previous one's epoch only a short
  // grace, controller.h).
  std::weak_ptr<Core> weak = core;
  image.subscribe([weak] {
    auto self = weak.lock();
    if (!self) return;
    auto c = self->image.controller();
    if ((c ? c->create_revision : 0) == self->current_election.load()) return;
    asio::post(self->strand, [self] { self->timer.cancel(); });
  });
  asio::co_spawn(core->strand, core->run(), asio::detached);
  return std::unique_ptr<HeartbeatClient>(new HeartbeatClient(core));
}

void HeartbeatClient::stop() {
  auto core = core_;
  asio::post(core->strand, [core] { core->stop_now(); });
}
asio::awaitable<void> HeartbeatClient::stop_and_wait() {
  auto core = core_;
  co_await asio::co_spawn(core->strand, Core::stop_on_strand(core), asio::use_awaitable);
}

uint64_t HeartbeatClient::frames_sent() const { return core_->frames.load(); }
uint64_t HeartbeatClient::connects() const { return core_->connects.load(); }
uint64_t HeartbeatClient::depositions() const { return core_->depositions.load(); }
uint64_t HeartbeatClient::acks_received() const { return core_->acks.load(); }

}  // namespace floe::cluster
