#include "http/client.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>

#include "http/tests/test_server.h"

namespace floe::http {
namespace {

using namespace std::chrono_literals;
using testing::RawRequest;
using testing::ServerConn;
using testing::TestServer;
using Result = std::pair<std::error_code, Response>;

// An io_context run by two threads (as the broker runs it), stopped and joined at the end.
class Loop {
 public:
  Loop() : work_(io_.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Loop() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  asio::io_context& io() { return io_; }

  template <typename T>
  T run(asio::awaitable<T> task, std::chrono::seconds limit = 15s) {
    auto future = asio::co_spawn(io_, std::move(task), asio::use_future);
    if (future.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "coroutine did not finish within " << limit.count() << " s";
      std::abort();  // a hang is a failure; do not leave a coroutine referencing this frame
    }
    return future.get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

Request get(const std::string& url, std::chrono::milliseconds timeout = 5000ms) {
  Request r;
  r.method = "GET";
  r.url = url;
  r.deadline = Clock::now() + timeout;
  return r;
}

TEST(HttpUrl, Parses) {
  auto u = parse_url("http://example.com:9000/a/b?x=1&y");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->target, "/a/b?x=1&y");
  EXPECT_EQ(u->authority(), "example.com:9000");
  u = parse_url("HTTP://h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->authority(), "h");
  u = parse_url("http://[::1]:81?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/?q");
  EXPECT_EQ(u->host_port(), "[::1]:81");
  EXPECT_FALSE(parse_url("http://h:0/"));
  EXPECT_FALSE(parse_url("http://h:70000/"));
  EXPECT_FALSE(parse_url("http://:80/"));
  EXPECT_FALSE(parse_url("ftp://h/"));
  EXPECT_FALSE(parse_url("http://h/a b"));
  EXPECT_FALSE(parse_url("http://u@h/"));
  EXPECT_FALSE(parse_url("http://h/#frag"));
  EXPECT_FALSE(parse_url("h/path"));
}

TEST(HttpClient, GetWithContentLengthAndHeaders) {
  TestServer server([](ServerConn& c) {
    auto req = c.read_request();
    if (!req) return;
    const std::string body = req->method + " " + req->target + " host=" + req->header("host") + " x=" +
                             req->header("x-test");
    c.write(testing::response(200, body, "X-Reply: yes\r\n"));
  });
  Loop loop;
  Client client(loop.io().get_executor());
  Request r = get(server.url("/p?q=1"));
  r.headers.emplace_back("X-Test", "v");
  auto [ec, resp] = loop.run(client.send(r));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "GET /p?q=1 host=127.0.0.1:" + std::to_string(server.port()) + " x=v");
  ASSERT_NE(resp.header("x-REPLY"), nullptr);
  EXPECT_EQ(*resp.header("x-reply"), "yes");
  EXPECT_EQ(resp.header("missing"), nullptr);
}

TEST(HttpClient, KeepAliveReusesOneConnection) {
  TestServer server(testing::answer_all(200, "ok"));
  Loop loop;
  Client client(loop.io().get_executor());
  for (int i = 0; i < 20; ++i) {
    auto [ec, resp] = loop.run(client.send(get(server.url())));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.body, "ok");
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(client.stats().connections_reused, 19u);
}

TEST(HttpClient, PostBodyRoundTripsOneMiB) {
  TestServer server([](ServerConn& c) {
    while (auto req = c.read_request()) c.write(testing::response(201, req->body));
  });
  Loop loop;
  Client client(loop.io().get_executor());
  Request r = get(server.url("/echo"));
  r.method = "PUT";
  r.body.resize(1 << 20);
  for (std::size_t i = 0; i < r.body.size(); ++i) r.body[i] = static_cast<char>(i * 131 + 7);
  auto [ec, resp] = loop.run(client.send(r));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.status, 201);
  EXPECT_TRUE(resp.body == r.body);
  // An empty PUT still says Content-Length: 0.
  Request empty = get(server.url("/echo"));
  empty.method = "PUT";
  auto [ec2, resp2] = loop.run(client.send(empty));
  ASSERT_FALSE(ec2) << ec2.message();
  EXPECT_EQ(resp2.status, 201);
  EXPECT_EQ(resp2.body, "");
  // A body the caller owns (body_ref), sent twice without a copy.
  const std::string owned(300000, 'z');
  for (int i = 0; i < 2; ++i) {
    Request by_ref = get(server.url("/echo"));
    by_ref.method = "PUT";
    by_ref.body_ref = owned;
    auto [ec3, resp3] = loop.run(client.send(by_ref));
    ASSERT_FALSE(ec3) << ec3.message();
    EXPECT_EQ(resp3.status, 201);
    EXPECT_TRUE(resp3.body == owned);
  }
}

TEST(HttpClient, ChunkedBodyWithExtensionsAndTrailers) {
  TestServer server([](ServerConn& c) {
    while (auto req = c.read_request()) {
      c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n");
      c.sleep_for(20ms);  // the rest arrives in another segment
      c.write("1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n");
    }
  });
  Loop loop;
  Client client(loop.io().get_executor());
  for (int i = 0; i < 2; ++i) {  // the second one reuses the connection: framing was consumed exactly
    auto [ec, resp] = loop.run(client.send(get(server.url())));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.body, "hello 0123456789");
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClient, BodyUntilCloseAndConnectionClose) {
  TestServer server([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
  });
  Loop loop;
  Client client(loop.io().get_executor());
  for (int i = 0; i < 2; ++i) {
    auto [ec, resp] = loop.run(client.send(get(server.url())));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.body, "until the end");
  }
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(client.stats().stale_retries, 0u);
}

TEST(HttpClient, HeadAnd204HaveNoBody) {
  TestServer server([](ServerConn& c) {
    while (auto req = c.read_request()) {
      if (req->method == "HEAD") {
        c.write("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nETag: \"e\"\r\n\r\n");
      } else {
        c.write("HTTP/1.1 204 No Content\r\n\r\n");
      }
    }
  });
  Loop loop;
  Client client(loop.io().get_executor());
  Request head = get(server.url());
  head.method = "HEAD";
  auto [ec, resp] = loop.run(client.send(head));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(*resp.header("content-length"), "12345");
  EXPECT_TRUE(resp.body.empty());
  Request del = get(server.url());
  del.method = "DELETE";
  auto [ec2, resp2] = loop.run(client.send(del));
  ASSERT_FALSE(ec2) << ec2.message();
  EXPECT_EQ(resp2.status, 204);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClient, InterimContinueIsSkipped) {
  TestServer server([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Loop loop;
  Client client(loop.io().get_executor());
  auto [ec, resp] = loop.run(client.send(get(server.url())));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "ok");
}

TEST(HttpClient, ServerThatNeverAnswersHitsTheDeadline) {
  TestServer server([](ServerConn& c) {
    c.read_request();
    c.wait_peer_close(10s);  // accepts, reads, never answers
  });
  Loop loop;
  Client client(loop.io().get_executor());
  const auto start = Clock::now();
  auto [ec, resp] = loop.run(client.send(get(server.url(), 300ms)));
  const auto took = Clock::now() - start;
  EXPECT_EQ(ec, Error::timed_out);
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(HttpClient, StalledBodyHitsTheDeadline) {
  TestServer server([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    c.wait_peer_close(10s);
  });
  Loop loop;
  Client client(loop.io().get_executor());
  auto [ec, resp] = loop.run(client.send(get(server.url(), 300ms)));
  EXPECT_EQ(ec, Error::timed_out);
  EXPECT_TRUE(resp.body.empty());
}

TEST(HttpClient, ConnectionRefusedIsAnError) {
  uint16_t port;
  { TestServer closed([](ServerConn&) {}); port = closed.port(); }
  Loop loop;
  Client client(loop.io().get_executor());
  auto [ec, resp] = loop.run(client.send(get("http://127.0.0.1:" + std::to_string(port) + "/")));
  EXPECT_EQ(ec, asio::error::connection_refused) << ec.message();
}

// A connect that gets no answer, on loopback only (tests never send traffic off this machine): a listener whose
// accept queue is full and never accepted drops further SYNs, so the client's connect hangs until its timeout.
TEST(HttpClient, ConnectTimeoutWhenTheListenerNeverAccepts) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // Fill the accept queue (backlog 0 holds one or two) with connections nobody accepts.
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);  // let the handshakes that can complete complete (not a synchronisation)

  Loop loop;
  ClientConfig cfg;
  cfg.connect_timeout = 200ms;
  Client client(loop.io().get_executor(), cfg);
  const auto start = Clock::now();
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  auto [ec, resp] = loop.run(client.send(get(url, 5000ms)));
  EXPECT_TRUE(ec);
  EXPECT_LT(Clock::now() - start, 3s);
  for (int fd : fillers) ::close(fd);
  ::close(listener);
}

TEST(HttpClient, BoundsAndMalformedResponses) {
  TestServer server([](ServerConn& c) {
    while (auto req = c.read_request()) {
      if (req->target == "/big") {
        c.write(testing::response(200, std::string(2000, 'x')));
      } else if (req->target == "/bigchunk") {
        c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n" + std::string(2000, 'x') +
                "\r\n0\r\n\r\n");
      } else if (req->target == "/garbage") {
        c.write("HTTP/1.1 2x0 What\r\n\r\n");
        return;
      } else if (req->target == "/badchunk") {
        c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        return;
      } else if (req->target == "/hugehead") {
        c.write("HTTP/1.1 200 OK\r\nX: " + std::string(100000, 'h') + "\r\n\r\n");
        return;
      } else if (req->target == "/short") {
        c.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        return;  // closes early
      }
    }
  });
  Loop loop;
  ClientConfig cfg;
  cfg.max_response_bytes = 1000;
  Client client(loop.io().get_executor(), cfg);
  EXPECT_EQ(loop.run(client.send(get(server.url("/big")))).first, Error::response_too_large);
  EXPECT_EQ(loop.run(client.send(get(server.url("/bigchunk")))).first, Error::response_too_large);
  EXPECT_EQ(loop.run(client.send(get(server.url("/garbage")))).first, Error::bad_response);
  EXPECT_EQ(loop.run(client.send(get(server.url("/badchunk")))).first, Error::bad_response);
  EXPECT_EQ(loop.run(client.send(get(server.url("/hugehead")))).first, Error::response_too_large);
  EXPECT_EQ(loop.run(client.send(get(server.url("/short")))).first, Error::connection_closed);
}

TEST(HttpClient, HttpsWithAMissingCaBundleFailsBeforeConnecting) {
  Loop loop;
  ClientConfig config;
  config.tls.ca_file = "/nonexistent/floe-ca.pem";
  Client client(loop.io().get_executor(), config);
  EXPECT_EQ(loop.run(client.send(get("https://127.0.0.1:1/"))).first, Error::tls_setup_failed);
  EXPECT_EQ(loop.run(client.send(get("https://127.0.0.1:1/"))).first, Error::tls_setup_failed);  // kept
  EXPECT_EQ(client.stats().connections_opened, 0u);
}

TEST(HttpClient, RejectsBadRequests) {
  Loop loop;
  Client client(loop.io().get_executor());
  Request r = get("http://127.0.0.1:1/");
  r.headers.emplace_back("X", "a\r\nInjected: 1");
  EXPECT_EQ(loop.run(client.send(r)).first, Error::bad_request);
  EXPECT_EQ(loop.run(client.send(get("nope"))).first, Error::bad_url);
  EXPECT_EQ(loop.run(client.send(get("ftp://127.0.0.1:1/"))).first, Error::bad_url);
  Request wrong_length = get("http://127.0.0.1:1/");
  wrong_length.method = "PUT";
  wrong_length.body = "abc";
  wrong_length.headers.emplace_back("Content-Length", "4");
  EXPECT_EQ(loop.run(client.send(wrong_length)).first, Error::bad_request);
}

TEST(HttpClient, ConnectionsPerHostAreBounded) {
  TestServer server([](ServerConn& c) {
    while (auto req = c.read_request()) {
      c.sleep_for(30ms);
      c.write(testing::response(200, req->target));
    }
  });
  Loop loop;
  ClientConfig cfg;
  cfg.max_connections_per_host = 3;
  Client client(loop.io().get_executor(), cfg);
  constexpr int kRequests = 24;
  std::vector<std::future<Result>> futures;
  for (int i = 0; i < kRequests; ++i) {
    futures.push_back(asio::co_spawn(loop.io(), client.send(get(server.url("/" + std::to_string(i)), 10s)),
                                     asio::use_future));
  }
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(futures[static_cast<std::size_t>(i)].wait_for(15s), std::future_status::ready);
    auto [ec, resp] = futures[static_cast<std::size_t>(i)].get();
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.body, "/" + std::to_string(i));
  }
  EXPECT_LE(server.max_concurrent(), 3);
  EXPECT_EQ(server.accepted(), 3);
}

