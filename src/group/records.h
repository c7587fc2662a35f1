// The records the group coordinator keeps in its __consumer_offsets partitions. Floe's own byte layouts (only Floe
// reads them), modelled on Kafka's OffsetCommitKey/Value and GroupMetadataKey/Value, plus a snapshot record that
// holds the whole durable state of one partition so that loading starts at the latest snapshot.
//
// Every integer is big-endian. str = int16 length + UTF-8; nstr = the same with length -1 for null;
// bytes = int32 length + data. A record is a key and a value; a missing value is a tombstone.
//
//   key (all types)        +---------------+-------- ... ---------+
//                          | int16 type    | type-specific fields |
//                          +---------------+-------- ... ---------+
//     type 1 OffsetCommitKey:   str group | str topic | int32 partition
//     type 2 GroupMetadataKey:  str group
//     type 3 SnapshotKey:       (nothing)  -- Floe only; never a tombstone
//
//   OffsetCommitValue (version 1)
//     +-------------+--------------+--------------------+---------------+------------------+------------------+
//     | int16 ver=1 | int64 offset | int32 leader_epoch | nstr metadata | int64 commit_ts  | int64 expire_ts  |
//     +-------------+--------------+--------------------+---------------+------------------+------------------+
//     expire_ts -1: no explicit expiry (the broker's retention applies).
//
//   GroupMetadataValue (version 1)
//     | int16 ver=1 | str protocol_type | int32 generation | nstr protocol | nstr leader | int64 state_ts |
//     | int32 member count | members... |
//     member: | str member_id | nstr instance_id | str client_id | str client_host | int32 rebalance_timeout_ms |
//             | int32 session_timeout_ms | bytes subscription | bytes assignment |
//
//   SnapshotValue (version 1)
//     | int16 ver=1 | int32 group count | groups... |
//     group: | str group | int8 has_metadata | [GroupMetadataValue as bytes] | int32 offset count | offsets... |
//     offset: | str topic | int32 partition | OffsetCommitValue as bytes |
//
// Timestamps are milliseconds of the coordinator's clock (wall clock in production).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/wire.h"

namespace floe::group {

using proto::Bytes;

// One record of a __consumer_offsets partition. `value` empty: a tombstone.
struct GroupRecord {
  Bytes key;
  std::optional<Bytes> value;
  bool operator==(const GroupRecord&) const = default;
};

struct OffsetValue {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
  int64_t commit_ts = 0;
  int64_t expire_ts = -1;
  bool operator==(const OffsetValue&) const = default;
};

struct MemberValue {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  Bytes subscription;  // the member's metadata for the group's protocol
  Bytes assignment;
  bool operator==(const MemberValue&) const = default;
};

struct GroupMetadataValue {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t state_ts = 0;
  std::vector<MemberValue> members;
  bool operator==(const GroupMetadataValue&) const = default;
};

using TopicPartition = std::pair<std::string, int32_t>;

// What the log says about one group: its last stored metadata (if any) and its committed offsets.
struct DurableGroup {
  std::optional<GroupMetadataValue> metadata;
  std::map<TopicPartition, OffsetValue> offsets;
  bool operator==(const DurableGroup&) const = default;
};

// The durable state of one partition, by group id (ordered, so encodings are deterministic).
using DurableState = std::map<std::string, DurableGroup>;

enum class KeyType : int16_t { offset_commit = 1, group_metadata = 2, snapshot = 3 };

struct DecodedKey {
  KeyType type = KeyType::snapshot;
  std::string group;
  std::string topic;
  int32_t partition = 0;
};

Bytes offset_commit_key(const std::string& group, const std::string& topic, int32_t partition);
Bytes group_metadata_key(const std::string& group);
Bytes snapshot_key();
Bytes encode(const OffsetValue& v);
Bytes encode(const GroupMetadataValue& v);
Bytes encode_snapshot(const DurableState& state);

std::optional<DecodedKey> decode_key(proto::ByteSpan key);
std::optional<OffsetValue> decode_offset_value(proto::ByteSpan value);
std::optional<GroupMetadataValue> decode_group_metadata(proto::ByteSpan value);
std::optional<DurableState> decode_snapshot(proto::ByteSpan value);

// Applies one record to `state` as loading does. False when the record does not decode (it is then ignored).
bool apply(DurableState& state, const GroupRecord& record);

}  // namespace floe::group
