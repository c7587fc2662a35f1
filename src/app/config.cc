#include "app/config.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

namespace floe::app {
namespace {

// One setting: its key, help text, how to apply a textual value (returns an error text or ""), how to show its
// value in a config (the default in help, the effective value at start-up), and whether that value is a secret
// (credentials: never shown, always `<redacted>`).
struct Option {
  const char* key;
  const char* help;
  std::function<std::string(ServeConfig&, const std::string&)> apply;
  std::function<std::string(const ServeConfig&)> show;
  bool secret = false;
};

std::string level_name(log::Level l) {
  switch (l) {
    case log::Level::debug: return "debug";
    case log::Level::info: return "info";
    case log::Level::warn: return "warn";
    case log::Level::error: return "error";
  }
  return "info";
}

template <typename Int>
std::string parse_int(const std::string& v, Int lo, Int hi, Int& out) {
  Int x{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return "not an integer: '" + v + "'";
  if (x < lo || x > hi) return "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]: " + v;
  out = x;
  return {};
}

std::string host_port_text(const HostPort& hp) { return hp.host + ":" + std::to_string(hp.port); }

const std::vector<Option>& options() {
  static const std::vector<Option> opts = {
      {"node.id", "broker id, unique in the cluster",
       [](ServeConfig& c, const std::string& v) { return parse_int<int32_t>(v, 0, INT32_MAX, c.node_id); },
       [](const ServeConfig& c) { return std::to_string(c.node_id); }},
      {"listen", "Kafka listener address host:port",
       [](ServeConfig& c, const std::string& v) -> std::string {
         auto hp = parse_host_port(v);
         if (!hp) return "expected host:port, got '" + v + "'";
         c.listen = *hp;
         return {};
       },
       [](const ServeConfig& c) { return host_port_text(c.listen); }},
      {"advertise", "address clients are told to connect to (default: the listen address)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         auto hp = parse_host_port(v);
         if (!hp || hp->port == 0) return "expected host:port with a non-zero port, got '" + v + "'";
         c.advertise = *hp;
         return {};
       },
       [](const ServeConfig& c) { return c.advertise ? host_port_text(*c.advertise) : std::string("(listen)"); }},
      {"zone", "this broker's zone (rack in Kafka metadata)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v.empty()) return "must not be empty";
         c.zone = v;
         return {};
       },
       [](const ServeConfig& c) { return c.zone.value_or("(none)"); }},
      {"data.dir", "directory for this broker's local files",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v.empty()) return "must not be empty";
         c.data_dir = v;
         return {};
       },
       [](const ServeConfig& c) { return c.data_dir; }},
      {"log.level", "debug, info, warn or error",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (!log::parse_level(v, c.log_level)) return "expected debug, info, warn or error, got '" + v + "'";
         return {};
       },
       [](const ServeConfig& c) { return level_name(c.log_level); }},
      {"socket.request.max.bytes", "largest request frame accepted; larger ones close the connection",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int32_t>(v, 1024, INT32_MAX, c.socket_request_max_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.socket_request_max_bytes); }},
      {"connections.max.idle.ms", "idle connections are closed after this long",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 100, INT64_C(1) << 40, c.connections_max_idle_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.connections_max_idle_ms); }},
      {"io.threads", "threads running network I/O and request handling",
       [](ServeConfig& c, const std::string& v) { return parse_int<unsigned>(v, 1, 256, c.io_threads); },
       [](const ServeConfig& c) { return std::to_string(c.io_threads); }},
      {"io.stall.warn.ms",
       "an io thread that runs a posted task this late is a stall: counted, logged with its stack; 0: no watchdog",
       [](ServeConfig& c, const std::string& v) -> std::string {
         std::string err = parse_int<int64_t>(v, 0, 3600000, c.io_stall_warn_ms);
         if (err.empty() && c.io_stall_warn_ms > 0 && c.io_stall_warn_ms < 10) return "expected 0 or at least 10";
         return err;
       },
       [](const ServeConfig& c) { return std::to_string(c.io_stall_warn_ms); }},
      {"shutdown.drain.ms", "on SIGTERM, how long in-flight requests get to finish",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.shutdown_drain_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.shutdown_drain_ms); }},
      {"auto.create.topics.enable", "create a topic when a client asks for its metadata (true or false)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v != "true" && v != "false") return "expected true or false, got '" + v + "'";
         c.auto_create_topics = v == "true";
         return {};
       },
       [](const ServeConfig& c) { return std::string(c.auto_create_topics ? "true" : "false"); }},
      {"num.partitions", "partitions of auto-created topics (and of CreateTopics asking for -1)",
       [](ServeConfig& c, const std::string& v) { return parse_int<int32_t>(v, 1, 100000, c.num_partitions); },
       [](const ServeConfig& c) { return std::to_string(c.num_partitions); }},
      {"meta", "metadata store: embedded (in data.dir) or etcd://host:port[,host:port...] (cluster mode)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v == "embedded") {
           c.meta_endpoints.clear();
           return {};
         }
         const std::string scheme = "etcd://";
         if (v.rfind(scheme, 0) != 0) return "expected embedded or etcd://host:port[,host:port...], got '" + v + "'";
         std::vector<std::string> endpoints;
         std::stringstream list(v.substr(scheme.size()));
         for (std::string item; std::getline(list, item, ',');) {
           auto hp = parse_host_port(item);
           if (!hp || hp->port == 0) return "expected host:port in the etcd endpoint list, got '" + item + "'";
           endpoints.push_back("http://" + item);
         }
         if (endpoints.empty()) return "no etcd endpoint in '" + v + "'";
         c.meta_endpoints = std::move(endpoints);
         return {};
       },
       [](const ServeConfig& c) -> std::string {
         if (c.meta_endpoints.empty()) return "embedded";
         std::string out = "etcd://";
         for (size_t i = 0; i < c.meta_endpoints.size(); ++i) {
           out += (i ? "," : "") + c.meta_endpoints[i].substr(std::string("http://").size());
         }
         return out;
       }},
      {"objects", "object store URL: file:///abs/path or s3://bucket[/prefix]?endpoint=URL (default: data.dir/objects)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v.rfind("file:///", 0) != 0 && v.rfind("s3://", 0) != 0) {
           return "expected file:///absolute/path or s3://bucket[/prefix][?endpoint=URL], got '" + v + "'";
         }
         c.objects = v;
         return {};
       },
       [](const ServeConfig& c) { return c.objects.empty() ? std::string("(data.dir/objects)") : c.objects; }},
      {"broker.session.timeout.ms", "cluster mode: the registration lease's TTL (whole seconds, at least 2000)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 2000, 3600000, c.broker_session_timeout_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.broker_session_timeout_ms); }},
      {"controller.answer.timeout.ms",
       "cluster mode: a heartbeat the controller leaves unanswered this long (a paused or hung controller) makes "
       "this broker depose it; 0: never (wait for the controller's lease)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, 3600000, c.controller_answer_timeout_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.controller_answer_timeout_ms); }},
      {"partition.open.parallelism",
       "cluster mode: partitions taken over whose producer-state loads (log replay) run at once",
       [](ServeConfig& c, const std::string& v) { return parse_int<int32_t>(v, 1, 1024, c.partition_open_parallelism); },
       [](const ServeConfig& c) { return std::to_string(c.partition_open_parallelism); }},
      {"partition.open.wait.ms",
       "cluster mode: a produce for a partition this broker is opening waits this long for the open (capping its own "
       "timeout), instead of NOT_LEADER_OR_FOLLOWER; 0: no wait",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 0, 600000, c.partition_open_wait_ms); },
       [](const ServeConfig& c) { return std::to_string(c.partition_open_wait_ms); }},
      {"partition.open.max.waiters", "cluster mode: produce requests waiting for one partition's open, at most",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int32_t>(v, 0, 1000000, c.partition_open_max_waiters);
       },
       [](const ServeConfig& c) { return std::to_string(c.partition_open_max_waiters); }},
      {"partition.open.max.wait.bytes", "cluster mode: record bytes held by requests waiting for one partition's open",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 34, c.partition_open_max_wait_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.partition_open_max_wait_bytes); }},
      {"offsets.topic.num.partitions", "partitions of __consumer_offsets (fixed once the topic exists)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int32_t>(v, 1, 1000, c.offsets_topic_partitions);
       },
       [](const ServeConfig& c) { return std::to_string(c.offsets_topic_partitions); }},
      {"upload.bytes", "file WAL: upload to object storage once this much data is not yet committed",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 4096, INT64_C(1) << 32, c.upload_bytes); },
       [](const ServeConfig& c) { return std::to_string(c.upload_bytes); }},
      {"upload.ms", "file WAL: upload at least this often while data is not yet committed",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 1, 3600000, c.upload_ms); },
       [](const ServeConfig& c) { return std::to_string(c.upload_ms); }},
      {"log.cache.bytes", "committed data kept in memory for reads at the tail",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.log_cache_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.log_cache_bytes); }},
      {"block.cache.bytes", "committed blocks read back from objects kept in memory (0: none, and no read-ahead)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.block_cache_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.block_cache_bytes); }},
      {"read.ahead.max.bytes", "read-ahead window ceiling for sequential reads from objects (at most half the block cache)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 32, c.read_ahead_max_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.read_ahead_max_bytes); }},
      {"log.retention.check.interval.ms", "how often topic retention (retention.ms, retention.bytes) is applied",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 10, INT64_C(1) << 40, c.retention_check_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.retention_check_ms); }},
      {"producer.snapshot.interval.ms", "how often a partition's idempotent-producer state is snapshotted",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 10, INT64_C(1) << 40, c.producer_snapshot_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.producer_snapshot_ms); }},
      {"object.gc.grace.ms", "how long an object no partition references is kept before it is deleted",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.object_gc_grace_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.object_gc_grace_ms); }},
      {"compaction.interval.ms", "how often small committed objects are compacted into large ones (0: never)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.compaction_interval_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.compaction_interval_ms); }},
      {"compaction.target.bytes", "size of compacted objects; objects below half of it are compacted",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 4096, INT64_C(1) << 32, c.compaction_target_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.compaction_target_bytes); }},
      {"compaction.min.objects", "compact once at least this many small objects are committed",
       [](ServeConfig& c, const std::string& v) { return parse_int<int32_t>(v, 2, 100000, c.compaction_min_objects); },
       [](const ServeConfig& c) { return std::to_string(c.compaction_min_objects); }},
      {"compaction.max.age.ms", "compact fewer small objects once the oldest has waited this long",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.compaction_max_age_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.compaction_max_age_ms); }},
      {"compaction.dead.bytes",
       "rewrite an object without its dead (trimmed, deleted-topic) blocks once they reach this many bytes (or half "
       "of it)",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.compaction_dead_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.compaction_dead_bytes); }},
      {"compaction.dead.max.age.ms", "rewrite an object without its dead blocks once they have been dead this long",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 0, INT64_C(1) << 40, c.compaction_dead_max_age_ms);
       },
       [](const ServeConfig& c) { return std::to_string(c.compaction_dead_max_age_ms); }},
      {"wal", "write-ahead log: file (local disk, uploaded to objects) or object (one object per flush, no local state)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v == "file") c.wal = ServeConfig::Wal::file;
         else if (v == "object") c.wal = ServeConfig::Wal::object;
         else return "expected file or object, got '" + v + "'";
         return {};
       },
       [](const ServeConfig& c) { return std::string(c.wal == ServeConfig::Wal::object ? "object" : "file"); }},
      {"wal.flush.ms", "object WAL: write the buffer as one object at least this often (ms)",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 1, 60000, c.wal_flush_ms); },
       [](const ServeConfig& c) { return std::to_string(c.wal_flush_ms); }},
      {"wal.flush.eager",
       "object WAL: also write the buffer at once when no PUT is in flight (true: low ack latency on an idle store; "
       "false: objects only every wal.flush.ms or wal.batch.bytes, the PUT count an S3 bill is sized by)",
       [](ServeConfig& c, const std::string& v) -> std::string {
         if (v != "true" && v != "false") return "expected true or false, got '" + v + "'";
         c.wal_flush_eager = v == "true";
         return {};
       },
       [](const ServeConfig& c) { return std::string(c.wal_flush_eager ? "true" : "false"); }},
      {"wal.flush.min.ms", "object WAL: eager writes (wal.flush.eager) at least this far apart (ms)",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 0, 60000, c.wal_flush_min_ms); },
       [](const ServeConfig& c) { return std::to_string(c.wal_flush_min_ms); }},
      {"wal.batch.bytes", "object WAL: write the buffer as soon as it holds this many bytes",
       [](ServeConfig& c, const std::string& v) {
         return parse_int<int64_t>(v, 4096, INT64_C(1) << 30, c.wal_batch_bytes);
       },
       [](const ServeConfig& c) { return std::to_string(c.wal_batch_bytes); }},
      {"wal.inflight", "object WAL: PUTs in flight at most",
       [](ServeConfig& c, const std::string& v) { return parse_int<int32_t>(v, 1, 256, c.wal_inflight); },
       [](const ServeConfig& c) { return std::to_string(c.wal_inflight); }},
      {"wal.put.hedge.ms", "object WAL: send a twin of a PUT unanswered after this long (cuts the latency tail); 0: off",
       [](ServeConfig& c, const std::string& v) { return parse_int<int64_t>(v, 0, 60000, c.wal_put_hedge_ms); },
       [](const ServeConfig& c) { return std::to_string(c.wal_put_hedge_ms); }},
      {"http", "admin HTTP address host:port (/metrics, /healthz, /readyz); port 0 picks a free one",
       [](ServeConfig& c, const std::string& v) -> std::string {
         auto hp = parse_host_port(v);
         if (!hp) return "expected host:port, got '" + v + "'";
         c.http = *hp;
         return {};
       },
       [](const ServeConfig& c) { return host_port_text(c.http); }},
  };
  return opts;
}

