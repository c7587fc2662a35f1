// Internal: the text rules of HTTP/1.1 message heads (case-insensitive names, token lists, decimal lengths) and the
// parser of a response's status line and header lines. Pure functions, no I/O; used by client.cc and connection.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/client.h"

namespace floe::http::detail {

// ASCII case-insensitive equality (header names, transfer codings).
bool iequals(std::string_view a, std::string_view b);
// True if the comma-separated list `value` contains `token` (case-insensitive), e.g. Connection: keep-alive, close.
bool has_token(std::string_view value, std::string_view token);
// `s` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);
// True if `s` holds CR, LF or NUL (never allowed in a header the client sends).
bool has_ctl(std::string_view s);
// The first header named `name` (case-insensitive), or null.
const std::string* find_header(const Headers& headers, std::string_view name);
// A Content-Length style decimal (surrounding blanks allowed, at most 18 digits).
bool parse_decimal(std::string_view text, uint64_t& out);
// Status line and header lines (the head without its final empty line). Returns false on malformed input.
bool parse_head(std::string_view head, Response& resp, int& minor_version);

}  // namespace floe::http::detail
