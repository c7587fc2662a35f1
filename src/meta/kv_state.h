// The embedded store's state machine: keys with etcd revision semantics, a bounded event history (for reads at an
// older revision and for watches), leases (ids, TTLs and attached keys; their deadlines live in the store). No
// locking, no I/O, no clock: EmbeddedStore serialises calls under its mutex and journals the Effects it returns.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "meta/errors.h"
#include "meta/key_range.h"
#include "meta/types.h"

namespace floe::meta {

// One key change of a write, as journaled.
struct Change {
  bool del = false;
  std::string key;
  std::string value;  // put only
  int64_t lease = 0;  // put only
};

// What one write did: the changes it made at `revision` (none: the write changed nothing and used no revision),
// and the lease it revoked (0: none). Replaying Effects in order rebuilds the state.
struct Effect {
  int64_t revision = 0;
  std::vector<Change> changes;
  int64_t revoked_lease = 0;
};

class KvState {
 public:
  struct Lease {
    int64_t ttl = 0;
    std::set<std::string> keys;
  };

  explicit KvState(size_t max_history_events) : max_history_(max_history_events == 0 ? 1 : max_history_events) {}

  int64_t revision() const { return revision_; }
  // The history holds every event after this revision: reads at >= floor and watches from > floor work.
  int64_t history_floor() const { return floor_; }

  // Reads the range as it was at revision `at` (errors: compacted, future_revision).
  Result<RangeResponse> range(const RangeRequest& request, int64_t at) const;

  // Evaluates the compares and runs one branch on the newest state. `effect` receives what changed. Checks leases
  // before changing anything (lease_not_found). validate_txn() must have passed.
  Result<TxnResponse> txn(const TxnRequest& request, Effect& effect);

  bool has_lease(int64_t id) const { return leases_.count(id) != 0; }
  const std::map<int64_t, Lease>& leases() const { return leases_; }
  // A fresh lease id (never 0, never in use).
  int64_t next_lease_id();
  void grant_lease(int64_t id, int64_t ttl);
  // Removes the lease and deletes its keys at one new revision (if it had any).
  Effect revoke_lease(int64_t id);

  // Replays a journaled effect (recovery): the same state as when it was produced.
  void replay(const Effect& effect);

  // Drops history before `revision` (errors: compacted when at or below the floor already, future_revision).
  std::error_code compact(int64_t revision);

  // Appends to `out` the events in `range` with revisions in [from, to], whole revisions only, stopping after the
  // revision at which out holds max_events or more. Returns the revision to continue from. from > history_floor().
  int64_t collect(const KeyRange& range, int64_t from, int64_t to, bool prev_kv, size_t max_events,
                  std::vector<Event>& out) const;

  // Snapshot support.
  const std::map<std::string, KeyValue, std::less<>>& keys() const { return keys_; }
  int64_t lease_id_counter() const { return next_lease_id_; }
  void restore(int64_t revision, int64_t next_lease_id, std::map<std::string, KeyValue, std::less<>> keys,
               std::map<int64_t, int64_t> lease_ttls);

 private:
  void apply_change(const Change& change, int64_t revision);
  void trim_history();

  std::map<std::string, KeyValue, std::less<>> keys_;
  std::map<int64_t, Lease> leases_;
  std::deque<Event> history_;  // every event after floor_, in revision order; prev_kv always filled when it existed
  size_t max_history_;
  int64_t revision_ = 0;
  int64_t floor_ = 0;
  int64_t next_lease_id_ = 1;
};

}  // namespace floe::meta
