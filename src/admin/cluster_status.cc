#include "admin/cluster_status.h"

#include <cstdio>

namespace floe::admin {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when the byte there does not start one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  if (n == 2 && b < 0xc2) return 0;  // overlong
  return n;
}

void append_int(std::string& out, int64_t v) { out += std::to_string(v); }
void append_opt(std::string& out, const std::optional<int64_t>& v) { out += v ? std::to_string(*v) : "null"; }
const char* bool_text(bool b) { return b ? "true" : "false"; }

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
      ++i;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
      ++i;
    } else if (std::size_t n = utf8_length(text, i); n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD for a byte that is not valid UTF-8
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string to_json(const ClusterStatus& s) {
  std::string out = "{\"cluster_id\":" + json_string(s.cluster_id) + ",\"mode\":" + json_string(s.mode) +
                    ",\"self\":";
  append_int(out, s.self);
  out += ",\"brokers\":[";
  for (std::size_t i = 0; i < s.brokers.size(); ++i) {
    const BrokerStatus& b = s.brokers[i];
    if (i > 0) out += ',';
    out += "{\"node_id\":";
    append_int(out, b.node_id);
    out += ",\"host\":" + json_string(b.host) + ",\"port\":";
    append_int(out, b.port);
    out += ",\"rack\":" + (b.rack ? json_string(*b.rack) : std::string("null"));
    out += ",\"state\":" + json_string(b.state);
    if (b.epoch) out += ",\"epoch\":" + std::to_string(*b.epoch);
    if (b.controller) out += std::string(",\"controller\":") + bool_text(*b.controller);
    out += '}';
  }
  out += "],\"partitions\":[";
  for (std::size_t i = 0; i < s.partitions.size(); ++i) {
    const PartitionStatus& p = s.partitions[i];
    if (i > 0) out += ',';
    out += "\n{\"topic\":" + json_string(p.topic) + ",\"partition\":";
    append_int(out, p.partition);
    out += ",\"leader\":";
    append_int(out, p.leader);
    out += ",\"leader_epoch\":";
    append_int(out, p.leader_epoch);
    out += ",\"log_start_offset\":";
    append_opt(out, p.log_start_offset);
    out += ",\"high_watermark\":";
    append_opt(out, p.high_watermark);
    if (p.broker_epoch) {
      out += ",\"broker_epoch\":" + std::to_string(*p.broker_epoch);
      out += std::string(",\"released\":") + bool_text(p.released.value_or(false));
      out += ",\"move_target\":";
      append_opt(out, p.move_target ? std::optional<int64_t>(*p.move_target) : std::nullopt);
      out += std::string(",\"local\":") + bool_text(p.local.value_or(false));
    }
    out += '}';
  }
  out += ']';
  if (s.self_view) {
    const SelfView& v = *s.self_view;
    out += ",\"self_view\":{\"broker_epoch\":" + std::to_string(v.broker_epoch) +
           ",\"registered\":" + bool_text(v.registered) + ",\"controller\":" + bool_text(v.controller) +
           ",\"assigned_partitions\":" + std::to_string(v.assigned_partitions) +
           ",\"local_partitions\":" + std::to_string(v.local_partitions) +
           ",\"image_revision\":" + std::to_string(v.image_revision) + '}';
  }
  out += "}\n";
  return out;
}

}  // namespace floe::admin
