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

void write(Level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(64 + message.size());
  line.append(ts).append(" ").append(kNames[static_cast<int>(l)]).append(" ");
  line.append(component).append(": ").append(message).append("\n");
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace floe::log
