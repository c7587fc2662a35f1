#include "group/records.h"

namespace floe::group {
namespace {

constexpr int16_t kValueVersion = 1;

void write_member(proto::Writer& w, const MemberValue& m) {
  w.string(m.member_id, false);
  w.nullable_string(m.instance_id, false);
  w.string(m.client_id, false);
  w.string(m.client_host, false);
  w.i32(m.rebalance_timeout_ms);
  w.i32(m.session_timeout_ms);
  w.bytes(m.subscription, false);
  w.bytes(m.assignment, false);
}

bool read_member(proto::Reader& r, MemberValue& m) {
  m.member_id = r.string(false);
  m.instance_id = r.nullable_string(false);
  m.client_id = r.string(false);
  m.client_host = r.string(false);
  m.rebalance_timeout_ms = r.i32();
  m.session_timeout_ms = r.i32();
  m.subscription = r.bytes(false);
  m.assignment = r.bytes(false);
  return r.ok();
}

}  // namespace

Bytes offset_commit_key(const std::string& group, const std::string& topic, int32_t partition) {
  Bytes out;
  proto::Writer w(out);
  w.i16(static_cast<int16_t>(KeyType::offset_commit));
  w.string(group, false);
  w.string(topic, false);
  w.i32(partition);
  return out;
}

Bytes group_metadata_key(const std::string& group) {
  Bytes out;
  proto::Writer w(out);
  w.i16(static_cast<int16_t>(KeyType::group_metadata));
  w.string(group, false);
  return out;
}

Bytes snapshot_key() {
  Bytes out;
  proto::Writer w(out);
  w.i16(static_cast<int16_t>(KeyType::snapshot));
  return out;
}

Bytes encode(const OffsetValue& v) {
  Bytes out;
  proto::Writer w(out);
  w.i16(kValueVersion);
  w.i64(v.offset);
  w.i32(v.leader_epoch);
  w.nullable_string(v.metadata, false);
  w.i64(v.commit_ts);
  w.i64(v.expire_ts);
  return out;
}

Bytes encode(const GroupMetadataValue& v) {
  Bytes out;
  proto::Writer w(out);
  w.i16(kValueVersion);
  w.string(v.protocol_type, false);
  w.i32(v.generation);
  w.nullable_string(v.protocol, false);
  w.nullable_string(v.leader, false);
  w.i64(v.state_ts);
  w.i32(static_cast<int32_t>(v.members.size()));
  for (const auto& m : v.members) write_member(w, m);
  return out;
}

Bytes encode_snapshot(const DurableState& state) {
  Bytes out;
  proto::Writer w(out);
  w.i16(kValueVersion);
  w.i32(static_cast<int32_t>(state.size()));
  for (const auto& [id, g] : state) {
    w.string(id, false);
    w.i8(g.metadata ? 1 : 0);
    if (g.metadata) w.bytes(encode(*g.metadata), false);
    w.i32(static_cast<int32_t>(g.offsets.size()));
    for (const auto& [tp, v] : g.offsets) {
      w.string(tp.first, false);
      w.i32(tp.second);
      w.bytes(encode(v), false);
    }
  }
  return out;
}

std::optional<DecodedKey> decode_key(proto::ByteSpan key) {
  proto::Reader r(key);
  DecodedKey k;
  int16_t type = r.i16();
  switch (type) {
    case static_cast<int16_t>(KeyType::offset_commit):
      k.type = KeyType::offset_commit;
      k.group = r.string(false);
      k.topic = r.string(false);
      k.partition = r.i32();
      break;
    case static_cast<int16_t>(KeyType::group_metadata):
      k.type = KeyType::group_metadata;
      k.group = r.string(false);
      break;
    case static_cast<int16_t>(KeyType::snapshot):
      k.type = KeyType::snapshot;
      break;
    default:
      return std::nullopt;
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return k;
}

std::optional<OffsetValue> decode_offset_value(proto::ByteSpan value) {
  proto::Reader r(value);
  if (r.i16() != kValueVersion) return std::nullopt;
  OffsetValue v;
  v.offset = r.i64();
  v.leader_epoch = r.i32();
  v.metadata = r.nullable_string(false);
  v.commit_ts = r.i64();
  v.expire_ts = r.i64();
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return v;
}

std::optional<GroupMetadataValue> decode_group_metadata(proto::ByteSpan value) {
  proto::Reader r(value);
  if (r.i16() != kValueVersion) return std::nullopt;
  GroupMetadataValue v;
  v.protocol_type = r.string(false);
  v.generation = r.i32();
  v.protocol = r.nullable_string(false);
  v.leader = r.nullable_string(false);
  v.state_ts = r.i64();
  int32_t n = r.array_length(false, 22);
  if (!r.ok() || n < 0) return std::nullopt;
  v.members.resize(static_cast<size_t>(n));
  for (auto& m : v.members) {
    if (!read_member(r, m)) return std::nullopt;
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return v;
}

std::optional<DurableState> decode_snapshot(proto::ByteSpan value) {
  proto::Reader r(value);
  if (r.i16() != kValueVersion) return std::nullopt;
  DurableState state;
  int32_t groups = r.array_length(false, 7);
  if (!r.ok() || groups < 0) return std::nullopt;
  for (int32_t i = 0; i < groups; ++i) {
    std::string id = r.string(false);
    DurableGroup g;
    if (r.i8() != 0) {
      Bytes meta = r.bytes(false);
      if (!r.ok()) return std::nullopt;
      auto m = decode_group_metadata(meta);
      if (!m) return std::nullopt;
      g.metadata = std::move(*m);
    }
    int32_t offsets = r.array_length(false, 10);
    if (!r.ok() || offsets < 0) return std::nullopt;
    for (int32_t k = 0; k < offsets; ++k) {
      std::string topic = r.string(false);
      int32_t partition = r.i32();
      Bytes ov = r.bytes(false);
      if (!r.ok()) return std::nullopt;
      auto o = decode_offset_value(ov);
      if (!o) return std::nullopt;
      g.offsets[{std::move(topic), partition}] = std::move(*o);
    }
    state[std::move(id)] = std::move(g);
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return state;
}

bool apply(DurableState& state, const GroupRecord& record) {
  auto key = decode_key(record.key);
  if (!key) return false;
  switch (key->type) {
    case KeyType::snapshot: {
      if (!record.value) return false;
      auto s = decode_snapshot(*record.value);
      if (!s) return false;
      state = std::move(*s);
      return true;
    }
    case KeyType::offset_commit: {
      TopicPartition tp{key->topic, key->partition};
      if (!record.value) {
        auto it = state.find(key->group);
        if (it == state.end()) return true;
        it->second.offsets.erase(tp);
        if (!it->second.metadata && it->second.offsets.empty()) state.erase(it);
        return true;
      }
      auto v = decode_offset_value(*record.value);
      if (!v) return false;
      state[key->group].offsets[tp] = std::move(*v);
      return true;
    }
    case KeyType::group_metadata: {
      if (!record.value) {
        auto it = state.find(key->group);
        if (it == state.end()) return true;
        it->second.metadata.reset();
        if (it->second.offsets.empty()) state.erase(it);
        return true;
      }
      auto v = decode_group_metadata(*record.value);
      if (!v) return false;
      state[key->group].metadata = std::move(*v);
      return true;
    }
  }
  return false;
}

}  // namespace floe::group
