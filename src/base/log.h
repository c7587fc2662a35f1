// Minimal structured logging: one line per event on stderr, `ts level component: message`.
// Thread-safe (one write(2) per line). The level is process-wide and set once at start-up.
// A message never spans lines: newlines, other control bytes and backslashes in it are escaped (\n, \r, \t,
// \\, \xNN), so a log shipper that splits on newlines sees one event per line whatever a client sent.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace floe::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view name, Level& out);
void write(Level level, std::string_view component, std::string_view message);

// The line `write` emits (with its trailing newline), for a time given in milliseconds since the Unix epoch.
std::string format_line(Level level, std::string_view component, std::string_view message, long long unix_ms);

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

template <typename... Args>
void debug(std::string_view component, const Args&... args) {
  if (level() <= Level::debug) write(Level::debug, component, detail::concat(args...));
}
template <typename... Args>
void info(std::string_view component, const Args&... args) {
  if (level() <= Level::info) write(Level::info, component, detail::concat(args...));
}
template <typename... Args>
void warn(std::string_view component, const Args&... args) {
  if (level() <= Level::warn) write(Level::warn, component, detail::concat(args...));
}
template <typename... Args>
void error(std::string_view component, const Args&... args) {
  write(Level::error, component, detail::concat(args...));
}

}  // namespace floe::log
