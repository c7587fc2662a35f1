// Heartbeats both ways (heartbeat.h): the listener answers each frame with an ack of its election (none while it
// holds none) and closes on a bad magic; the client closes on a bad ack and deposes a controller whose listener
// accepts its heartbeats but answers none. Built in the embedded-store control suite (floe_cluster_control_test).
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "cluster/cluster_keys.h"
#include "cluster/heartbeat.h"
#include "cluster/tests/cluster_fixture.h"
#include "meta/meta_store.h"

namespace floe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using Frame = std::array<uint8_t, kHeartbeatFrameSize>;

class HeartbeatTest : public ClusterFixture {
 protected:
  // A blocking test socket to 127.0.0.1:port whose reads give up after `timeout` (SO_RCVTIMEO).
  static std::unique_ptr<tcp::socket> dial(asio::io_context& io, uint16_t port, std::chrono::milliseconds timeout) {
    auto s = std::make_unique<tcp::socket>(io);
    std::error_code ec;
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return nullptr;
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return s;
  }
  // One frame, by plain recv() so that SO_RCVTIMEO applies (asio's blocking read would poll on).
  // nullopt: timed out; an empty frame with *eof set: the peer closed.
  static std::optional<Frame> read_frame(tcp::socket& s, bool* eof = nullptr) {
    Frame f{};
    size_t got = 0;
    while (got < f.size()) {
      const ssize_t n = ::recv(s.native_handle(), f.data() + got, f.size() - got, 0);
      if (n == 0 && eof != nullptr) *eof = true;
      if (n <= 0) return std::nullopt;
      got += static_cast<size_t>(n);
    }
    return f;
  }
};

TEST(HeartbeatCodecTest, AckRoundTripsAndRefusesABadMagic) {
  auto ack = decode_heartbeat_ack(encode_heartbeat_ack(HeartbeatAck{3, 77}));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(*ack, (HeartbeatAck{3, 77}));
  EXPECT_FALSE(decode_heartbeat_ack(encode_heartbeat(3, 77)).has_value());  // a heartbeat is not an ack
  EXPECT_FALSE(decode_heartbeat(encode_heartbeat_ack(HeartbeatAck{3, 77})).has_value());
  EXPECT_FALSE(decode_heartbeat_ack(encode_heartbeat_ack(HeartbeatAck{3, 0})).has_value());
}

TEST_F(HeartbeatTest, ListenerAnswersOnlyWhileItHoldsAnElection) {
  auto server = HeartbeatServer::start(asio::make_strand(io_.executor()), "127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.error().message;
  asio::io_context local;
  auto s = dial(local, (*server)->port(), 300ms);
  ASSERT_TRUE(s);
  const Frame hb = encode_heartbeat(4, 40);
  asio::write(*s, asio::buffer(hb));
  EXPECT_FALSE(read_frame(*s).has_value()) << "answered without an election";
  (*server)->set_election(1, 123);
  asio::write(*s, asio::buffer(hb));
  auto f = read_frame(*s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(decode_heartbeat_ack(*f), (HeartbeatAck{1, 123}));
  EXPECT_TRUE(eventually([&] { return (*server)->acks_sent() == 1; }, 2s));
  (*server)->set_election(1, 0);  // deposed: silent again
  asio::write(*s, asio::buffer(hb));
  EXPECT_FALSE(read_frame(*s).has_value());
  // A bad magic closes the connection: the next read sees EOF, not a timeout.
  (*server)->set_election(1, 124);
  Frame junk = hb;
  junk[0] ^= 0xFF;
  asio::write(*s, asio::buffer(junk));
  bool eof = false;
  EXPECT_FALSE(read_frame(*s, &eof).has_value());
  EXPECT_TRUE(eof);
  (*server)->stop();
}

// A fake controller: accepts connections and reads heartbeats; answers each with `reply` (nullopt: never).
struct FakeController {
  explicit FakeController(asio::any_io_executor ex) : acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  tcp::acceptor acceptor;
  std::optional<Frame> reply;
  std::atomic<int> accepted{0};
  std::atomic<int> frames{0};

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      accepted.fetch_add(1);
      asio::co_spawn(acceptor.get_executor(), connection(std::make_shared<tcp::socket>(std::move(sock))),
                     asio::detached);
    }
  }
  asio::awaitable<void> connection(std::shared_ptr<tcp::socket> s) {
    Frame in{};
    for (;;) {
      auto [ec, n] = co_await asio::async_read(*s, asio::buffer(in), asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      frames.fetch_add(1);
      if (reply) {
        Frame out = *reply;
        auto [wec, wn] = co_await asio::async_write(*s, asio::buffer(out), asio::experimental::as_tuple(asio::use_awaitable));
        if (wec) co_return;
      }
    }
  }
};

TEST_F(HeartbeatTest, ClientClosesOnABadAckAndDeposesAControllerThatNeverAnswers) {
  auto image = open_image();
  ASSERT_TRUE(image);
  auto strand = asio::make_strand(io_.executor());
  FakeController fake(strand);
  asio::co_spawn(strand, fake.serve(), asio::detached);
  const std::string endpoint = "127.0.0.1:" + std::to_string(fake.acceptor.local_endpoint().port());
  auto put = run(meta_->put(meta::PutRequest{image->keys().controller(),
                                             encode_controller(ControllerRecord{9, endpoint, 0}), 0, false}));
  ASSERT_TRUE(put.ok());
  const int64_t election = put->revision;
  ASSERT_TRUE(run(image->wait_for_revision(election, 5s)).ok());

  // 1. Bad acks: each one closes the connection, and the client connects again.
  fake.reply = encode_heartbeat(1, 1);  // wrong magic for an ack
  HeartbeatClientOptions o;
  o.interval = 50ms;
  o.meta = meta_.get();
  o.answer_timeout = 400ms;
  auto client = HeartbeatClient::start(io_.executor(), *image, 2, 20, o);
  EXPECT_TRUE(eventually([&] { return client->connects() >= 3; }, 3s));
  EXPECT_EQ(client->acks_received(), 0u);
  EXPECT_EQ(client->depositions(), 0u);  // reconnecting keeps it reachable
  run(client->stop_and_wait());

  // 2. Acks of this election: no deposition however long it runs.
  fake.reply = encode_heartbeat_ack(HeartbeatAck{9, election});
  client = HeartbeatClient::start(io_.executor(), *image, 2, 20, o);
  EXPECT_TRUE(eventually([&] { return client->acks_received() >= 10; }, 3s));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(client->depositions(), 0u);
  run(client->stop_and_wait());

  // 3. Acks of another election do not count, and the listener stays connected but silent: deposed after the
  //    answer timeout, its key deleted by create revision.
  fake.reply = encode_heartbeat_ack(HeartbeatAck{9, election + 1000});
  const int accepted_before = fake.accepted.load();
  const auto t0 = Clock::now();
  client = HeartbeatClient::start(io_.executor(), *image, 2, 20, o);
  ASSERT_TRUE(eventually([&] { return client->depositions() == 1; }, 3s));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(fake.accepted.load(), accepted_before + 1);  // one connection, never dropped
  EXPECT_EQ(client->acks_received(), 0u);
  EXPECT_FALSE(run(meta_->get(image->keys().controller()))->has_value());
  run(client->stop_and_wait());
  asio::post(strand, [&fake] {
    std::error_code ignored;
    fake.acceptor.close(ignored);
  });
  run(image->close());
}

}  // namespace
}  // namespace floe::cluster
