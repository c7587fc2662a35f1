#include "cluster/cluster_keys.h"

#include <charconv>
#include <cstdio>

namespace floe::cluster {
namespace {

proto::Reader reader_of(std::string_view v) {
  return proto::Reader(proto::ByteSpan(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}
std::string to_string(const proto::Bytes& b) { return std::string(b.begin(), b.end()); }

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

std::string ClusterKeys::epoch(int32_t id, int64_t epoch) const {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(epoch));
  return epochs_of(id) + buf;
}

std::string ClusterKeys::assignment(std::string_view topic, int32_t partition) const {
  return assignments_prefix() + std::string(topic) + "/" + std::to_string(partition);
}

std::string encode_broker(const BrokerInfo& b) {
  proto::Bytes out;
  out.reserve(64);  // (also keeps GCC 12's -Warray-bounds false positive on vector growth away)
  proto::Writer w(out);
  w.i8(1);
  w.string(b.host, false);
  w.i32(b.port);
  w.nullable_string(b.rack, false);
  w.string(b.http, false);
  return to_string(out);
}

std::optional<BrokerInfo> decode_broker(std::string_view value) {
  auto r = reader_of(value);
  if (r.i8() != 1) return std::nullopt;
  BrokerInfo b;
  b.host = r.string(false);
  b.port = r.i32();
  b.rack = r.nullable_string(false);
  b.http = r.string(false);
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return b;
}

std::string encode_controller(const ControllerRecord& c) {
  proto::Bytes out;
  out.reserve(64);  // (also keeps GCC 12's -Warray-bounds false positive on vector growth away)
  proto::Writer w(out);
  w.i8(1);
  w.i32(c.broker_id);
  w.string(c.heartbeat, false);
  return to_string(out);
}

std::optional<ControllerRecord> decode_controller(std::string_view value) {
  auto r = reader_of(value);
  if (r.i8() != 1) return std::nullopt;
  ControllerRecord c;
  c.broker_id = r.i32();
  c.heartbeat = r.string(false);
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return c;
}

std::string encode_assignment(const Assignment& a) {
  proto::Bytes out;
  out.reserve(64);  // (also keeps GCC 12's -Warray-bounds false positive on vector growth away)
  proto::Writer w(out);
  const bool handoff = a.handoff_cause != HandoffCause::none;
  w.i8(handoff ? 2 : 1);
  w.uuid(a.topic_id);
  w.i32(a.broker_id);
  w.i64(a.broker_epoch);
  w.i32(a.leader_epoch);
  w.i8(a.released ? 1 : 0);
  w.i32(a.move_target.value_or(-1));
  if (handoff) {
    w.i8(static_cast<int8_t>(a.handoff_cause));
    w.i64(a.handoff_since_ms);
  }
  return to_string(out);
}

std::optional<Assignment> decode_assignment(std::string_view value) {
  auto r = reader_of(value);
  const int8_t version = r.i8();
  if (version != 1 && version != 2) return std::nullopt;
  Assignment a;
  a.topic_id = r.uuid();
  a.broker_id = r.i32();
  a.broker_epoch = r.i64();
  a.leader_epoch = r.i32();
  int8_t state = r.i8();
  int32_t target = r.i32();
  if (version == 2) {
    const int8_t cause = r.i8();
    if (cause != 1 && cause != 2) return std::nullopt;
    a.handoff_cause = static_cast<HandoffCause>(cause);
    a.handoff_since_ms = r.i64();
  }
  if (!r.ok() || !r.at_end() || (state != 0 && state != 1)) return std::nullopt;
  a.released = state == 1;
  if (target >= 0) a.move_target = target;
  return a;
}

std::optional<int32_t> parse_broker_id(std::string_view s) { return parse_number<int32_t>(s); }

std::optional<std::pair<int32_t, int64_t>> parse_epoch_suffix(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto id = parse_number<int32_t>(s.substr(0, slash));
  auto epoch = parse_number<int64_t>(s.substr(slash + 1));
  if (!id || !epoch) return std::nullopt;
  return std::pair{*id, *epoch};
}

std::optional<std::pair<std::string, int32_t>> parse_assignment_suffix(std::string_view s) {
  auto slash = s.rfind('/');  // topic names cannot hold '/', but be strict about the partition
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  auto p = parse_number<int32_t>(s.substr(slash + 1));
  if (!p) return std::nullopt;
  return std::pair{std::string(s.substr(0, slash)), *p};
}

std::optional<WalMarkerKey> parse_wal_marker(std::string_view s) {
  auto a = s.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = s.find('/', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::string_view leaf = s.substr(b + 1);
  if (leaf != "sealing" && leaf != "seal") return std::nullopt;
  auto id = parse_number<int32_t>(s.substr(0, a));
  auto epoch = parse_number<int64_t>(s.substr(a + 1, b - a - 1));
  if (!id || !epoch) return std::nullopt;
  return WalMarkerKey{*id, *epoch, leaf == "seal"};
}

}  // namespace floe::cluster
