#include "admin/http.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace floe::admin {
namespace {

using Kind = ParseResult::Kind;

ParseResult parse(std::string_view text, HttpRequest* out = nullptr, HttpLimits limits = {}) {
  HttpRequest req;
  ParseResult r = parse_request(text, limits, req);
  if (out) *out = req;
  return r;
}

TEST(HttpParse, SimpleGet) {
  HttpRequest req;
  const std::string text = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\n";
  auto r = parse(text, &req);
  ASSERT_EQ(r.kind, Kind::complete) << r.reason;
  EXPECT_EQ(r.consumed, text.size());
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/metrics?x=1");
  EXPECT_EQ(req.path, "/metrics");
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(req.headers.size(), 2u);
  EXPECT_EQ(req.headers[1].first, "accept");
  EXPECT_EQ(req.headers[1].second, "text/plain");
}

TEST(HttpParse, PipelinedRequestsAreConsumedOneByOne) {
  const std::string one = "GET /a HTTP/1.1\r\n\r\n";
  const std::string two = "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
  HttpRequest req;
  auto r = parse(one + two, &req);
  ASSERT_EQ(r.kind, Kind::complete);
  EXPECT_EQ(r.consumed, one.size());
  EXPECT_EQ(req.path, "/a");
  r = parse(std::string_view(one + two).substr(r.consumed), &req);
  ASSERT_EQ(r.kind, Kind::complete);
  EXPECT_EQ(req.path, "/b");
  EXPECT_FALSE(req.keep_alive);
}

TEST(HttpParse, IncompleteUntilTheBlankLine) {
  const std::string text = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(parse(text.substr(0, n)).kind, Kind::incomplete) << n;
  }
  EXPECT_EQ(parse(text).kind, Kind::complete);
}

TEST(HttpParse, LenientLineEndsAndLeadingBlankLines) {
  HttpRequest req;
  EXPECT_EQ(parse("\r\n\nGET / HTTP/1.1\nHost: x\n\n", &req).kind, Kind::complete);
  EXPECT_EQ(req.path, "/");
}

TEST(HttpParse, KeepAliveRules) {
  HttpRequest req;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", &req).kind, Kind::complete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req).kind, Kind::complete);
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: foo, CLOSE\r\n\r\n", &req).kind, Kind::complete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req).kind, Kind::complete);
}

TEST(HttpParse, HostileInputGetsOneClearStatus) {
  struct Case {
    std::string text;
    int status;
  };
  const Case cases[] = {
      {"hello\r\n", 400},
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 13), 400},  // TLS ClientHello-ish
      {"GET /\r\n\r\n", 400},                                      // HTTP/0.9
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1 \r\n\r\n", 400},
      {"GET / HTTP/1.x\r\n\r\n", 400},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
      {std::string("GET /\0 HTTP/1.1\r\n\r\n", 19), 400},
      {"GET http://h/metrics HTTP/1.1\r\n\r\n", 400},
      {"GET * HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400},  // a body is refused before the method
      {"POST /metrics HTTP/1.1\r\n\r\n", 405},
      {"HEAD /metrics HTTP/1.1\r\n\r\n", 405},
      {"DELETE / HTTP/1.1\r\n\r\n", 405},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", 431},
      {"GET /" + std::string(9000, 'a'), 431},  // no line end within the limit
      {std::string(9000, '\n'), 431},           // endless blank lines
  };
  for (const auto& c : cases) {
    auto r = parse(c.text);
    EXPECT_EQ(r.kind, Kind::error) << c.text.substr(0, 60);
    EXPECT_EQ(r.status, c.status) << c.text.substr(0, 60) << " -> " << r.reason;
    EXPECT_FALSE(r.reason.empty());
  }
}

TEST(HttpParse, TooManyHeaders) {
  std::string text = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  text += "\r\n";
  auto r = parse(text);
  EXPECT_EQ(r.kind, Kind::error);
  EXPECT_EQ(r.status, 431);
  HttpLimits roomy;
  roomy.max_headers = 100;
  EXPECT_EQ(parse(text, nullptr, roomy).kind, Kind::complete);
}

TEST(HttpParse, RandomAndMutatedBytesNeverEscapeTheLimits) {
  std::mt19937_64 rng(12345);
  const std::string valid = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9644\r\nAccept: */*\r\n\r\n";
  HttpLimits limits;
  limits.max_request_bytes = 512;
  int complete = 0, errors = 0, incomplete = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string text;
    if (i % 2) {
      text = valid;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) text[rng() % text.size()] = static_cast<char>(rng() & 0xFF);
    } else {
      text.resize(rng() % 700);
      for (char& c : text) c = static_cast<char>(rng() & 0xFF);
    }
    HttpRequest req;
    auto r = parse_request(text, limits, req);
    switch (r.kind) {
      case Kind::complete:
        ++complete;
        ASSERT_GT(r.consumed, 0u);
        ASSERT_LE(r.consumed, std::min(text.size(), limits.max_request_bytes));
        ASSERT_EQ(req.method, "GET");
        ASSERT_EQ(req.path.front(), '/');
        break;
      case Kind::error:
        ++errors;
        ASSERT_TRUE(r.status == 400 || r.status == 405 || r.status == 431 || r.status == 505) << r.status;
        break;
      case Kind::incomplete:
        ++incomplete;
        ASSERT_LT(text.size(), limits.max_request_bytes);
        break;
    }
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(errors, 0);
  EXPECT_GT(incomplete, 0);
}

TEST(HttpParse, ResponseHead) {
  HttpResponse r = HttpResponse::text(405, "no\n");
  r.headers.emplace_back("Allow", "GET");
  EXPECT_EQ(format_response_head(r, false),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\nAllow: GET\r\n\r\n");
}

}  // namespace
}  // namespace floe::admin
