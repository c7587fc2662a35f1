// `floe drill` command line.
#pragma once

#include <string>
#include <vector>

namespace floe::drill {

struct DrillOptions {
  bool embedded = false;
  int brokers = 3;
  int partitions = 12;
  double rate_mib = 1;
  int record_bytes = 1024;
  std::vector<std::string> scenarios;  // in order
  int warmup_s = 10;
  int settle_s = 10;
  int recovery_timeout_s = 30;
  int verify_timeout_s = 300;
  std::string store = "s3";
  std::string wal;  // embedded mode: file (default) or object; cluster mode: always object
  int session_timeout_ms = 3000;
  // The producer's request.timeout.ms; 0: the session timeout (effective_request_timeout_ms).
  int request_timeout_ms = 0;
  // librdkafka producer instances, each owning a disjoint slice of the partitions; 0: default_producer_count
  // (producers.h says why one is not enough).
  int producers = 0;
  std::string client_debug;  // librdkafka `debug` contexts for the producers (into clients.log); empty: none
  std::string work_dir;           // default: a new directory under $TMPDIR (kept: it holds the logs)
  std::string json_path, svg_path;
  std::string topic;
  std::string floe_binary;  // default: this binary
  std::vector<std::string> broker_args;
  int progress_every_s = 5;
  long long max_records = 200'000'000;
  // An existing cluster (--bootstrap): "ID=PID[@HOST:PORT]" per --broker, the PID to signal and the /metrics
  // address.
  std::string bootstrap;
  std::vector<std::string> broker_specs;
  bool help = false;
};

// --producers, or its default for --partitions (producers.h), at most --partitions.
int effective_producers(const DrillOptions& o);
// --request-timeout-ms, or the session timeout: a request to a paused broker is given up after this, so a
// client-side RTO after SIGSTOP is at least min(request timeout, failover) and the target is lease TTL + 1 s.
int effective_request_timeout_ms(const DrillOptions& o);
// The report's lines saying why the clients are set up as they are (README "Client settings").
std::string producers_reason(const DrillOptions& o);
std::string request_timeout_reason(const DrillOptions& o);

// The scenarios in their default order.
const std::vector<std::string>& all_scenarios();

// Parses `args` (after "drill"); on error returns false with a one-line message naming the flag.
bool parse_drill_options(const std::vector<std::string>& args, DrillOptions* out, std::string* error);
std::string drill_usage();
// "ID=PID[@HOST:PORT]"
bool parse_broker_spec(const std::string& spec, int* id, int* pid, std::string* http);

}  // namespace floe::drill
