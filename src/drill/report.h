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

#include "drill/stats.h"

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
  double objstore_request_total() const;
};

struct ScenarioResult {
  std::string name;  // kill9, sigstop, replace, scale-out, scale-in, rolling
  std::string what;  // what was done, for people ("SIGKILL broker 2 (leading 333 of 1000), restarted")
  bool ran = false;
  std::string skipped;                // why it did not run (when !ran)
  std::vector<std::string> problems;  // checks that failed (timeouts, broker did not rejoin, zombie acks...)
  int64_t fault_ms = 0, end_ms = 0;
  RecoverySummary recovery;
  LagSummary lag;
  int64_t producer_errors = 0;
  // Bytes of log data copied between brokers: records the brokers appended beyond those the drill's producer
  // delivered (acked or failed) in the window, in bytes at the brokers' own bytes-per-record. Floe has no
  // broker-to-broker data path, so anything here would be a copy (or a duplicate append). Must be 0.
  double copied_bytes = 0;
  int64_t unexplained_records = 0;  // appended - delivered, signed (negative: a killed broker's last increments)
  int64_t delivered_records = 0;
  StorageFigures storage;
  std::optional<double> drain_ms;      // SIGTERM -> exit of the drained broker (scale-in; rolling: the slowest)
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
};

struct Report {
  RunConfig config;
  std::vector<Second> timeline;
  std::vector<Event> events;
  std::vector<ScenarioResult> scenarios;
  VerifySummary verify;
  bool verify_complete = false;  // the read-back reached every partition's end
  std::string verify_note;
  int64_t total_produced = 0, total_acked = 0, total_failed = 0;
  // The run's verdict: every scenario ran without problems, nothing acked was lost, nothing was copied.
  bool passed() const;
};

// The summary table (one row per scenario) and the verdict lines.
void print_summary(std::ostream& out, const Report& report);
// The whole report as one JSON document.
void write_json(std::ostream& out, const Report& report);
// JSON string escaping (quotes included).
std::string json_string(const std::string& s);

}  // namespace floe::drill
