// What the drill reads back from its brokers' logs (cluster mode, the drill's own environment): the controller's
// failure verdicts, so a scenario can tell the failover it caused from failovers it did not (a live broker sealed
// because the controller stopped hearing it, e.g. while its own process stalled). The line it reads is the one
// cluster/controller_passes.cc writes once per failed epoch:
//   ... WARN cluster: controller: broker epoch <broker>/<epoch> failed: <why>
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace floe::drill {

struct FailedEpoch {
  int broker = -1;
  int64_t epoch = 0;
  std::string why;
  bool operator==(const FailedEpoch&) const = default;
};

// The failed epochs named in `log_text`, each once (a controller that takes over logs the same epoch again).
std::vector<FailedEpoch> parse_failed_epochs(std::string_view log_text);

// The bytes appended to the brokers' log files (broker-*.log in a work dir) since the last call, bounded per call.
class BrokerLogCursor {
 public:
  explicit BrokerLogCursor(std::string work_dir) : work_dir_(std::move(work_dir)) {}
  // Skips what is there now (the start of a window).
  void skip_to_end();
  // Everything appended since (at most max_bytes per file, the newest part when there is more).
  std::string read_new(std::size_t max_bytes = 16u << 20);

 private:
  std::string work_dir_;
  std::map<std::string, uint64_t> offsets_;
};

}  // namespace floe::drill
