// URL parsing for the HTTP client: scheme://host[:port][/path][?query]. No userinfo, no fragment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace floe::http {

struct Url {
  std::string scheme;  // lower case: "http" (or "https", which the client refuses today)
  std::string host;    // without brackets for IPv6 literals
  uint16_t port = 0;   // explicit or the scheme's default (80, 443)
  bool explicit_port = false;
  std::string target;  // path + "?" + query exactly as given; "/" when empty

  // "host" or "host:port" (port only when explicit), IPv6 literals bracketed: the Host header value.
  std::string authority() const;
  // "host:port" always: the key of the connection pool.
  std::string host_port() const;
};

// nullopt when the URL is malformed (no scheme, empty host, bad port, a fragment, characters below 0x21).
std::optional<Url> parse_url(std::string_view url);

}  // namespace floe::http
