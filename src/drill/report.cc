#include "drill/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "admincli/table.h"

namespace floe::drill {

std::string duration_text(double ms) {
  char buf[32];
  if (ms >= 10000)
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

std::string bytes_text(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

namespace {

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[48];
  if (v == std::floor(v) && std::fabs(v) < 9e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

template <typename T>
std::string opt_num(const std::optional<T>& v) {
  return v ? num(static_cast<double>(*v)) : "null";
}

std::string window_json(const WindowStats& w) {
  return "{\"partitions\": " + std::to_string(w.partitions) + ", \"samples\": " + std::to_string(w.samples) +
         ", \"timed_out\": " + std::to_string(w.timed_out) + ", \"p50\": " + num(w.p50_ms) +
         ", \"p99\": " + num(w.p99_ms) + ", \"max\": " + num(w.max_ms) + "}";
}

std::string client_json(const ClientLatency& c) {
  if (!c.present) return "null";
  return "{\"queue_p50\": " + num(c.int_latency_p50_ms) + ", \"queue_p99\": " + num(c.int_latency_p99_ms) +
         ", \"outbuf_p99\": " + num(c.outbuf_latency_p99_ms) + ", \"rtt_p50\": " + num(c.rtt_p50_ms) +
         ", \"rtt_p99\": " + num(c.rtt_p99_ms) + ", \"in_flight\": " + std::to_string(c.in_flight) +
         ", \"undelivered\": " + std::to_string(c.queued) + "}";
}

}  // namespace

double StorageFigures::objstore_request_total() const {
  double t = 0;
  for (const auto& [op, n] : objstore_requests) t += n;
  return t;
}

bool Report::passed() const {
  if (!verify_complete || verify.acked_lost != 0 || !failed_epochs_after.empty()) return false;
  for (const auto& s : scenarios) {
    if (!s.ran || !s.problems.empty() || s.copied_bytes != 0) return false;
  }
  return true;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

// "640 / 1210 / 1900" (ms), "-" for an empty group.
std::string triple(const WindowStats& w) {
  if (!w.samples) return "-";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.0f / %.0f / %.0f%s", w.p50_ms, w.p99_ms, w.max_ms,
                w.timed_out ? (" (" + std::to_string(w.timed_out) + " t/o)").c_str() : "");
  return buf;
}

// "move: 333 opened, p50 <= 131 ms, p99 <= 262 ms, max <= 524 ms; failover: ..." ("" when none).
std::string handoff_text(const StorageFigures& f) {
  std::string out;
  for (const auto& [cause, buckets] : f.handoff_buckets) {
    const BucketQuantiles q = bucket_quantiles(buckets);
    if (q.count <= 0) continue;
    const auto bound = [](double seconds) {
      return std::isfinite(seconds) ? "<= " + duration_text(seconds * 1000) : std::string("> the largest bucket");
    };
    out += (out.empty() ? "" : "; ") + cause + ": " + num(q.count) + " opened, p50 " + bound(q.p50) + ", p99 " +
           bound(q.p99) + ", max " + bound(q.max);
  }
  return out;
}

std::string moved_count(const ScenarioResult& s) {
  const auto& m = s.moves.moved;
  if (m.samples == m.partitions) return std::to_string(m.partitions);
  return std::to_string(m.partitions) + " (" + std::to_string(m.samples) + " moves)";
}

}  // namespace

void print_summary(std::ostream& out, const Report& r) {
  if (!r.config.producers_reason.empty()) out << "producers: " << r.config.producers_reason << "\n";
  if (!r.config.request_timeout_reason.empty()) out << "client: " << r.config.request_timeout_reason << "\n";
  out << "write availability per partition, ms as p50 / p99 / max (README.md defines each window):\n";
  admincli::Table a({"scenario", "moved", "moved window", "not moved", "not-moved window", "RTO all partitions",
                     "ack latency before", "stall", "errors"});
  for (const auto& s : r.scenarios) {
    if (!s.ran) {
      a.add({s.name, "skipped", "", "", "", "", "", "", ""});
      continue;
    }
    const auto& rc = s.recovery;
    char rto[96], before[64];
    std::snprintf(rto, sizeof rto, "%.0f / %.0f / %.0f%s", rc.rto_p50_ms, rc.rto_p99_ms, rc.rto_max_ms,
                  rc.unrecovered ? (" (" + std::to_string(rc.unrecovered) + " unrecovered)").c_str() : "");
    std::snprintf(before, sizeof before, "%.0f / %.0f", s.ack_latency_before.p50_ms, s.ack_latency_before.p99_ms);
    a.add({s.name, moved_count(s), triple(s.moves.moved), std::to_string(s.moves.unmoved.partitions),
           triple(s.moves.unmoved), rto, s.ack_latency_before.acks ? std::string(before) + " (p50 / p99)" : "-",
           duration_text(rc.stall_ms), std::to_string(s.producer_errors)});
  }
  a.print(out);
  out << "consumers and storage:\n";
  admincli::Table t({"scenario", "lag peak", "catch-up", "copied", "objstore read", "objstore reqs", "drain to 0",
                     "exit"});
  for (const auto& s : r.scenarios) {
    if (!s.ran) {
      t.add({s.name, "skipped", "", "", "", "", "", ""});
      continue;
    }
    std::string drain = "-";
    for (const auto& d : s.drains) {
      const auto b = d.bound_ms();
      const std::string one = b ? (d.to_zero_ms ? "" : "<= ") + duration_text(*b) : "no";
      drain = drain == "-" ? one : drain + ", " + one;
    }
    t.add({s.name, std::to_string(s.lag.peak), s.lag.catch_up_ms ? duration_text(*s.lag.catch_up_ms) : "not caught up",
           s.copied_measured ? bytes_text(s.copied_bytes) : "not measured", bytes_text(s.storage.objstore_read_bytes),
           s.storage.objstore_metrics ? num(s.storage.objstore_request_total()) : "n/a", drain,
           s.drain_ms ? duration_text(*s.drain_ms) : "-"});
  }
  t.print(out);
  for (const auto& s : r.scenarios) {
    if (!s.ran) {
      out << "  " << s.name << ": skipped: " << s.skipped << "\n";
      continue;
    }
    out << "  " << s.name << ": " << s.what;
    if (s.zombie_acks) out << "; zombie acks after its lease expired: " << *s.zombie_acks;
    if (s.rejoined) out << "; rejoined: " << (*s.rejoined ? "yes" : "no");
    out << "\n";
    if (s.moves.later_moves.samples) {
      out << "    later moves (balancing after the recovery): " << s.moves.later_moves.samples << " of "
          << s.moves.later_moves.partitions << " partitions, " << triple(s.moves.later_moves) << " ms\n";
    }
    for (std::size_t k = 0; k < s.failed_epochs.size(); ++k) {
      const auto& f = s.failed_epochs[k];
      const bool planned = k < s.failed_epoch_planned.size() && s.failed_epoch_planned[k];
      out << "    controller failed broker " << f.broker << " epoch " << f.epoch << " (" << f.why << ")"
          << (planned ? ": the drill's fault" : ": NOT the drill's fault") << "\n";
    }
    if (const auto& c = s.client_before; c.present) {
      char line[320];
      std::snprintf(line, sizeof line,
                    "    librdkafka before the fault (worst instance, last second): queue p50 %.0f / p99 %.0f ms, "
                    "rtt p50 %.0f / p99 %.0f ms, requests in flight %lld, undelivered %lld\n",
                    c.int_latency_p50_ms, c.int_latency_p99_ms, c.rtt_p50_ms, c.rtt_p99_ms,
                    static_cast<long long>(c.in_flight), static_cast<long long>(c.queued));
      out << line;
    }
    if (const std::string h = handoff_text(s.storage); !h.empty()) {
      out << "    broker-side handoff (change of owner -> serving, every topic; bucket bounds): " << h << "\n";
    }
    if (s.moves.unknown_leader) {
      out << "    " << s.moves.unknown_leader << " partitions had no ack before the fault (counted as not moved)\n";
    }
    for (const auto& p : s.problems) out << "    PROBLEM: " << p << "\n";
  }
  int met = 0, targets = 0;
  admincli::Table g({"scenario", "target", "figure", "limit", "result"});
  for (const auto& s : r.scenarios) {
    for (const auto& c : evaluate_targets(s)) {
      g.add({c.scenario, c.what, c.figure, c.limit, c.met ? "MET" : "NOT MET"});
      ++targets;
      met += c.met;
    }
  }
  if (targets) {
    out << "targets (issue 7):\n";
    g.print(out);
  }
  if (r.verify_complete) {
    out << "read-back: " << r.verify.acked << " acked records checked, " << r.verify.acked_lost << " lost, "
        << r.verify.duplicates << " duplicated, " << r.verify.failed_but_present << " failed-but-durable (produced "
        << r.total_produced << ", failed " << r.total_failed << ")\n";
  } else {
    // An incomplete read-back proves nothing either way: what it did not reach is not a loss figure.
    out << "read-back INCOMPLETE (" << r.verify_note << "): " << r.verify.acked_lost << " of " << r.verify.acked
        << " acked records not reached, " << r.verify.duplicates << " duplicated among those read (produced "
        << r.total_produced << ", failed " << r.total_failed << "); no loss verdict\n";
  }
  for (const auto& f : r.failed_epochs_after) {
    out << "PROBLEM: after the scenarios (load stop, read-back) the controller failed broker " << f.broker
        << " epoch " << f.epoch << " (" << f.why << "), which the drill did not stop\n";
  }
  out << "targets: " << met << " of " << targets << " met (performance; not part of the verdict)\n";
  out << "verdict: " << (r.passed() ? "PASS" : "FAIL")
      << " (a pass needs: every acked record read back, nothing copied, no problem in any scenario)\n";
}

void write_json(std::ostream& out, const Report& r) {
  const auto& c = r.config;
  out << "{\n  \"config\": {\"mode\": " << json_string(c.mode) << ", \"brokers\": " << c.brokers
      << ", \"partitions\": " << c.partitions << ", \"rate_mib_per_s\": " << num(c.rate_mib)
      << ", \"record_bytes\": " << c.record_bytes << ", \"store\": " << json_string(c.store)
      << ", \"session_timeout_ms\": " << c.session_timeout_ms
      << ", \"request_timeout_ms\": " << c.request_timeout_ms << ", \"producers\": " << c.producers
      << ", \"producers_reason\": " << json_string(c.producers_reason)
      << ", \"request_timeout_reason\": " << json_string(c.request_timeout_reason)
      << ", \"topic\": " << json_string(c.topic)
      << ", \"work_dir\": " << json_string(c.work_dir) << "},\n";
  out << "  \"passed\": " << (r.passed() ? "true" : "false") << ",\n";
  out << "  \"scenarios\": [";
  for (std::size_t i = 0; i < r.scenarios.size(); ++i) {
    const auto& s = r.scenarios[i];
    const auto& rc = s.recovery;
    out << (i ? ",\n" : "\n") << "    {\"name\": " << json_string(s.name)
        << ", \"ran\": " << (s.ran ? "true" : "false");
    if (!s.ran) {
      out << ", \"skipped\": " << json_string(s.skipped) << "}";
      continue;
    }
    out << ", \"what\": " << json_string(s.what) << ", \"fault_ms\": " << s.fault_ms << ", \"end_ms\": " << s.end_ms
        << ",\n     \"rto_ms\": {\"p50\": " << num(rc.rto_p50_ms) << ", \"p99\": " << num(rc.rto_p99_ms)
        << ", \"max\": " << num(rc.rto_max_ms) << ", \"partitions\": " << rc.partitions
        << ", \"unrecovered\": " << rc.unrecovered << "}"
        << ",\n     \"victim\": " << s.victim << ", \"moved_ms\": " << window_json(s.moves.moved)
        << ",\n     \"not_moved_ms\": " << window_json(s.moves.unmoved)
        << ",\n     \"later_moves_ms\": " << window_json(s.moves.later_moves)
        << ", \"unknown_leader\": " << s.moves.unknown_leader
        << ",\n     \"ack_latency_before_ms\": {\"from_ms\": " << s.ack_latency_before.from_ms
        << ", \"to_ms\": " << s.ack_latency_before.to_ms << ", \"acks\": " << s.ack_latency_before.acks
        << ", \"p50\": " << num(s.ack_latency_before.p50_ms) << ", \"p99\": " << num(s.ack_latency_before.p99_ms) << "}"
        << ",\n     \"client_before_ms\": " << client_json(s.client_before)
        << ",\n     \"write_gap_ms\": {\"p50\": " << num(rc.gap_p50_ms) << ", \"p99\": " << num(rc.gap_p99_ms)
        << ", \"max\": " << num(rc.gap_max_ms) << "}, \"producer_stall_ms\": " << num(rc.stall_ms)
        << ", \"producer_errors\": " << s.producer_errors
        << ",\n     \"consumer_lag\": {\"baseline\": " << s.lag.baseline << ", \"peak\": " << s.lag.peak
        << ", \"catch_up_ms\": " << opt_num(s.lag.catch_up_ms) << "}"
        << ",\n     \"bytes_copied_between_brokers\": " << (s.copied_measured ? num(s.copied_bytes) : "null")
        << ", \"unexplained_records\": " << s.unexplained_records << ", \"delivered_records\": " << s.delivered_records
        << ",\n     \"brokers\": {\"appended_bytes\": " << num(s.storage.appended_bytes)
        << ", \"appended_records\": " << num(s.storage.appended_records)
        << ", \"served_bytes\": " << num(s.storage.served_bytes)
        << ", \"objstore_read_bytes\": " << num(s.storage.objstore_read_bytes)
        << ", \"objstore_metrics\": " << (s.storage.objstore_metrics ? "true" : "false")
        << ", \"objstore_requests\": {";
    bool first = true;
    for (const auto& [op, n] : s.storage.objstore_requests) {
      out << (first ? "" : ", ") << json_string(op) << ": " << num(n);
      first = false;
    }
    out << "}, \"objstore_requests_total\": " << num(s.storage.objstore_request_total()) << ", \"handoff_s\": {";
    first = true;
    for (const auto& [cause, buckets] : s.storage.handoff_buckets) {
      const BucketQuantiles q = bucket_quantiles(buckets);
      out << (first ? "" : ", ") << json_string(cause) << ": {\"count\": " << num(q.count) << ", \"p50_le\": "
          << num(q.p50) << ", \"p99_le\": " << num(q.p99) << ", \"max_le\": " << num(q.max) << "}";
      first = false;
    }
    out << "}}"
        << ",\n     \"drain_ms\": " << opt_num(s.drain_ms) << ", \"drains\": [";
    for (std::size_t k = 0; k < s.drains.size(); ++k) {
      const auto& d = s.drains[k];
      out << (k ? ", " : "") << "{\"broker\": " << d.broker << ", \"led\": " << d.led
          << ", \"to_zero_ms\": " << opt_num(d.to_zero_ms) << ", \"exit_ms\": " << num(d.exit_ms)
          << ", \"exited\": " << (d.exited ? "true" : "false") << "}";
    }
    out << "], \"failed_epochs\": [";
    for (std::size_t k = 0; k < s.failed_epochs.size(); ++k) {
      const auto& f = s.failed_epochs[k];
      const bool planned = k < s.failed_epoch_planned.size() && s.failed_epoch_planned[k];
      out << (k ? ", " : "") << "{\"broker\": " << f.broker << ", \"epoch\": " << f.epoch
          << ", \"why\": " << json_string(f.why) << ", \"planned\": " << (planned ? "true" : "false") << "}";
    }
    out << "], \"lease_ttl_ms\": " << opt_num(s.lease_ttl_ms) << ",\n     \"targets\": [";
    const auto checks = evaluate_targets(s);
    for (std::size_t k = 0; k < checks.size(); ++k) {
      const auto& c = checks[k];
      out << (k ? ",\n       " : "\n       ") << "{\"what\": " << json_string(c.what)
          << ", \"figure\": " << json_string(c.figure) << ", \"limit\": " << json_string(c.limit)
          << ", \"met\": " << (c.met ? "true" : "false") << "}";
    }
    out << "]"
        << ",\n     \"zombie_acks\": " << opt_num(s.zombie_acks)
        << ", \"rejoined\": " << (s.rejoined ? (*s.rejoined ? "true" : "false") : "null") << ", \"problems\": [";
    for (std::size_t k = 0; k < s.problems.size(); ++k) out << (k ? ", " : "") << json_string(s.problems[k]);
    out << "]}";
  }
  out << "\n  ],\n";
  const auto& v = r.verify;
  out << "  \"verify\": {\"complete\": " << (r.verify_complete ? "true" : "false")
      << ", \"note\": " << json_string(r.verify_note) << ", \"acked\": " << v.acked
      << ", \"acked_lost\": " << v.acked_lost << ", \"duplicates\": " << v.duplicates
      << ", \"failed_but_present\": " << v.failed_but_present << ", \"first_lost_seq\": " << v.first_lost_seq
      << ", \"produced\": " << r.total_produced << ", \"failed\": " << r.total_failed << "},\n";
  out << "  \"failed_epochs_after_scenarios\": [";
  for (std::size_t k = 0; k < r.failed_epochs_after.size(); ++k) {
    const auto& f = r.failed_epochs_after[k];
    out << (k ? ", " : "") << "{\"broker\": " << f.broker << ", \"epoch\": " << f.epoch
        << ", \"why\": " << json_string(f.why) << "}";
  }
  out << "],\n";
  out << "  \"events\": [";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    out << (i ? ", " : "") << "{\"t_ms\": " << r.events[i].t_ms << ", \"label\": " << json_string(r.events[i].label)
        << "}";
  }
  out << "],\n  \"timeline\": [";
  for (std::size_t i = 0; i < r.timeline.size(); ++i) {
    const auto& s = r.timeline[i];
    out << (i ? ",\n    " : "\n    ") << "{\"t_ms\": " << s.t_ms << ", \"produced\": " << s.produced
        << ", \"acked\": " << s.acked << ", \"errors\": " << s.errors << ", \"consumed\": " << s.consumed
        << ", \"lag\": " << s.lag << ", \"p50_ms\": " << num(s.p50_ms) << ", \"p99_ms\": " << num(s.p99_ms)
        << ", \"max_ms\": " << num(s.max_ms) << "}";
  }
  out << "\n  ]\n}\n";
}

}  // namespace floe::drill
