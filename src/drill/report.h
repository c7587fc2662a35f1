// What `floe drill` reports: the per-second timeline, one result per scenario and the final read-back, printed as a
// terminal table, written as JSON (--json) and drawn as SVG (svg_chart.h). Plain data plus formatting: no processes,
// no clients, so every figure's presentation is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "drill/broker_logs.h"
#include "drill/producers.h"
#include "drill/stats.h"
#include "drill/windows.h"

namespace floe::drill {

// One second of load, closed by the sampler.
struct Second {
  int64_t t_ms = 0;                                           // end of the second, since the drill started
  int64_t produced = 0, acked = 0, errors = 0, consumed = 0;  // records in this second
  int64_t lag = 0;                                            // consumer lag at its end (records)
  double p50_ms = 0, p99_ms = 0, max_ms = 0;                  // produce latency (enqueue -> ack) of its acks
};

// A labelled moment on the timeline (faults, restarts): the SVG's vertical lines.
struct Event {
  int64_t t_ms = 0;
  std::string label;
};

// Broker-side byte and request counters summed over every broker process that ran in a scenario's window (a
// restarted broker's counters start again at 0; counter_increase() handles that).
struct StorageFigures {
  double appended_bytes = 0;       // sum of floe_topic_bytes_in_total{topic}: log bytes appended from Produce
  double appended_records = 0;     // sum of floe_topic_records_in_total{topic}
  double served_bytes = 0;         // sum of floe_topic_bytes_out_total{topic}: log bytes sent in Fetch responses
  double objstore_read_bytes = 0;  // sum of floe_objstore_received_bytes_total (GET bodies)
  std::map<std::string, double> objstore_requests;  // sum of floe_objstore_requests_total by op
  bool objstore_metrics = false;                    // whether the brokers expose floe_objstore_* at all
  // floe_cluster_partition_handoff_seconds by cause ("move", "failover"): cumulative bucket counts by upper bound
  // (seconds), summed over brokers. The brokers' own "change of owner -> serving here" per partition, all topics.
  std::map<std::string, std::map<double, double>> handoff_buckets;
  double objstore_request_total() const;
};

// One broker's graceful drain (scale-in, each step of a rolling restart): from SIGTERM (the drain request) until
// Metadata shows it leading no partition of the drill's topic, and until the process exited.
struct DrainFigures {
  int broker = -1;
  int led = 0;                       // partitions it led at SIGTERM (Metadata)
  std::optional<double> to_zero_ms;  // SIGTERM -> first Metadata answer with 0 led; nullopt: not seen before exit
  double exit_ms = 0;                // SIGTERM -> process exit
  bool exited = false;
  // The figure to judge: to_zero_ms, or (not seen, the process exited) the exit as its upper bound.
  std::optional<double> bound_ms() const;
};

// One target of issue 7 checked against one scenario's figure.
struct TargetCheck {
  std::string scenario;
  std::string what;    // "RTO of the 333 partitions the killed broker led (fault -> first ack from a new leader)"
  std::string figure;  // "p50 640 ms, max 1.9 s"
  std::string limit;   // "p50 <= 1 s, max <= 2 s"
  bool met = false;
};

struct ScenarioResult {
  std::string name;  // kill9, sigstop, replace, scale-out, scale-in, rolling
  std::string what;  // what was done, for people ("SIGKILL broker 2 (leading 333 of 1000), restarted")
  bool ran = false;
  std::string skipped;                // why it did not run (when !ran)
  std::vector<std::string> problems;  // checks that failed (timeouts, broker did not rejoin, zombie acks...)
  int64_t fault_ms = 0, end_ms = 0;
  RecoverySummary recovery;  // every partition, moved or not (the overall RTO)
  MoveSummary moves;         // the same windows split by whether the leader changed (windows.h)
  int victim = -1;           // failure scenarios: the broker that was killed / paused
  LatencyBaseline ack_latency_before;  // the producer's ack latency in the 5 s before the fault
  // librdkafka's own figures (worst producer instance, its last statistics interval before the fault): how much
  // of that ack latency is the client's queue (int_latency) and how much the broker's round trip (rtt).
  ClientLatency client_before;
  LagSummary lag;
  int64_t producer_errors = 0;
  // Bytes of log data copied between brokers: records the brokers appended beyond those the drill's producer
  // delivered (acked or failed) in the window, in bytes at the brokers' own bytes-per-record. Floe has no
  // broker-to-broker data path, so anything here would be a copy (or a duplicate append). Must be 0.
  double copied_bytes = 0;
  bool copied_measured = false;  // both checkpoints quiesced the producer
  int64_t unexplained_records = 0;  // appended - delivered, signed (negative: a killed broker's last increments)
  int64_t delivered_records = 0;
  StorageFigures storage;
  std::optional<double> drain_ms;      // SIGTERM -> exit of the drained broker (scale-in; rolling: the slowest)
  std::vector<DrainFigures> drains;    // scale-in: one; rolling: one per broker
  std::optional<int64_t> lease_ttl_ms;  // sigstop: the paused broker's lease TTL
  // Broker epochs the controller declared failed in the window (its log), and which of them the drill's fault
  // explains: failure scenarios, the victim's first; any other is an unplanned failover (a problem).
  std::vector<FailedEpoch> failed_epochs;
  std::vector<bool> failed_epoch_planned;
  std::optional<int64_t> zombie_acks;  // sigstop: acks attributed to the paused broker after its lease expired
  std::optional<bool> rejoined;        // sigstop / kill9 / rolling: the broker is listed again in Metadata
};

struct RunConfig {
  std::string mode;  // "cluster" or "embedded"
  int brokers = 0;
  int partitions = 0;
  double rate_mib = 0;
  int record_bytes = 0;
  std::string store;  // "s3" or "file"
  int session_timeout_ms = 0;
  std::string topic;
  std::string work_dir;
  int request_timeout_ms = 0;  // the producer's request.timeout.ms (bounds the RTO a client sees for a zombie)
  int producers = 1;           // librdkafka producer instances (producers.h)
  // Why the clients are set up so (options.h: producers_reason, request_timeout_reason): the report's header.
  std::string producers_reason, request_timeout_reason;
};

struct Report {
  RunConfig config;
  std::vector<Second> timeline;
  std::vector<Event> events;
  std::vector<ScenarioResult> scenarios;
  VerifySummary verify;
  bool verify_complete = false;  // the read-back reached every partition's end
  std::string verify_note;
  // Broker epochs the controller failed after the last scenario (load stop, read-back): unplanned, a problem.
  std::vector<FailedEpoch> failed_epochs_after;
  int64_t total_produced = 0, total_acked = 0, total_failed = 0;
  // The run's verdict: every scenario ran without problems, nothing acked was lost, nothing was copied, no
  // broker was failed over after the scenarios.
  bool passed() const;
};

// Issue 7's targets for one scenario (none for a scenario that did not run): kill9 RTO p50 <= 1 s and max <= 2 s,
// sigstop RTO <= lease TTL + 1 s, graceful moves p99 <= 200 ms, scale-in drain <= 3 s, 0 bytes copied.
std::vector<TargetCheck> evaluate_targets(const ScenarioResult& s);

// The summary tables (availability; data and storage), the targets and the verdict lines.
void print_summary(std::ostream& out, const Report& report);
// The whole report as one JSON document.
void write_json(std::ostream& out, const Report& report);
// "640 ms", "12.5 s" (from 10 s up).
std::string duration_text(double ms);
// "0 B", "3.5 KiB", "1.2 MiB", "2.00 GiB".
std::string bytes_text(double bytes);
// JSON string escaping (quotes included).
std::string json_string(const std::string& s);

}  // namespace floe::drill
