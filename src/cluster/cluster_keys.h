// The cluster's metadata keys (DESIGN §5, §6) and the encodings of their values. Every key is under the cluster
// root (default "/floe/", configurable). Integers in values are big-endian; `str` is an i16 length + bytes
// (proto::Writer::string, non-compact); `nstr` is the same with length -1 for "absent".
//
//   <root>brokers/<id>              create-only, under the broker's lease. The broker epoch = its create revision.
//     +--------+-------------+----------+----------------------------+-------------+
//     | ver u8 | host (str)  | port i32 | rack (nstr)                | http (str)  |
//     |  (1)   |             |          |                            |             |
//     +--------+-------------+----------+----------------------------+-------------+
//   <root>epochs/<id>/<epoch>       created in the same txn as brokers/<id>, no lease: "this epoch may hold
//                                   partitions; it must be sealed or released before it is forgotten". Value: empty.
//                                   <epoch> is 20 zero-padded decimal digits (keys sort by epoch).
//   <root>controller                the election key, create-only under the controller's lease.
//     +--------+----------------+--------------------------+
//     | ver u8 | broker id i32  | heartbeat host:port (str)|
//     +--------+----------------+--------------------------+
//   <root>assignments/<topic>/<partition>   (partition: decimal, no padding)
//     +--------+-----------+------------------+------------------+--------------+---------+-----------------+
//     | ver u8 | topic id  | broker id i32    | broker epoch i64 | leader epoch | state i8| move target i32 |
//     |  (1)   | (16, uuid)|                  |                  |     i32      | 0 active| -1: none        |
//     |        |           |                  |                  |              | 1 rel'd |                 |
//     +--------+-----------+------------------+------------------+--------------+---------+-----------------+
//     Version 2 (written while the partition is changing owner) appends, after the move target:
//     +-------------------------------+----------------------------------+
//     | handoff cause i8              | handoff since i64                |
//     | 1 failover (its epoch sealed) | unix ms when the change began:   |
//     | 2 move (release requested)    | failure detected / move requested|
//     +-------------------------------+----------------------------------+
//     The new owner times "change began -> open here" from it (a metric; wall clocks of different hosts).
//   <root>drains/<id>               the broker's epoch being drained (decimal text). Written by drain(); while it
//                                   names the live epoch of broker <id>, the controller assigns nothing to it and
//                                   moves everything off it. Deleted by the controller once that epoch is gone.
//   <root>probes/<id>               empty, under the broker's lease: rewritten every few seconds to time the image's
//                                   watch (watch_probe.h); the image does not track it.
//   <root>topics/<name>             the topic catalog (topic_catalog.h).
//   <root>wal/<id>/<epoch>/...      the object WAL's keys (stream/object_wal.h); the image tracks only whether
//                                   "sealing" / "seal" exist (the epoch is being or was sealed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/wire.h"

namespace floe::cluster {

struct BrokerInfo {
  int32_t id = -1;
  int64_t epoch = 0;  // create revision of brokers/<id>
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
  std::string http;
  bool operator==(const BrokerInfo&) const = default;
};

enum class HandoffCause : int8_t { none = 0, failover = 1, move = 2 };

struct Assignment {
  std::string topic;
  int32_t partition = 0;
  int32_t broker_id = -1;
  int64_t broker_epoch = 0;
  int32_t leader_epoch = 0;
  bool released = false;
  std::optional<int32_t> move_target;
  int64_t mod_revision = 0;  // of the assignment key (0: not stored)
  proto::Uuid topic_id{};    // the topic this assignment was made for (a re-created topic has a new id)
  HandoffCause handoff_cause = HandoffCause::none;  // why the owner is changing (encoded as version 2)
  int64_t handoff_since_ms = 0;                     // unix ms when that change began
  bool operator==(const Assignment&) const = default;

  // This assignment given to a new owner epoch: leader epoch + 1 (DESIGN §6: every change of owner bumps it), not
  // released, no move pending, the handoff's cause and start recorded.
  Assignment handed_to(int32_t new_broker_id, int64_t new_broker_epoch, HandoffCause cause, int64_t since_ms) const {
    Assignment next = *this;
    next.broker_id = new_broker_id;
    next.broker_epoch = new_broker_epoch;
    next.leader_epoch = leader_epoch + 1;
    next.released = false;
    next.move_target.reset();
    next.handoff_cause = cause;
    next.handoff_since_ms = since_ms;
    return next;
  }
};

struct ControllerRecord {
  int32_t broker_id = -1;
  std::string heartbeat;   // host:port of the controller's heartbeat listener
  int64_t create_revision = 0;  // of the election key (not encoded: read from the key)
};

// Key names under one root.
class ClusterKeys {
 public:
  explicit ClusterKeys(std::string root = "/floe/") : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string brokers_prefix() const { return root_ + "brokers/"; }
  std::string broker(int32_t id) const { return brokers_prefix() + std::to_string(id); }
  std::string epochs_prefix() const { return root_ + "epochs/"; }
  std::string epochs_of(int32_t id) const { return epochs_prefix() + std::to_string(id) + "/"; }
  std::string epoch(int32_t id, int64_t epoch) const;
  std::string controller() const { return root_ + "controller"; }
  std::string assignments_prefix() const { return root_ + "assignments/"; }
  std::string assignment(std::string_view topic, int32_t partition) const;
  std::string drains_prefix() const { return root_ + "drains/"; }
  std::string drain(int32_t id) const { return drains_prefix() + std::to_string(id); }
  std::string topics_prefix() const { return root_ + "topics/"; }
  std::string wal_prefix() const { return root_ + "wal/"; }

 private:
  std::string root_;
};

std::string encode_broker(const BrokerInfo& b);
std::optional<BrokerInfo> decode_broker(std::string_view value);  // id and epoch are not in the value
std::string encode_controller(const ControllerRecord& c);
std::optional<ControllerRecord> decode_controller(std::string_view value);
std::string encode_assignment(const Assignment& a);
std::optional<Assignment> decode_assignment(std::string_view value);  // topic, partition, mod_revision not in it

// Parsers of key suffixes (after the prefix). nullopt when the text is not the expected form.
std::optional<int32_t> parse_broker_id(std::string_view s);
std::optional<std::pair<int32_t, int64_t>> parse_epoch_suffix(std::string_view s);        // "<id>/<epoch>"
std::optional<std::pair<std::string, int32_t>> parse_assignment_suffix(std::string_view s);  // "<topic>/<p>"
// "<id>/<epoch>/sealing" or ".../seal": the broker epoch and true for a "seal" key.
struct WalMarkerKey {
  int32_t broker_id = 0;
  int64_t epoch = 0;
  bool seal = false;  // false: "sealing"
};
std::optional<WalMarkerKey> parse_wal_marker(std::string_view s);

}  // namespace floe::cluster
