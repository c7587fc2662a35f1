// Requests, responses and events of the metadata store, with etcd v3 meaning (see README.md). Plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace floe::meta {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the put that created the key (since its last delete)
  int64_t mod_revision = 0;     // revision of the last change
  int64_t version = 0;          // number of puts since creation (1 after the create)
  int64_t lease = 0;            // lease id the key is attached to, 0 for none
  bool operator==(const KeyValue&) const = default;
};

// The end of the range of every key that starts with `prefix` (etcd's "prefix end"): `prefix` with its last byte
// below 0xff incremented and what follows dropped. All-0xff or empty prefix: "\0", which etcd reads as "to the end".
std::string prefix_end(std::string_view prefix);

// Keys in [key, range_end). Empty range_end: exactly `key`. range_end "\0": every key >= key.
struct RangeRequest {
  std::string key;
  std::string range_end;
  int64_t limit = 0;          // 0: no limit
  int64_t revision = 0;       // 0: the newest; otherwise read the store as it was at this revision
  bool serializable = false;  // false: linearizable read (default); true: may be served from a lagging member
  bool keys_only = false;
  bool count_only = false;
};
struct RangeResponse {
  int64_t revision = 0;  // the store's revision when read (header revision)
  std::vector<KeyValue> kvs;
  bool more = false;     // there are more keys in the range than `limit`
  int64_t count = 0;     // number of keys in the range
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;  // return the previous key-value
};
struct PutResponse {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
};

struct DeleteRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};
struct DeleteResponse {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// One compare of a txn, on a single key. A missing key has version, create and mod revision 0, lease 0, and makes
// a value compare false.
struct Compare {
  enum class Target { version, create_revision, mod_revision, value, lease };
  enum class Result { equal, greater, less, not_equal };
  std::string key;
  Target target = Target::version;
  Result result = Result::equal;
  int64_t number = 0;   // for version, create_revision, mod_revision, lease
  std::string value;    // for value

  static Compare version(std::string key, Result r, int64_t v) { return {std::move(key), Target::version, r, v, {}}; }
  static Compare create_revision(std::string key, Result r, int64_t v) {
    return {std::move(key), Target::create_revision, r, v, {}};
  }
  static Compare mod_revision(std::string key, Result r, int64_t v) {
    return {std::move(key), Target::mod_revision, r, v, {}};
  }
  static Compare lease(std::string key, Result r, int64_t v) { return {std::move(key), Target::lease, r, v, {}}; }
  static Compare value_of(std::string key, Result r, std::string v) {
    return {std::move(key), Target::value, r, 0, std::move(v)};
  }
};

using Op = std::variant<RangeRequest, PutRequest, DeleteRequest>;
using OpResponse = std::variant<RangeResponse, PutResponse, DeleteResponse>;

// If every compare holds, the success ops run, else the failure ops; atomically, at one new revision (a txn
// that writes nothing does not create a revision). Ops in one branch see the store as it was before the txn.
struct TxnRequest {
  std::vector<Compare> compares;
  std::vector<Op> success;
  std::vector<Op> failure;
};
struct TxnResponse {
  int64_t revision = 0;
  bool succeeded = false;
  std::vector<OpResponse> responses;  // one per op of the branch that ran, in order
};

struct LeaseGrantResponse {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds
};

struct Event {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;                      // for a delete: the key and mod_revision (the delete's revision), no value
  std::optional<KeyValue> prev_kv;  // the key-value before this event, when the watch asked for it and it existed
  bool operator==(const Event&) const = default;
};

struct WatchRequest {
  std::string key;
  std::string range_end;       // as in RangeRequest; use prefix_end(p) to watch a prefix
  int64_t start_revision = 0;  // deliver events from this revision on; 0: from the next revision
  bool prev_kv = true;
};

// Events of one or more whole revisions, in revision order.
struct WatchBatch {
  std::vector<Event> events;
};

// Limits of one txn (etcd's defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB). A txn over them is an error
// (too_many_ops, request_too_large), never split.
struct TxnLimits {
  size_t max_ops = 128;
  size_t max_bytes = 1536 * 1024;
};

}  // namespace floe::meta
