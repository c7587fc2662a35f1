// Issue 7's done-when figures, checked per scenario (report.h: evaluate_targets). README.md says which window each
// target reads.
#include <string>

#include "drill/report.h"

namespace floe::drill {
namespace {

constexpr double kKill9RtoP50Ms = 1000, kKill9RtoMaxMs = 2000;
constexpr double kGracefulMoveP99Ms = 200;
constexpr double kDrainMs = 3000;

std::string windows_text(const WindowStats& w) {
  std::string t = "p50 " + duration_text(w.p50_ms) + ", p99 " + duration_text(w.p99_ms) + ", max " +
                  duration_text(w.max_ms);
  if (w.timed_out) t += " (" + std::to_string(w.timed_out) + " timed out)";
  return t;
}

std::string rto_all_text(const RecoverySummary& r) {
  std::string t = "p50 " + duration_text(r.rto_p50_ms) + ", p99 " + duration_text(r.rto_p99_ms) + ", max " +
                  duration_text(r.rto_max_ms);
  if (r.unrecovered) t += " (" + std::to_string(r.unrecovered) + " unrecovered)";
  return t;
}

bool graceful(const std::string& name) { return name == "scale-in" || name == "scale-out" || name == "rolling"; }

}  // namespace

std::optional<double> DrainFigures::bound_ms() const {
  if (to_zero_ms) return to_zero_ms;
  if (exited) return exit_ms;
  return std::nullopt;
}

std::vector<TargetCheck> evaluate_targets(const ScenarioResult& s) {
  std::vector<TargetCheck> out;
  if (!s.ran) return out;
  const auto add = [&](std::string what, std::string figure, std::string limit, bool met) {
    out.push_back(TargetCheck{s.name, std::move(what), std::move(figure), std::move(limit), met});
  };
  const WindowStats& moved = s.moves.moved;
  const std::string victim = "broker " + std::to_string(s.victim);
  if (s.name == "kill9" || s.name == "sigstop") {
    double max_limit = kKill9RtoMaxMs;
    std::string limit = "p50 <= 1 s, max <= 2 s";
    if (s.name == "sigstop") {
      const double ttl = static_cast<double>(s.lease_ttl_ms.value_or(0));
      max_limit = ttl + 1000;
      limit = "max <= lease TTL " + duration_text(ttl) + " + 1 s";
    }
    const bool p50_bound = s.name == "kill9";
    const auto met = [&](double p50, double max, bool complete) {
      return complete && max <= max_limit && (!p50_bound || p50 <= kKill9RtoP50Ms);
    };
    add("RTO of the " + std::to_string(moved.partitions) + " partitions " + victim +
            " led (fault -> first ack from the new leader)",
        moved.samples ? windows_text(moved) : "no partition moved", limit,
        moved.samples > 0 && met(moved.p50_ms, moved.max_ms, moved.timed_out == 0));
    add("RTO of all " + std::to_string(s.recovery.partitions) + " partitions (fault -> first ack, moved or not)",
        rto_all_text(s.recovery), limit,
        met(s.recovery.rto_p50_ms, s.recovery.rto_max_ms, s.recovery.unrecovered == 0));
  }
  if (graceful(s.name)) {
    add("write unavailability per graceful move (" + std::to_string(moved.samples) + " moves of " +
            std::to_string(moved.partitions) + " partitions: old leader's last ack -> new leader's first ack)",
        moved.samples ? windows_text(moved) : "no partition moved", "p99 <= 200 ms",
        moved.samples > 0 && moved.p99_ms <= kGracefulMoveP99Ms);
  }
  const WindowStats& later = s.moves.later_moves;
  if (!graceful(s.name) && later.samples > 0) {
    add("write unavailability per balancing move after the recovery (" + std::to_string(later.samples) +
            " moves of " + std::to_string(later.partitions) + " partitions)",
        windows_text(later), "p99 <= 200 ms", later.p99_ms <= kGracefulMoveP99Ms);
  }
  for (const auto& d : s.drains) {
    const auto bound = d.bound_ms();
    std::string figure = bound ? duration_text(*bound) : "did not drain";
    if (bound && !d.to_zero_ms) figure = "<= " + figure + " (exited before Metadata showed 0)";
    add("drain of broker " + std::to_string(d.broker) + " leading " + std::to_string(d.led) +
            " partitions (SIGTERM -> it leads 0)",
        figure, "<= 3 s", bound && *bound <= kDrainMs);
  }
  add("log data copied between brokers", s.copied_measured ? bytes_text(s.copied_bytes) : "not measured", "0 B",
      s.copied_measured && s.copied_bytes == 0);
  return out;
}

}  // namespace floe::drill
