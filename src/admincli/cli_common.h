// What the admin subcommands share: option parsing, the connection to the bootstrap broker and one-line errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "admincli/admin_cli.h"
#include "admincli/kafka_client.h"

namespace floe::admincli::cli {

inline constexpr const char* kDefaultBootstrap = "127.0.0.1:9092";
inline constexpr int kDefaultTimeoutMs = 10000;

struct Options {
  std::vector<std::string> positional;
  std::string bootstrap;
  int timeout_ms = kDefaultTimeoutMs;
  std::optional<int32_t> partitions;
  std::optional<int16_t> replication_factor;
  std::vector<std::pair<std::string, std::string>> configs;  // --config / --set k=v, in order
  std::vector<std::string> deletes;                          // --delete k
  std::string topic;                                         // --topic (floe cluster reassign)
  std::optional<int32_t> partition;                          // --partition
  std::optional<int32_t> to;                                 // --to BROKER
  bool help = false;
};

// A usage error: the message, already naming the option or argument.
struct Usage {
  std::string message;
};

std::optional<int64_t> parse_int(const std::string& s, int64_t lo, int64_t hi);

// Parses options anywhere among the positionals; `allowed` names the value options this command takes
// (--bootstrap and --timeout-ms always).
std::optional<Usage> parse_options(const std::vector<std::string>& args, const std::set<std::string>& allowed,
                                   Options& o);

// "1,2,3", or "-" for none.
std::string join_ints(const std::vector<int32_t>& v);

// A broker's error as one line: "NAME: message" (the broker's message, or our own words when it sent none).
std::string broker_error(int16_t code, const std::optional<std::string>& message, const std::string& fallback);

// One command's connection and error reporting.
class Command {
 public:
  Command(std::string prefix, std::ostream& out, std::ostream& err)
      : prefix_(std::move(prefix)), out_(out), err_(err) {}

  std::ostream& out() { return out_; }

  int usage(const std::string& message) {
    err_ << prefix_ << ": " << message << " (see floe " << prefix_.substr(5) << " --help)\n";
    return kExitUsage;
  }
  int fail(const std::string& what, const std::string& message) {
    err_ << prefix_ << ": " << what << ": " << message << "\n";
    return kExitBroker;
  }

  // Connects to the bootstrap broker; false (with the error reported) on failure.
  bool connect(const Options& o, const std::string& what, const EnvLookup& env, KafkaClient& client, int& rc) {
    std::string bootstrap = o.bootstrap;
    if (bootstrap.empty()) bootstrap = env("FLOE_BOOTSTRAP").value_or(kDefaultBootstrap);
    Result<HostPort> hp = parse_host_port(bootstrap);
    if (!hp) {
      rc = usage("--bootstrap: " + hp.error().message);
      return false;
    }
    if (Status s = client.connect(*hp, std::chrono::milliseconds(o.timeout_ms)); !s) {
      rc = fail(what, s.error().message);
      return false;
    }
    return true;
  }

 private:
  std::string prefix_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace floe::admincli::cli
