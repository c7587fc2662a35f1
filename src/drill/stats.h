// The drill's statistics: pure functions over what the load recorded (per-partition ack times, per-second samples),
// so the figures in the report are unit-tested apart from processes and clients. Times are milliseconds since the
// drill started (steady clock).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace floe::drill {

// Nearest-rank percentile (q in [0, 1]) of `values`; 0 for an empty set. Takes a copy: it sorts.
double percentile(std::vector<double> values, double q);

// How every partition's writes came back after a fault at `fault_ms`, looking at acks up to `end_ms`.
//   rto: per partition, the time from the fault to the first successful ack at or after it (DESIGN: "time until
//        every partition accepts writes again"). A partition with no ack in (fault, end] is "unrecovered".
//   write gap: per partition, the longest interval without an ack inside [fault, end] (the interval that straddles
//        the fault is measured from the fault), i.e. the unavailability a graceful move causes even when the old
//        leader acked right up to its release.
// The resolution is the partition's write interval (partitions / records per second).
struct RecoverySummary {
  int partitions = 0;
  int unrecovered = 0;
  double rto_p50_ms = 0, rto_p99_ms = 0, rto_max_ms = 0;
  double gap_p50_ms = 0, gap_p99_ms = 0, gap_max_ms = 0;
  // Whole-producer stall: the longest interval inside [fault, end] with no ack on any partition.
  double stall_ms = 0;
};

// ack_ms[p]: partition p's ack times, ascending.
RecoverySummary summarize_recovery(const std::vector<std::vector<int32_t>>& ack_ms, int64_t fault_ms, int64_t end_ms);

// One sample of the consumer's lag (records acked by the producer and not yet consumed) at `t_ms`.
struct LagSample {
  int64_t t_ms = 0;
  int64_t lag = 0;
};

struct LagSummary {
  int64_t baseline = 0;  // the highest lag in the `baseline_ms` before the fault
  int64_t peak = 0;      // the highest lag in [fault, end]
  // From the fault until the first sample after the peak whose lag is back at or below the baseline; nullopt
  // when it never came back inside the window.
  std::optional<double> catch_up_ms;
};

LagSummary summarize_lag(const std::vector<LagSample>& samples, int64_t fault_ms, int64_t end_ms,
                         int64_t baseline_ms = 5000);

// The verification pass: every sequence number the producer got an ack for must have been read back.
// not_produced: a sequence number no producer instance wrote (producers.h: each instance owns the numbers of its
// partitions, and one may have written fewer rounds than another); like pending, it is not judged.
enum class SeqState : uint8_t { pending = 0, acked = 1, failed = 2, not_produced = 3 };

struct VerifySummary {
  int64_t acked = 0;
  int64_t acked_lost = 0;          // acked and never read back (must be 0)
  int64_t duplicates = 0;          // extra copies read back of any sequence
  int64_t failed_but_present = 0;  // a failed (ambiguous) produce that is durable after all: allowed
  int64_t first_lost_seq = -1;
};

// states[seq]: what the producer learnt; seen[seq]: how many times the final read-back saw it (saturating).
VerifySummary verify_sequences(const std::vector<SeqState>& states, const std::vector<uint8_t>& seen);

// A counter's increase across a window when the process behind it may have restarted: a drop means a new process
// whose counter started at 0, so what it shows is all increase.
double counter_increase(double before, double after);

// Per-broker producer request errors from librdkafka's statistics JSON: the sum over the "brokers" object of
// txerrs + txretries + req_timeouts. Returns one entry per broker name, in document order.
struct BrokerErrorCounters {
  std::string_view name;
  int64_t errors = 0;
};
std::vector<BrokerErrorCounters> producer_errors_from_stats(std::string_view stats_json);

}  // namespace floe::drill
