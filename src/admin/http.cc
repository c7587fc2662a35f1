#include "admin/http.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace floe::admin {
namespace {

bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// Field value characters: visible ASCII, space, tab, obs-text (>= 0x80). No other control characters.
bool valid_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult error(int status, std::string reason) {
  ParseResult r;
  r.kind = ParseResult::Kind::error;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

ParseResult too_large(const HttpLimits& limits) {
  return error(431, "request head larger than " + std::to_string(limits.max_request_bytes) + " bytes");
}

// Checks the request line; fills method, target, path, minor version. Empty result on success.
std::optional<ParseResult> parse_request_line(std::string_view line, HttpRequest& out) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return error(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return error(400, "malformed method");
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7F;
      })) {
    return error(400, "malformed request target");
  }
  if (version.size() != 8 || !version.starts_with("HTTP/") || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return error(400, "malformed HTTP version");
  }
  if (version[5] != '1') return error(505, "only HTTP/1.0 and HTTP/1.1 are served");
  out.method = std::string(method);
  out.target = std::string(target);
  out.minor_version = version[7] - '0';
  if (target.front() != '/') return error(400, "request target must be a path (origin-form)");
  out.path = std::string(target.substr(0, target.find_first_of("?#")));
  return std::nullopt;
}

}  // namespace

ParseResult parse_request(std::string_view data, const HttpLimits& limits, HttpRequest& out) {
  out = HttpRequest{};
  size_t pos = 0;
  bool have_request_line = false;
  while (true) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (data.size() >= limits.max_request_bytes) return too_large(limits);
      return ParseResult{};  // incomplete
    }
    if (nl + 1 > limits.max_request_bytes) return too_large(limits);
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (!have_request_line) {
      if (line.empty()) continue;  // leading empty lines
      if (auto err = parse_request_line(line, out)) return *err;
      have_request_line = true;
      continue;
    }
    if (line.empty()) break;  // end of the head
    if (line.front() == ' ' || line.front() == '\t') return error(400, "obsolete header line folding");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error(400, "malformed header line");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_token(name)) return error(400, "malformed header name");
    if (!valid_field_value(value)) return error(400, "control character in a header value");
    if (out.headers.size() >= limits.max_headers) {
      return error(431, "more than " + std::to_string(limits.max_headers) + " headers");
    }
    out.headers.emplace_back(lower(name), std::string(value));
  }

  // The head is complete: semantics.
  bool close = false, keep_alive_token = false;
  int content_lengths = 0;
  for (const auto& [name, value] : out.headers) {
    if (name == "connection") {
      std::string v = lower(value);
      std::string_view rest = v;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view token = trim_ows(rest.substr(0, comma));
        if (token == "close") close = true;
        if (token == "keep-alive") keep_alive_token = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (name == "content-length") {
      ++content_lengths;
      if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return error(400, "malformed Content-Length");
      }
      if (value.find_first_not_of('0') != std::string::npos) return error(400, "request bodies are not accepted");
    } else if (name == "transfer-encoding") {
      return error(400, "request bodies are not accepted");
    }
  }
  if (content_lengths > 1) return error(400, "more than one Content-Length");
  if (out.method != "GET") return error(405, "method " + out.method + " not allowed; only GET is served");
  out.keep_alive = out.minor_version == 0 ? keep_alive_token && !close : !close;
  ParseResult r;
  r.kind = ParseResult::Kind::complete;
  r.consumed = pos;
  return r;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string format_response_head(const HttpResponse& response, bool keep_alive) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(reason_phrase(response.status)) +
                     "\r\nContent-Type: " + response.content_type +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) +
                     "\r\nCache-Control: no-store\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n";
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  return head;
}

}  // namespace floe::admin
