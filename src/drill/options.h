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
  int request_timeout_ms = 5000;  // the clients' request.timeout.ms
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

// The scenarios in their default order.
const std::vector<std::string>& all_scenarios();

// Parses `args` (after "drill"); on error returns false with a one-line message naming the flag.
bool parse_drill_options(const std::vector<std::string>& args, DrillOptions* out, std::string* error);
std::string drill_usage();
// "ID=PID[@HOST:PORT]"
bool parse_broker_spec(const std::string& spec, int* id, int* pid, std::string* http);

}  // namespace floe::drill
