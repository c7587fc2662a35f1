// A blocking HTTP/1.1 GET for short-lived tools (floe cost reading /metrics): one request per connection
// (Connection: close), every connect, write and read bounded by poll(2) against one deadline, the body capped.
// Loopback or any reachable address; no TLS, no redirects, no chunked bodies (the admin endpoint sends
// Content-Length).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "base/result.h"

namespace floe::cost {

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// `host_port` is "host:port" or "[v6]:port".
Result<HttpGetResult> http_get(const std::string& host_port, const std::string& path, std::chrono::milliseconds timeout,
                               std::size_t max_body_bytes = 64u << 20);

}  // namespace floe::cost
