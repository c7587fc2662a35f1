#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace floe::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool parse_level(std::string_view name, Level& out) {
  for (int i = 0; i < 4; ++i) {
    std::string_view n = kNames[i];
    if (name.size() == n.size()) {
      bool eq = true;
      for (size_t j = 0; j < n.size(); ++j) eq = eq && (name[j] == n[j] || name[j] == n[j] + ('a' - 'A'));
      if (eq) {
        out = static_cast<Level>(i);
        return true;
      }
    }
  }
  return false;
}

namespace {
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\\': out.append("\\\\"); break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out.append("\\x").push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
}
}  // namespace

std::string format_line(Level l, std::string_view component, std::string_view message, long long unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  std::string line;
  line.reserve(64 + component.size() + message.size());
  line.append(ts).append(" ").append(kNames[static_cast<int>(l)]).append(" ");
  append_escaped(line, component);
  line.append(": ");
  append_escaped(line, message);
  line.push_back('\n');
  return line;
}

void write(Level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto unix_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string line = format_line(l, component, message, static_cast<long long>(unix_ms));
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace floe::log
