#include "admincli/cli_common.h"

#include <climits>

#include "admincli/kafka_errors.h"

namespace floe::admincli::cli {

std::optional<int64_t> parse_int(const std::string& s, int64_t lo, int64_t hi) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j)
    if (s[j] < '0' || s[j] > '9') return std::nullopt;
  int64_t v = std::stoll(s);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<Usage> parse_options(const std::vector<std::string>& args, const std::set<std::string>& allowed,
                                   Options& o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      continue;
    }
    if (a.size() < 2 || a.compare(0, 2, "--") != 0) {
      o.positional.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (name != "--bootstrap" && name != "--timeout-ms" && !allowed.count(name)) return Usage{"unknown option " + name};
    if (!has_value) {
      if (i + 1 >= args.size()) return Usage{name + " needs a value"};
      value = args[++i];
    }
    if (name == "--bootstrap") {
      o.bootstrap = value;
    } else if (name == "--timeout-ms") {
      auto v = parse_int(value, 1, 3600000);
      if (!v) return Usage{"bad --timeout-ms '" + value + "': expected milliseconds, 1-3600000"};
      o.timeout_ms = static_cast<int>(*v);
    } else if (name == "--partitions") {
      auto v = parse_int(value, 1, 1000000);
      if (!v) return Usage{"bad --partitions '" + value + "': expected a count, 1-1000000"};
      o.partitions = static_cast<int32_t>(*v);
    } else if (name == "--replication-factor") {
      auto v = parse_int(value, 1, 32767);
      if (!v) return Usage{"bad --replication-factor '" + value + "': expected 1-32767"};
      o.replication_factor = static_cast<int16_t>(*v);
    } else if (name == "--config" || name == "--set") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return Usage{"bad " + name + " '" + value + "': expected KEY=VALUE"};
      o.configs.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (name == "--topic") {
      if (value.empty()) return Usage{"bad --topic: empty topic name"};
      o.topic = value;
    } else if (name == "--partition") {
      auto v = parse_int(value, 0, INT32_MAX);
      if (!v) return Usage{"bad --partition '" + value + "': expected a partition index"};
      o.partition = static_cast<int32_t>(*v);
    } else if (name == "--to") {
      auto v = parse_int(value, 0, INT32_MAX);
      if (!v) return Usage{"bad --to '" + value + "': expected a broker id"};
      o.to = static_cast<int32_t>(*v);
    } else if (name == "--delete") {
      if (value.empty() || value.find('=') != std::string::npos)
        return Usage{"bad --delete '" + value + "': expected a config KEY"};
      o.deletes.push_back(value);
    }
  }
  return std::nullopt;
}

std::string join_ints(const std::vector<int32_t>& v) {
  if (v.empty()) return "-";
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string broker_error(int16_t code, const std::optional<std::string>& message, const std::string& fallback) {
  std::string text = kafka_error_name(code);
  if (message && !message->empty()) return text + ": " + *message;
  return fallback.empty() ? text : text + ": " + fallback;
}
}  // namespace floe::admincli::cli