std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '.', '-');
  return f;
}

std::string env_of(const std::string& key) {
  std::string e = "FLOE_";
  for (char c : key) e += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return e;
}

const Option* find_option(const std::string& key) {
  for (const auto& o : options()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r");
  size_t b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Reads `key = value` lines into `out`; returns an error line or "".
std::string read_config_file(const std::string& path, std::map<std::string, std::string>& out) {
  std::ifstream in(path);
  if (!in) return "config: cannot read file '" + path + "'";
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) return "config: " + path + ":" + std::to_string(n) + ": expected key = value";
    std::string key = trim(line.substr(0, eq));
    if (!find_option(key)) return "config: " + path + ":" + std::to_string(n) + ": unknown key '" + key + "'";
    out[key] = trim(line.substr(eq + 1));
  }
  return {};
}

}  // namespace

std::optional<HostPort> parse_host_port(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
  std::string port = text.substr(colon + 1);
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p > 65535 || port.empty()) return std::nullopt;
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

ConfigResult parse_serve_config(const std::vector<std::string>& args,
                                std::optional<std::string> (*environ_lookup)(const std::string&)) {
  ConfigResult result;
  std::map<std::string, std::string> values;  // key -> text, filled in precedence order (later wins)
  std::map<std::string, std::string> from_flags;
  std::optional<std::string> config_file = environ_lookup("FLOE_CONFIG");
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      result.help = true;
      return result;
    }
    std::string name = a, value;
    size_t eq = a.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const Option* opt = nullptr;
    for (const auto& o : options()) {
      if (flag_of(o.key) == name) opt = &o;
    }
    if (!opt && name != "--config") {
      result.error = "unknown flag '" + name + "' (see floe serve --help)";
      return result;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        result.error = (opt ? std::string(opt->key) : std::string("config")) + ": flag " + name + " needs a value";
        return result;
      }
      value = args[++i];
    }
    if (opt) from_flags[opt->key] = value;
    else config_file = value;
  }
  if (config_file) {
    if (auto err = read_config_file(*config_file, values); !err.empty()) {
      result.error = err;
      return result;
    }
  }
  for (const auto& o : options()) {
    if (auto v = environ_lookup(env_of(o.key))) values[o.key] = *v;
  }
  for (auto& [k, v] : from_flags) values[k] = v;
  for (const auto& [key, text] : values) {
    if (auto err = find_option(key)->apply(result.config, text); !err.empty()) {
      result.error = key + ": " + err;
      return result;
    }
  }
  // Clients cannot connect to a wildcard address, so one must be advertised (checked before anything starts).
  const std::string& host = result.config.listen.host;
  if (!result.config.advertise && (host == "0.0.0.0" || host == "::")) {
    result.error = "advertise: must be set when listen is a wildcard address (" + host + ")";
  }
  return result;
}

