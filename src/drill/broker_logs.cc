#include "drill/broker_logs.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

namespace floe::drill {
namespace {

constexpr std::string_view kMarker = "controller: broker epoch ";
constexpr std::string_view kResumed = "its seal is recorded";

std::vector<std::string> broker_logs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("broker-") && name.ends_with(".log")) out.push_back(entry.path().string());
  }
  return out;
}

}  // namespace

std::vector<FailedEpoch> parse_failed_epochs(std::string_view text) {
  std::vector<FailedEpoch> out;
  std::set<std::pair<int, int64_t>> seen;
  for (std::size_t at = text.find(kMarker); at != std::string_view::npos; at = text.find(kMarker, at + 1)) {
    const std::size_t eol = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at + kMarker.size(), eol - at - kMarker.size());
    FailedEpoch f;
    const char* p = line.data();
    const char* end = line.data() + line.size();
    auto r = std::from_chars(p, end, f.broker);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != '/') continue;
    r = std::from_chars(r.ptr + 1, end, f.epoch);
    constexpr std::string_view kFailed = " failed: ";
    if (r.ec != std::errc() || std::string_view(r.ptr, end - r.ptr).substr(0, kFailed.size()) != kFailed) continue;
    f.why = std::string(r.ptr + kFailed.size(), end);
    if (seen.insert({f.broker, f.epoch}).second) {
      out.push_back(std::move(f));
    } else if (f.why != kResumed) {
      // A controller that took over repeats the epoch as "its seal is recorded": keep the first reason given.
      for (auto& kept : out) {
        if (kept.broker == f.broker && kept.epoch == f.epoch && kept.why == kResumed) kept.why = f.why;
      }
    }
  }
  return out;
}

void BrokerLogCursor::skip_to_end() {
  for (const auto& path : broker_logs(work_dir_)) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) offsets_[path] = size;
  }
}

std::string BrokerLogCursor::read_new(std::size_t max_bytes) {
  std::string out;
  for (const auto& path : broker_logs(work_dir_)) {
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) continue;
    uint64_t& offset = offsets_[path];  // a file that is new since skip_to_end() is read from its start
    if (size < offset) offset = 0;     // truncated: read again
    uint64_t from = offset;
    if (size - from > max_bytes) from = size - max_bytes;
    std::ifstream f(path, std::ios::binary);
    if (!f) continue;
    f.seekg(static_cast<std::streamoff>(from));
    std::string chunk(static_cast<std::size_t>(size - from), '\0');
    f.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<std::size_t>(f.gcount()));
    out += chunk;
    if (!out.empty() && out.back() != '\n') out += '\n';
    offset = size;
  }
  return out;
}

}  // namespace floe::drill