TEST(HttpClient, WaitingForAConnectionHitsTheDeadline) {
  TestServer server([](ServerConn& c) {
    c.read_request();
    c.wait_peer_close(10s);
  });
  Loop loop;
  ClientConfig cfg;
  cfg.max_connections_per_host = 1;
  cfg.max_pending_per_host = 1;
  Client client(loop.io().get_executor(), cfg);
  auto busy = asio::co_spawn(loop.io(), client.send(get(server.url(), 1000ms)), asio::use_future);
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && server.accepted() == 0; ++i) std::this_thread::sleep_for(2ms);
    return server.accepted() == 1;
  }());
  auto waiting = asio::co_spawn(loop.io(), client.send(get(server.url(), 200ms)), asio::use_future);
  std::this_thread::sleep_for(50ms);
  // A third one finds the waiting list full.
  EXPECT_EQ(loop.run(client.send(get(server.url(), 200ms))).first, Error::too_many_pending);
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiting.get().first, Error::timed_out);
  ASSERT_EQ(busy.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(busy.get().first, Error::timed_out);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClient, StalePooledConnectionIsRetriedOnce) {
  // The server closes after each response without saying so (as servers do with idle keep-alive connections).
  TestServer server([](ServerConn& c) {
    if (auto req = c.read_request()) c.write(testing::response(200, "fresh"));
  });
  Loop loop;
  Client client(loop.io().get_executor());
  for (int i = 0; i < 3; ++i) {
    auto [ec, resp] = loop.run(client.send(get(server.url())));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(resp.body, "fresh");
    std::this_thread::sleep_for(20ms);  // let the close arrive
  }
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(client.stats().stale_retries, 2u);
}

