// Per-partition write-unavailability windows, split by whether the fault moved the partition's leader, and the
// producer's own ack latency before the fault (the baseline to read them against). Pure functions over what the
// load recorded; README.md ("What the figures mean") defines every window in words. Times are milliseconds since
// the drill started.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace floe::drill {

// Which broker acked a partition's records: acks at or after `from_ms` (until the next entry) came from `broker`
// (librdkafka's rd_kafka_message_broker_id of the delivery report). One entry per change, in time order.
struct AckLeader {
  int32_t from_ms = 0;
  int32_t broker = -1;
};

// p50/p99/max of one group of windows. `samples` is one per partition, except graceful moves: one per move (a
// partition can move more than once in a rolling restart). A window that did not end within the recovery timeout
// counts as the timeout and in `timed_out`.
struct WindowStats {
  int partitions = 0;
  int samples = 0;
  int timed_out = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

WindowStats summarize_windows(const std::vector<double>& windows_ms, int partitions, int timed_out);

// The scenario being measured.
struct WindowSpec {
  int64_t fault_ms = 0;
  int64_t end_ms = 0;                  // the scenario's window is [fault_ms, end_ms]
  int64_t timeout_ms = 30000;          // the drill's --recovery-timeout
  int victim = -1;                     // failure scenarios (kill9, sigstop, replace): the broker that failed
  int64_t victim_back_ms = std::numeric_limits<int64_t>::max();  // when the victim (same id) was back, registered
};

// Failure scenario (victim >= 0):
//   moved:   partitions whose last ack before the fault came from the victim. Window = from the fault to the first
//            ack at or after it that is not the victim's old process's (an ack attributed to the victim before
//            `victim_back_ms` is a late delivery report or a zombie's, not a recovery).
//   unmoved: every other partition. Window = from the fault to its first ack at or after it.
//   later_moves: leader changes after those (balancing onto the restarted or new broker), graceful measure below.
// Graceful scenario (victim < 0: drain, scale-out, rolling restart):
//   moved:   one sample per leader change whose new leader's first ack is in (fault, end]. Window = from the old
//            leader's last ack (or the fault, when that was earlier) to the new leader's first ack.
//   unmoved: partitions with no leader change in the window. Window = the longest interval inside [fault, end]
//            without an ack (the interval that straddles the fault counts from the fault).
// A partition with no ack before the fault (leader unknown) counts as unmoved and in `unknown_leader`.
struct MoveSummary {
  WindowStats moved, unmoved, later_moves;
  int unknown_leader = 0;
};

// acks[p]: partition p's ack times ascending; leaders[p]: who acked them (may be empty: broker unknown).
MoveSummary summarize_moves(const std::vector<std::vector<int32_t>>& acks, const std::vector<std::vector<AckLeader>>& leaders,
                            const WindowSpec& spec);

// One ack's latency (librdkafka's enqueue -> delivery report) at its delivery time.
struct LatencySample {
  int32_t t_ms = 0;
  float latency_ms = 0;
};

struct LatencyBaseline {
  int64_t from_ms = 0, to_ms = 0;  // [from, to)
  int64_t acks = 0;
  double p50_ms = 0, p99_ms = 0;
};

// The ack latency of the acks delivered in [from_ms, to_ms).
LatencyBaseline summarize_latency(const std::vector<LatencySample>& samples, int64_t from_ms, int64_t to_ms);

// Quantiles of a Prometheus histogram's cumulative buckets (upper bound -> count): each is the upper bound of the
// bucket holding it (an upper bound on the true value; the brokers' buckets are powers of two).
struct BucketQuantiles {
  double count = 0;
  double p50 = 0, p99 = 0, max = 0;  // seconds; infinity when it is in the +Inf bucket
};
BucketQuantiles bucket_quantiles(const std::map<double, double>& cumulative);

// The lease TTL a broker registers with for --broker-session-timeout-ms (app/cluster_node.cc: etcd leases are in
// whole seconds, at least 2).
int64_t lease_ttl_ms(int64_t session_timeout_ms);

}  // namespace floe::drill
