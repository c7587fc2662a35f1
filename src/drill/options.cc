#include "drill/options.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

#include "drill/producers.h"

namespace floe::drill {
namespace {

bool parse_int(const std::string& text, long long lo, long long hi, long long* out) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_double(const std::string& text, double lo, double hi, double* out) {
  std::istringstream in(text);
  double v = 0;
  in >> v;
  if (!in || !in.eof() || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

}  // namespace

bool parse_broker_spec(const std::string& spec, int* id, int* pid, std::string* http) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) return false;
  const auto at = spec.find('@', eq);
  long long i = 0, p = 0;
  if (!parse_int(spec.substr(0, eq), 0, 1 << 30, &i) ||
      !parse_int(spec.substr(eq + 1, at == std::string::npos ? std::string::npos : at - eq - 1), 1, 1 << 30, &p)) {
    return false;
  }
  *id = static_cast<int>(i);
  *pid = static_cast<int>(p);
  *http = at == std::string::npos ? "" : spec.substr(at + 1);
  return at == std::string::npos || http->find(':') != std::string::npos;
}

int effective_producers(const DrillOptions& o) {
  return std::min(o.producers > 0 ? o.producers : default_producer_count(o.partitions), o.partitions);
}

int effective_request_timeout_ms(const DrillOptions& o) {
  return o.request_timeout_ms > 0 ? o.request_timeout_ms : o.session_timeout_ms;
}

std::string producers_reason(const DrillOptions& o) {
  const int n = effective_producers(o);
  const int per_producer = (o.partitions + n - 1) / n;
  const int brokers = std::max(1, o.embedded ? 1 : o.brokers);
  const int per_broker = (per_producer + brokers - 1) / brokers;
  // librdkafka 2.0: one partition per ProduceRequest, at most 5 in flight per connection (idempotence); a
  // Produce on the object WAL is acked in about wal.flush.ms (50) + one PUT.
  constexpr double kProduceMs = 55;
  const double round_ms = (per_broker + 4) / 5 * kProduceMs;
  const int one_per_broker = (o.partitions + brokers - 1) / brokers;
  const double one_round_ms = (one_per_broker + 4) / 5 * kProduceMs;
  char line[640];
  std::snprintf(line, sizeof line,
                "%d idempotent acks=all producer instance%s (%s), up to %d partitions each (~%d per broker). "
                "librdkafka sends one partition per ProduceRequest and keeps at most 5 requests in flight per broker "
                "connection, and a Produce on the object WAL is acked in ~%.0f ms (flush interval + PUT), so an "
                "instance cycles through its partitions on a broker 5 at a time: ~%d/5 x %.0f ms = ~%.0f ms per "
                "round (one instance for all %d partitions: ~%d/5 x %.0f ms = ~%.1f s of queueing before every "
                "record).",
                n, n == 1 ? "" : "s", o.producers > 0 ? "--producers" : "default: <= 100 partitions each, at most 16",
                per_producer, per_broker, kProduceMs, per_broker, kProduceMs, round_ms, o.partitions,
                one_per_broker, kProduceMs, one_round_ms / 1000);
  return line;
}

std::string request_timeout_reason(const DrillOptions& o) {
  const int t = effective_request_timeout_ms(o);
  std::string why = "request.timeout.ms " + std::to_string(t) +
                    (o.request_timeout_ms > 0 ? " (--request-timeout-ms)" : " (= --session-timeout-ms, the lease)") +
                    ": a request to a paused (SIGSTOP) broker hangs this long before librdkafka sends the "
                    "partition's records to its new leader, so the client-side RTO after SIGSTOP is at least "
                    "min(request timeout, failover)";
  if (t > o.session_timeout_ms + 1000) why += "; ABOVE the sigstop target (lease TTL + 1 s): that RTO will show it";
  return why;
}

const std::vector<std::string>& all_scenarios() {
  static const std::vector<std::string> names = {"kill9", "sigstop", "replace", "scale-out", "scale-in", "rolling"};
  return names;
}

std::string drill_usage() {
  return "usage: floe drill [options]\n\n"
         "Starts etcd, an S3 endpoint and N brokers on this machine, drives an idempotent acks=all producer and a\n"
         "consumer group over one topic, runs failover scenarios and reports, per scenario: the write-unavailability\n"
         "window of the partitions whose leader changed apart from the rest, next to the producer's ack latency\n"
         "before the fault; the RTO over all partitions (fault -> first ack); drain time; producer errors and stall;\n"
         "consumer-lag peak and catch-up; log bytes copied between brokers (must be 0); object-store reads and\n"
         "requests; issue 7's targets (MET / NOT MET). Then it reads everything back and checks that no acked record\n"
         "was lost. src/drill/README.md defines every figure.\n\n"
         "  --brokers N              brokers to start (default 3)\n"
         "  --partitions P           partitions of the drill topic (default 12)\n"
         "  --rate MIB               produce rate in MiB/s (default 1)\n"
         "  --record-bytes B         record value size (default 1024)\n"
         "  --scenarios LIST         comma-separated, in order (default "
         "kill9,sigstop,replace,scale-out,scale-in,rolling)\n"
         "  --warmup S               load before the first scenario (default 10)\n"
         "  --settle S               load between scenarios and after each recovery (default 10)\n"
         "  --recovery-timeout S     bound on every wait for recovery (default 30)\n"
         "  --verify-timeout S       bound on the final read-back (default 300)\n"
         "  --store s3|file          object store: moto S3 server or a file:// directory (default s3)\n"
         "  --session-timeout-ms MS  brokers' broker.session.timeout.ms, the lease TTL (default 3000)\n"
         "  --request-timeout-ms MS  the producer's request.timeout.ms (default: the session timeout): how long a\n"
         "                           request to a paused broker is waited for before its records go elsewhere\n"
         "  --client-debug CONTEXTS  librdkafka debug contexts for the producers, logged to clients.log\n"
         "                           (e.g. metadata,broker,msg: what a client did during a failover)\n"
         "  --producers N            librdkafka producer instances, each owning a disjoint slice of the\n"
         "                           partitions (default: <= 100 partitions each, at most 16; README says why)\n"
         "  --embedded               one broker with its own file WAL and metadata (no etcd, no failover);\n"
         "                           runs kill9, sigstop and rolling as restart scenarios\n"
         "  --wal file|object        embedded mode's WAL (default file; cluster mode always uses object)\n"
         "  --bootstrap H:P[,H:P]    target an existing cluster instead of starting one; no etcd, S3 or brokers\n"
         "                           are started, and only sigstop and scale-in run (they need no restart)\n"
         "  --broker ID=PID[@H:P]    an existing cluster's broker: its PID (to signal) and /metrics address\n"
         "                           (repeatable; brokers without one are never a fault's target)\n"
         "  --work-dir DIR           logs and data (default: a new directory under $TMPDIR, kept)\n"
         "  --json FILE              write the report as JSON\n"
         "  --svg FILE               write the throughput/latency chart with faults marked\n"
         "  --topic NAME             topic to create (default drill-<run id>)\n"
         "  --broker-arg ARG         extra argument for every broker (repeatable)\n"
         "  --floe PATH              floe binary for the brokers (default: this binary)\n"
         "  --progress-every S       seconds between load progress lines (default 5; 0: none)\n"
         "  --max-records N          bound on records produced (default 200000000)\n"
         "Exit status: 0 when every scenario ran without problems, nothing acked was lost and nothing was copied;\n"
         "1 when the drill ran but a check failed; 2 on bad usage; 3 when the environment did not start.\n";
}

bool parse_drill_options(const std::vector<std::string>& args, DrillOptions* o, std::string* error) {
  o->scenarios = all_scenarios();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o->help = true;
      return true;
    }
    if (a == "--embedded") {
      o->embedded = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      *error = a.starts_with("--") ? a + " needs a value" : "unexpected argument '" + a + "'";
      return false;
    }
    const std::string& v = args[++i];
    long long n = 0;
    auto int_flag = [&](long long lo, long long hi, int* field) {
      if (!parse_int(v, lo, hi, &n)) {
        *error =
            a + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'";
        return false;
      }
      *field = static_cast<int>(n);
      return true;
    };
    bool ok = true;
    if (a == "--brokers")
      ok = int_flag(1, 64, &o->brokers);
    else if (a == "--partitions")
      ok = int_flag(1, 100000, &o->partitions);
    else if (a == "--record-bytes")
      ok = int_flag(32, 1 << 20, &o->record_bytes);
    else if (a == "--warmup")
      ok = int_flag(0, 3600, &o->warmup_s);
    else if (a == "--settle")
      ok = int_flag(0, 3600, &o->settle_s);
    else if (a == "--recovery-timeout")
      ok = int_flag(1, 3600, &o->recovery_timeout_s);
    else if (a == "--verify-timeout")
      ok = int_flag(1, 36000, &o->verify_timeout_s);
    else if (a == "--session-timeout-ms")
      ok = int_flag(100, 600000, &o->session_timeout_ms);
    else if (a == "--request-timeout-ms")
      ok = int_flag(100, 600000, &o->request_timeout_ms);
    else if (a == "--producers")
      ok = int_flag(1, 256, &o->producers);
    else if (a == "--progress-every")
      ok = int_flag(0, 3600, &o->progress_every_s);
    else if (a == "--max-records") {
      ok = parse_int(v, 1, 10'000'000'000LL, &o->max_records);
      if (!ok) *error = "--max-records: expected a positive integer, got '" + v + "'";
    } else if (a == "--rate") {
      ok = parse_double(v, 0.001, 10000, &o->rate_mib);
      if (!ok) *error = "--rate: expected MiB/s in [0.001, 10000], got '" + v + "'";
    } else if (a == "--store") {
      ok = v == "s3" || v == "file";
      if (!ok) *error = "--store: expected s3 or file, got '" + v + "'";
      o->store = v;
    } else if (a == "--wal") {
      ok = v == "file" || v == "object";
      if (!ok) *error = "--wal: expected file or object, got '" + v + "'";
      o->wal = v;
    } else if (a == "--scenarios") {
      o->scenarios.clear();
      std::string name;
      std::istringstream in(v);
      while (std::getline(in, name, ',')) {
        if (name.empty()) continue;
        if (std::find(all_scenarios().begin(), all_scenarios().end(), name) == all_scenarios().end()) {
          *error =
              "--scenarios: unknown scenario '" + name + "' (kill9, sigstop, replace, scale-out, scale-in, rolling)";
          return false;
        }
        o->scenarios.push_back(name);
      }
      if (o->scenarios.empty()) {
        *error = "--scenarios: no scenario named";
        return false;
      }
    } else if (a == "--work-dir")
      o->work_dir = v;
    else if (a == "--json")
      o->json_path = v;
    else if (a == "--svg")
      o->svg_path = v;
    else if (a == "--topic")
      o->topic = v;
    else if (a == "--client-debug")
      o->client_debug = v;
    else if (a == "--floe")
      o->floe_binary = v;
    else if (a == "--broker-arg")
      o->broker_args.push_back(v);
    else if (a == "--bootstrap")
      o->bootstrap = v;
    else if (a == "--broker") {
      int id = 0, pid = 0;
      std::string http;
      ok = parse_broker_spec(v, &id, &pid, &http);
      if (!ok) *error = "--broker: expected ID=PID[@HOST:PORT], got '" + v + "'";
      o->broker_specs.push_back(v);
    } else {
      *error = "unknown option '" + a + "' (floe drill --help)";
      return false;
    }
    if (!ok) return false;
  }
  if (!o->broker_specs.empty() && o->bootstrap.empty()) {
    *error = "--broker is for an existing cluster: give its --bootstrap too";
    return false;
  }
  if (!o->bootstrap.empty() && o->embedded) {
    *error = "--embedded starts its own broker: it does not go with --bootstrap";
    return false;
  }
  if (!o->wal.empty() && !o->embedded && o->wal != "object") {
    *error = "--wal file is for --embedded only: cluster mode runs the object WAL";
    return false;
  }
  return true;
}

}  // namespace floe::drill