TEST(HttpClient, CancellationThroughTheCallersSlot) {
  TestServer server([](ServerConn& c) {
    c.read_request();
    c.wait_peer_close(10s);
  });
  Loop loop;
  Client client(loop.io().get_executor());
  auto strand = asio::make_strand(loop.io());
  asio::cancellation_signal signal;
  std::promise<Result> done;
  auto future = done.get_future();
  auto on_done = [&done](std::exception_ptr e, Result r) {
    if (e) r.first = std::make_error_code(std::errc::io_error);
    done.set_value(std::move(r));
  };
  asio::co_spawn(strand, client.send(get(server.url(), 10s)), asio::bind_cancellation_slot(signal.slot(), on_done));
  for (int i = 0; i < 500 && server.accepted() == 0; ++i) std::this_thread::sleep_for(2ms);
  std::this_thread::sleep_for(20ms);
  const auto start = Clock::now();
  asio::post(strand, [&signal] { signal.emit(asio::cancellation_type::terminal); });
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future.get().first, asio::error::operation_aborted);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(HttpClient, StreamDeliversChunksUntilTheServerEnds) {
  TestServer server([](ServerConn& c) {
    if (!c.read_request()) return;
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; ++i) {
      const std::string line = "{\"n\":" + std::to_string(i) + "}\n";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", line.size());
      c.write(size + line + "\r\n");
      c.sleep_for(10ms);
    }
    c.write("0\r\n\r\n");
    c.wait_peer_close(2s);
  });
  Loop loop;
  Client client(loop.io().get_executor());
  std::string got;
  int calls = 0;
  auto on_data = [&](std::string_view piece) {
    got.append(piece);
    ++calls;
    return true;
  };
  auto [ec, head] = loop.run(client.stream(get(server.url("/v3/watch"), 5s), on_data));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(got, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
  EXPECT_GE(calls, 5);
}

