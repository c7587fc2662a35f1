// `floe topic|group|config ...`: admin subcommands that speak the Kafka protocol to a broker (--bootstrap H:P,
// FLOE_BOOTSTRAP, default 127.0.0.1:9092), like any Kafka tool. Exit codes: 0 ok, 1 the broker (or the network)
// said no, 2 usage. Errors are one line on stderr: "floe topic: create orders: TOPIC_ALREADY_EXISTS: ...".
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace floe::admincli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitBroker = 1;
inline constexpr int kExitUsage = 2;

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// True for the commands this module runs ("topic", "group", "config").
bool is_admin_command(const std::string& command);

// Runs `floe COMMAND ARGS...`; tables go to `out`, errors to `err`. Returns the exit code.
int run_admin_command(const std::string& command, const std::vector<std::string>& args, std::ostream& out,
                      std::ostream& err, const EnvLookup& env);

// Lines for `floe --help`'s command list.
std::string admin_commands_usage();

}  // namespace floe::admincli
