// HTTP/1.1 request parsing and response formatting for the admin endpoint: GET requests without a body, nothing
// else. Pure functions over bytes (no I/O), so hostile input is tested without sockets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace floe::admin {

struct HttpLimits {
  std::size_t max_request_bytes = 8192;  // request line + headers (+ the blank line)
  std::size_t max_headers = 64;
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent (origin-form, starts with '/')
  std::string path;    // target without ?query / #fragment
  int minor_version = 1;  // HTTP/1.<minor>
  bool keep_alive = true;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
};

struct ParseResult {
  enum class Kind { incomplete, complete, error };
  Kind kind = Kind::incomplete;
  std::size_t consumed = 0;  // complete: bytes of this request (the next one, if pipelined, starts there)
  int status = 0;            // error: the status to answer with (400, 405, 431, 505), then close
  std::string reason;        // error: one line for the body and the log
};

// Parses the request at the start of `data`. Incomplete while the head has not ended and fits the limits; an error
// as soon as what arrived cannot become a valid GET request (so junk is answered without waiting for more).
// Empty lines before the request line are skipped (RFC 9112 2.2); a bare LF ends a line like CRLF does.
ParseResult parse_request(std::string_view data, const HttpLimits& limits, HttpRequest& out);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow

  static HttpResponse text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

std::string_view reason_phrase(int status);
// Status line and headers (Content-Type, Content-Length, Connection, extras), ending with the blank line.
std::string format_response_head(const HttpResponse& response, bool keep_alive);

}  // namespace floe::admin
