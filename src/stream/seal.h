// Sealing a broker epoch of the object WAL (DESIGN §6 "Sealing epoch E"; model: /work/shared/models/seal.pml).
// Run by the controller for a failed broker epoch or, with no controller, by the broker's next start for its own
// previous epoch. Keys and the object format: object_wal.h.
//
//   1. Record "sealing E" (txn compares the guard). From then on the writer's commit txns fail (they compare that
//      "sealing" is absent), so only sealers commit E's objects.
//   2. Probe upward from the commit cursor + 1, one GET per seq. A writer's object is committed (one txn: its
//      objects/ key and cursor = k, comparing cursor == k-1 and the guard) and the probe goes on; if the cursor
//      moved (someone else committed) the probe continues after it. At the first missing seq: put_if_absent a seal
//      marker. "Not created" -> read the key back: a writer's object is committed and the probe goes on; a seal
//      marker (another sealer's) means this seq is the seal. A seal marker is never committed as data.
//   3. Record the seal seq (txn compares the guard, "no seal recorded" and cursor == seal-1). Objects above it are
//      orphans and are deleted; sweep_sealed_epoch() repeats that later for late arrivals. The marker (at the seal
//      seq) and everything below it are never deleted: the marker is what stops a zombie's late PUT.
//   4. Return the recovered ranges (E's committed objects, read linearizably after the seal is recorded), so the
//      caller reassigns E's partitions (their committed end is final now).
// A sealer that dies anywhere is resumed by running seal_epoch again (any sealer, with its own guard): step 1 is
// idempotent, the probe starts from the recorded cursor, and a recorded seal skips to the clean-up.
//
// The guard stands in for the controller's election key: every metadata write of the sealer compares that
// `guard_key` still has `guard_create_revision`, so a deposed controller changes nothing in metadata (its object
// PUTs may still land: a stray marker is harmless, see the model). An empty guard_key compares nothing (the
// broker's own next start, which has no controller).
//
// Runs on the caller's executor; every store call is bounded by op_timeout (with retries); a sealer that gives up
// returns WalErrc::store_error and can simply be run again.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "stream/object_ranges.h"
#include "stream/object_wal.h"

namespace floe::objstore {
class ObjectStore;
}
namespace floe::meta {
class MetaStore;
}

namespace floe::stream {

struct SealOptions {
  WalKeys keys;                       // meta_root, object_prefix, broker_id, epoch of the epoch to seal
  std::string guard_key;              // empty: no guard
  int64_t guard_create_revision = 0;  // the guard key's create revision this sealer holds
  std::string sealer_id = "sealer";   // written into the "sealing" record and the marker's token, for people
  std::chrono::milliseconds op_timeout{10000};  // each step's retries (a GET, a PUT, a txn)
  std::chrono::milliseconds retry_backoff{20};
};

struct SealResult {
  uint64_t seal_seq = 0;                // the marker's seq; committed objects are seqs below it
  std::vector<ObjectRanges> recovered;  // E's committed objects (still under its objects/ prefix), in seq order
  uint64_t committed_by_sealer = 0;     // objects this sealer committed
  uint64_t orphans_deleted = 0;         // objects above the seal this run deleted
  bool resumed = false;                 // the seal was already recorded (an earlier sealer got that far)
};

asio::awaitable<Result<SealResult>> seal_epoch(objstore::ObjectStore& objects, meta::MetaStore& meta,
                                               SealOptions options);

// Deletes E's objects above the recorded seal seq (late arrivals: a zombie's PUT still in flight when the seal was
// recorded). Never the marker, never below it. Errors: the seal is not recorded (WalErrc::invalid_argument), store
// errors. Returns how many objects it deleted.
asio::awaitable<Result<uint64_t>> sweep_sealed_epoch(objstore::ObjectStore& objects, meta::MetaStore& meta,
                                                     SealOptions options);

}  // namespace floe::stream