std::string serve_usage() {
  std::ostringstream os;
  os << "usage: floe serve [--config FILE] [--KEY VALUE]...\n\n"
     << "Starts a broker. With no settings: the embedded default (Kafka listener 127.0.0.1:9092, data in\n"
     << "./floe-data). Each KEY can also be set as FLOE_KEY in the environment or `KEY = value` in the config file\n"
     << "(FLOE_CONFIG names the file too).\n\n";
  for (const auto& o : options()) {
    os << "  " << flag_of(o.key) << "  (" << env_of(o.key) << ", key " << o.key << ", default " << o.show(ServeConfig{})
       << ")\n      " << o.help << "\n";
  }
  return os.str();
}

std::string format_config_entries(const std::vector<ConfigEntry>& entries) {
  std::string line;
  for (const auto& e : entries) {
    std::string v = e.secret ? std::string("<redacted>") : e.value;
    if (v.empty() || v.find_first_of(" \t\"=\\") != std::string::npos) {
      std::string quoted = "\"";
      for (char c : v) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
      }
      v = quoted + "\"";
    }
    if (!line.empty()) line += ' ';
    line += e.key + "=" + v;
  }
  return line;
}

std::string effective_config_line(const ServeConfig& config) {
  std::vector<ConfigEntry> entries;
  for (const auto& o : options()) {
    // A secret's value is never even formatted.
    entries.push_back(ConfigEntry{o.key, o.secret ? std::string() : o.show(config), o.secret});
  }
  return format_config_entries(entries);
}

}  // namespace floe::app