// A server that streams forever, one line every 5 ms (bounded by the server's stop and 2000 lines).
void endless_stream(ServerConn& c) {
  if (!c.read_request()) return;
  if (!c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
  for (int i = 0; i < 2000; ++i) {
    if (!c.write("6\r\nevent\n\r\n") || !c.sleep_for(5ms)) return;
  }
}

TEST(HttpClient, StreamStopsWhenTheCallbackSaysSo) {
  TestServer server(endless_stream);
  Loop loop;
  Client client(loop.io().get_executor());
  std::string got;
  auto on_data = [&](std::string_view piece) {
    got.append(piece);
    return got.size() < 18;
  };
  auto [ec, head] = loop.run(client.stream(get(server.url(), 5s), on_data));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_GE(got.size(), 18u);
  EXPECT_LT(got.size(), 200u);
}

TEST(HttpClient, StreamEndsAtTheDeadlineAndOnShutdown) {
  TestServer server(endless_stream);
  Loop loop;
  Client client(loop.io().get_executor());
  std::atomic<int> pieces{0};
  auto count = [&](std::string_view) {
    ++pieces;
    return true;
  };
  auto [ec, head] = loop.run(client.stream(get(server.url(), 200ms), count));
  EXPECT_EQ(ec, Error::timed_out);
  EXPECT_GT(pieces.load(), 0);

  Request forever = get(server.url());
  forever.deadline = Clock::time_point::max();
  auto future = asio::co_spawn(loop.io(), client.stream(forever, count), asio::use_future);
  for (int i = 0; i < 500 && pieces.load() < 20; ++i) std::this_thread::sleep_for(2ms);
  client.shutdown();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future.get().first, Error::shut_down);
  EXPECT_EQ(loop.run(client.send(get(server.url()))).first, Error::shut_down);
}

TEST(HttpClient, StreamWithErrorStatusCollectsTheBody) {
  TestServer server(testing::answer_all(404, "no such thing"));
  Loop loop;
  Client client(loop.io().get_executor());
  bool called = false;
  auto on_data = [&](std::string_view) {
    called = true;
    return true;
  };
  auto [ec, head] = loop.run(client.stream(get(server.url()), on_data));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.body, "no such thing");
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace floe::http
