// The six scenarios and the window around each: settle, checkpoint (producer quiesced, brokers scraped), fault,
// recovery, observation, checkpoint. See README.md for what each one does and checks.
#include <cmath>
#include <limits>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <utility>

#include "drill/drill.h"

namespace floe::drill {
namespace {

std::string ms(int64_t v) { return std::to_string(v) + " ms"; }

bool listed(const Leadership& l, int node) {
  for (int b : l.brokers) {
    if (b == node) return true;
  }
  return false;
}

}  // namespace

void DrillRun::event(const std::string& label, bool on_chart) {
  const int64_t t = drill_now_ms();
  if (on_chart) report_.events.push_back(Event{t, label});
  char head[32];
  std::snprintf(head, sizeof head, "[%7.1fs] ", static_cast<double>(t) / 1000);
  std::cout << head << label << "\n" << std::flush;
}

Result<Leadership> DrillRun::metadata() {
  std::vector<std::string> addresses;
  if (env_.options().external()) {
    std::string a;
    for (char c : env_.options().external_bootstrap + ",") {
      if (c != ',')
        a += c;
      else if (!a.empty())
        addresses.push_back(std::exchange(a, ""));
    }
  } else {
    for (BrokerProcess* b : env_.live_brokers()) {
      if (!paused_.count(b->node_id)) addresses.push_back(b->bootstrap());
    }
  }
  return probe_metadata(addresses, options_.topic, std::chrono::seconds(2));
}

void DrillRun::scrape_all() {
  for (BrokerProcess* b : env_.live_brokers()) {
    if (paused_.count(b->node_id)) continue;
    ledger_.scrape(b->node_id, b->starts, b->http());
  }
  last_scrape_ms_ = drill_now_ms();
}

bool DrillRun::wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const int64_t deadline = drill_now_ms() + timeout.count();
  for (;;) {
    if (done()) return true;
    if (interrupted() || drill_now_ms() >= deadline) return false;
    if (drill_now_ms() - last_scrape_ms_ >= 1000) scrape_all();
    sleep_for(std::chrono::milliseconds(std::min<int64_t>(100, std::max<int64_t>(1, deadline - drill_now_ms()))));
  }
}

BrokerProcess* DrillRun::pick_victim(int* leads) {
  auto live = env_.live_brokers();
  *leads = -1;
  if (live.empty()) return nullptr;
  BrokerProcess* best = live.back();
  if (auto md = metadata()) {
    for (BrokerProcess* b : live) {
      const int n = md->led_by(b->node_id);
      if (n > *leads) {
        *leads = n;
        best = b;
      }
    }
  }
  return best;
}

void DrillRun::mark_fault(ScenarioResult& r) {
  r.fault_ms = drill_now_ms();
  r.ack_latency_before = summarize_latency(load_.recent_latencies(), r.fault_ms - kBaselineMs, r.fault_ms);
  r.client_before = load_.client_latency();
}

DrainFigures DrillRun::drain(BrokerProcess* b, int led) {
  DrainFigures d;
  d.broker = b->node_id;
  d.led = led;
  const int64_t t0 = drill_now_ms();
  b->process->signal(SIGTERM);
  // Metadata every ~50 ms until it shows the broker leading nothing, then wait for the exit; both bounded.
  const int64_t deadline = t0 + kDrainTimeoutMs;
  while (!interrupted() && drill_now_ms() < deadline) {
    if (!b->process->running()) break;
    if (!d.to_zero_ms) {
      auto md = metadata();
      const int64_t now = drill_now_ms();
      if (md && !md->leader_of.empty() && md->led_by(b->node_id) == 0) d.to_zero_ms = static_cast<double>(now - t0);
    }
    sleep_for(std::chrono::milliseconds(d.to_zero_ms ? 20 : 50));
  }
  d.exited = !b->process->running();
  d.exit_ms = static_cast<double>(drill_now_ms() - t0);
  return d;
}

bool DrillRun::wait_recovered(ScenarioResult& r, int64_t since_ms, const std::string& what) {
  const int partitions = options_.partitions;
  const bool ok = wait_until([&] { return load_.partitions_acked_since(since_ms) == partitions; }, recovery_timeout());
  if (!ok) {
    r.problems.push_back(std::to_string(partitions - load_.partitions_acked_since(since_ms)) + " of " +
                         std::to_string(partitions) + " partitions took no write within " +
                         std::to_string(options_.recovery_timeout_s) + " s " + what + ": " +
                         silent_partitions(since_ms));
  }
  return ok;
}

std::string DrillRun::silent_partitions(int64_t since_ms) {
  // Where the client last had each acked and whom the brokers name as leader now: a live leader here with the
  // partition still silent points at the client, no leader (-1) at the brokers.
  const auto acks = load_.ack_times();
  const auto leaders = load_.ack_leaders();
  const auto md = metadata();
  std::string which;
  int listed = 0, silent = 0;
  for (std::size_t p = 0; p < acks.size(); ++p) {
    if (!acks[p].empty() && acks[p].back() >= since_ms) continue;
    if (++silent > 10) continue;
    ++listed;
    which += (which.empty() ? "" : ", ") + std::to_string(p) + " (last ack ";
    which += acks[p].empty() ? "never" : "at " + std::to_string(acks[p].back()) + " ms";
    if (!leaders[p].empty()) which += " from broker " + std::to_string(leaders[p].back().broker);
    std::string leader_now = "; Metadata leader unknown";
    if (md) {
      const auto it = md->leader_of.find(static_cast<int>(p));
      if (it != md->leader_of.end()) leader_now = "; Metadata leader now " + std::to_string(it->second);
    }
    which += leader_now + ")";
  }
  return "partition " + which + (silent > listed ? ", ..." : "");
}

bool DrillRun::wait_listed(int node, bool want_listed, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        auto md = metadata();
        return md && listed(*md, node) == want_listed;
      },
      timeout);
}

ScenarioResult DrillRun::run(const std::string& name) {
  ScenarioResult r;
  r.name = name;
  const bool needs_cluster = name == "replace" || name == "scale-out" || name == "scale-in";
  if (options_.embedded && needs_cluster) {
    r.skipped = "needs cluster mode (--embedded runs one broker with its own storage)";
    return r;
  }
  const bool restarts = name == "kill9" || name == "replace" || name == "scale-out" || name == "rolling";
  if (env_.options().external() && restarts) {
    r.skipped = "an existing cluster: the drill cannot start its brokers again";
    return r;
  }
  if (env_.options().external() && env_.live_brokers().empty()) {
    r.skipped = "no --broker ID=PID of the existing cluster is running";
    return r;
  }
  if (name == "scale-in" && !env_.options().external() && env_.live_brokers().size() < 2) {
    r.skipped = "needs at least 2 live brokers";
    return r;
  }
  pause(std::chrono::seconds(options_.settle_s));
  if (interrupted()) {
    r.skipped = "interrupted";
    return r;
  }
  StorageFigures start_fig, end_fig;
  int64_t start_delivered = 0, end_delivered = 0;
  const bool quiet_start = load_.quiesce(
      [&] {
        scrape_all();
        start_fig = ledger_.totals();
        start_delivered = load_.delivered_total();
      },
      std::chrono::seconds(20));
  const int64_t start_errors = load_.errors_total();
  broker_logs_.skip_to_end();
  r.ran = true;
  victim_back_ms_ = std::numeric_limits<int64_t>::max();
  if (name == "kill9")
    kill9(r);
  else if (name == "sigstop")
    sigstop(r);
  else if (name == "replace")
    replace(r);
  else if (name == "scale-out")
    scale_out(r);
  else if (name == "scale-in")
    scale_in(r);
  else if (name == "rolling")
    rolling(r);
  pause(std::chrono::seconds(options_.settle_s));  // observation: lag catch-up, moves back
  // The window stays open (bounded) until the consumer is back at its pre-fault lag, so "catch-up" is measured
  // rather than cut off by a fixed window (a group rebalance after a coordinator move can outlast the settle).
  const int64_t lag_baseline = summarize_lag(load_.lag_samples(), r.fault_ms, r.fault_ms).baseline;
  wait_until(
      [&] {
        const auto lag = load_.lag_samples();
        return !lag.empty() && lag.back().t_ms > r.fault_ms && lag.back().lag <= lag_baseline;
      },
      recovery_timeout());
  r.end_ms = drill_now_ms();
  const bool quiet_end = load_.quiesce(
      [&] {
        scrape_all();
        end_fig = ledger_.totals();
        end_delivered = load_.delivered_total();
      },
      std::chrono::seconds(20));

  r.storage = difference(start_fig, end_fig);
  r.delivered_records = end_delivered - start_delivered;
  r.producer_errors = load_.errors_total() - start_errors;
  const auto acks = load_.ack_times();
  r.recovery = summarize_recovery(acks, r.fault_ms, r.end_ms);
  WindowSpec spec;
  spec.fault_ms = r.fault_ms;
  spec.end_ms = r.end_ms;
  spec.timeout_ms = recovery_timeout().count();
  spec.victim = r.victim;
  spec.victim_back_ms = victim_back_ms_;
  r.moves = summarize_moves(acks, load_.ack_leaders(), spec);
  r.lag = summarize_lag(load_.lag_samples(), r.fault_ms, r.end_ms);
  if (quiet_start && quiet_end) {
    r.copied_measured = true;
    r.unexplained_records = std::llround(r.storage.appended_records) - r.delivered_records;
    const double per_record =
        r.storage.appended_records > 0 ? r.storage.appended_bytes / r.storage.appended_records : 0;
    r.copied_bytes = r.unexplained_records > 0 ? static_cast<double>(r.unexplained_records) * per_record : 0;
    if (r.copied_bytes > 0) {
      r.problems.push_back("brokers appended " + std::to_string(r.unexplained_records) +
                           " records more than the producer delivered (copied or duplicated log data)");
    }
  } else {
    r.problems.push_back("the producer did not quiesce within 20 s at a checkpoint: copied bytes not measured");
  }
  r.failed_epochs = parse_failed_epochs(broker_logs_.read_new());
  bool victim_explained = false;
  for (const auto& f : r.failed_epochs) {
    const bool planned = r.victim >= 0 && f.broker == r.victim && !victim_explained;
    victim_explained = victim_explained || planned;
    r.failed_epoch_planned.push_back(planned);
    if (!planned) {
      r.problems.push_back("unplanned failover: the controller failed broker " + std::to_string(f.broker) +
                           " epoch " + std::to_string(f.epoch) + " (" + f.why + "), which the drill did not stop");
    }
  }
  if (r.recovery.unrecovered) {
    r.problems.push_back(std::to_string(r.recovery.unrecovered) + " partitions took no write after the fault: " +
                         silent_partitions(r.fault_ms));
  }
  if (!r.lag.catch_up_ms) r.problems.push_back("the consumer lag did not come back to its pre-fault level");
  if (const std::string fatal = load_.fatal_error(); !fatal.empty()) {
    r.problems.push_back("the idempotent producer failed fatally: " + fatal);
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "%s: %d moved, window p50 %.0f / p99 %.0f / max %.0f ms; not moved p99 %.0f ms; RTO all partitions "
                "p50 %.0f, max %.0f ms; ack latency before p99 %.0f ms; errors %lld; %zu problems",
                name.c_str(), r.moves.moved.partitions, r.moves.moved.p50_ms, r.moves.moved.p99_ms,
                r.moves.moved.max_ms, r.moves.unmoved.p99_ms, r.recovery.rto_p50_ms, r.recovery.rto_max_ms,
                r.ack_latency_before.p99_ms, static_cast<long long>(r.producer_errors), r.problems.size());
  event(line, false);
  return r;
}

void DrillRun::kill9(ScenarioResult& r) {
  int leads = 0;
  BrokerProcess* v = pick_victim(&leads);
  if (!v) {
    r.problems.push_back("no live broker to kill");
    return;
  }
  const int id = v->node_id;
  const pid_t pid = v->process->pid();
  r.victim = id;
  scrape_all();
  mark_fault(r);
  v->process->signal(SIGKILL);
  v->process->wait_exit(std::chrono::seconds(5));
  event("kill -9 broker " + std::to_string(id));
  r.what = "SIGKILL broker " + std::to_string(id) + " (pid " + std::to_string(pid) + ", leading " +
           std::to_string(leads) + " of " + std::to_string(options_.partitions) + " partitions)";
  bool restarted = false;
  if (env_.live_brokers().empty()) {  // nobody can take over: the restart is the recovery
    victim_back_ms_ = drill_now_ms();
    if (auto s = env_.start_broker(id); !s) r.problems.push_back("restart: " + s.error().message);
    event("restart broker " + std::to_string(id));
    restarted = true;
    r.what += ", restarted at once (no other broker)";
  }
  wait_recovered(r, r.fault_ms, "after the kill");
  if (!restarted) {
    victim_back_ms_ = drill_now_ms();
    if (auto s = env_.start_broker(id); !s) r.problems.push_back("restart: " + s.error().message);
    event("restart broker " + std::to_string(id));
    r.what += ", restarted after every partition took writes again";
  }
  r.rejoined = wait_listed(id, true, recovery_timeout());
  if (!*r.rejoined) r.problems.push_back("Metadata does not list the restarted broker " + std::to_string(id));
}

void DrillRun::sigstop(ScenarioResult& r) {
  int leads = 0;
  BrokerProcess* v = pick_victim(&leads);
  if (!v) {
    r.problems.push_back("no live broker to pause");
    return;
  }
  const int id = v->node_id;
  const int64_t ttl = lease_ttl_ms(options_.session_timeout_ms);
  r.victim = id;
  r.lease_ttl_ms = ttl;
  load_.watch_broker(id);
  scrape_all();
  paused_.insert(id);
  mark_fault(r);
  v->process->signal(SIGSTOP);
  event("SIGSTOP broker " + std::to_string(id));
  r.what = "SIGSTOP broker " + std::to_string(id) + " (leading " + std::to_string(leads) + " of " +
           std::to_string(options_.partitions) + " partitions) for its lease TTL " + std::to_string(ttl) + " ms (--broker-session-timeout-ms " +
           std::to_string(options_.session_timeout_ms) + ") + 1 s";
  if (!options_.embedded) wait_recovered(r, r.fault_ms, "while the broker was paused");
  const int64_t resume_at = r.fault_ms + ttl + 1000;
  pause(std::chrono::milliseconds(std::max<int64_t>(0, resume_at - drill_now_ms())));
  bool dropped = true;
  if (!options_.embedded) {
    dropped = wait_listed(id, false, std::chrono::seconds(5));
    if (!dropped)
      r.problems.push_back("Metadata still lists broker " + std::to_string(id) + " after its lease expired");
  }
  const int64_t resumed_ms = drill_now_ms();
  v->process->signal(SIGCONT);
  paused_.erase(id);
  event("SIGCONT broker " + std::to_string(id));
  if (options_.embedded) {
    victim_back_ms_ = resumed_ms;  // one broker: its own resumption is the recovery
    wait_recovered(r, r.fault_ms, "after SIGCONT");
    r.what += ", resumed (embedded: no lease, no failover)";
  } else {
    // The zombie: every write it had in flight must fail (its epoch is sealed); it registers again.
    r.rejoined = wait_listed(id, true, recovery_timeout());
    const int64_t rejoined_ms = drill_now_ms();
    victim_back_ms_ = rejoined_ms;
    r.zombie_acks = load_.watched_acks_between(r.fault_ms + ttl, dropped ? rejoined_ms : resumed_ms);
    if (!*r.rejoined) r.problems.push_back("broker " + std::to_string(id) + " did not rejoin after SIGCONT");
    if (*r.zombie_acks) {
      r.problems.push_back("broker " + std::to_string(id) + " acked " + std::to_string(*r.zombie_acks) +
                           " records after its lease expired");
    }
    r.what += ", resumed; rejoined after " + ms(rejoined_ms - resumed_ms);
  }
  load_.watch_broker(-1);
}

void DrillRun::replace(ScenarioResult& r) {
  int leads = 0;
  BrokerProcess* v = pick_victim(&leads);
  if (!v) {
    r.problems.push_back("no live broker to replace");
    return;
  }
  const int id = v->node_id;
  r.victim = id;
  scrape_all();
  mark_fault(r);
  v->process->signal(SIGKILL);
  v->process->wait_exit(std::chrono::seconds(5));
  v->removed = true;
  event("kill -9 broker " + std::to_string(id) + " (to be replaced)");
  auto added = env_.add_broker();
  if (!added) {
    r.problems.push_back("replacement broker: " + added.error().message);
    return;
  }
  event("start broker " + std::to_string(*added) + " (replacement)");
  wait_recovered(r, r.fault_ms, "after the replacement");
  r.rejoined = wait_listed(*added, true, recovery_timeout());
  if (!*r.rejoined) r.problems.push_back("Metadata does not list the new broker " + std::to_string(*added));
  r.what = "SIGKILL broker " + std::to_string(id) + " (leading " + std::to_string(leads) +
           " partitions, never restarted) and started broker " + std::to_string(*added) + " in its place";
}

void DrillRun::scale_out(ScenarioResult& r) {
  scrape_all();
  mark_fault(r);
  auto added = env_.add_broker();
  if (!added) {
    r.problems.push_back("new broker: " + added.error().message);
    return;
  }
  const int id = *added;
  event("start broker " + std::to_string(id) + " (scale-out)");
  int leads = 0;
  const bool got = wait_until(
      [&] {
        auto md = metadata();
        leads = md ? md->led_by(id) : 0;
        return leads > 0;
      },
      recovery_timeout());
  r.what = "started broker " + std::to_string(id) + "; it leads " + std::to_string(leads) + " partitions after " +
           ms(drill_now_ms() - r.fault_ms);
  if (!got) r.problems.push_back("the new broker " + std::to_string(id) + " leads no partition");
  wait_recovered(r, r.fault_ms, "after the scale-out");
}

void DrillRun::scale_in(ScenarioResult& r) {
  int leads = 0;
  BrokerProcess* v = pick_victim(&leads);
  const int id = v->node_id;
  scrape_all();
  mark_fault(r);
  event("SIGTERM broker " + std::to_string(id) + " (scale-in)");
  const DrainFigures d = drain(v, leads);
  r.drains.push_back(d);
  r.drain_ms = d.exit_ms;
  if (!d.exited) {
    r.problems.push_back("broker " + std::to_string(id) + " did not exit within " +
                         std::to_string(kDrainTimeoutMs / 1000) + " s of SIGTERM");
    v->process->stop(SIGKILL, std::chrono::seconds(5));
  }
  v->removed = true;
  event("broker " + std::to_string(id) + " exited");
  r.what = "SIGTERM broker " + std::to_string(id) + " (leading " + std::to_string(leads) + " of " +
           std::to_string(options_.partitions) + " partitions); " +
           (d.to_zero_ms ? "led 0 after " + ms(static_cast<int64_t>(*d.to_zero_ms)) + ", " : "") + "exited after " +
           ms(static_cast<int64_t>(d.exit_ms));
  wait_recovered(r, r.fault_ms, "after the scale-in");
  if (wait_listed(id, false, recovery_timeout()) == false) {
    r.problems.push_back("Metadata still lists broker " + std::to_string(id) + " after it exited");
  }
}

void DrillRun::rolling(ScenarioResult& r) {
  std::vector<int> ids;
  for (BrokerProcess* b : env_.live_brokers()) ids.push_back(b->node_id);
  mark_fault(r);
  double slowest = 0;
  r.rejoined = true;
  for (int id : ids) {
    if (interrupted()) return;
    BrokerProcess* b = env_.broker(id);
    scrape_all();
    const auto md = metadata();
    event("SIGTERM broker " + std::to_string(id) + " (rolling)");
    const DrainFigures d = drain(b, md ? md->led_by(id) : -1);
    r.drains.push_back(d);
    if (!d.exited) {
      r.problems.push_back("broker " + std::to_string(id) + " did not exit within " +
                           std::to_string(kDrainTimeoutMs / 1000) + " s of SIGTERM");
      b->process->stop(SIGKILL, std::chrono::seconds(5));
    }
    slowest = std::max(slowest, d.exit_ms);
    if (auto s = env_.start_broker(id); !s) {
      r.problems.push_back("restart of broker " + std::to_string(id) + ": " + s.error().message);
      r.rejoined = false;
      continue;
    }
    const int64_t restarted = drill_now_ms();
    event("restart broker " + std::to_string(id));
    if (!wait_listed(id, true, recovery_timeout())) {
      r.rejoined = false;
      r.problems.push_back("Metadata does not list broker " + std::to_string(id) + " after its restart");
    }
    wait_recovered(r, restarted, "after restarting broker " + std::to_string(id));
  }
  r.drain_ms = slowest;
  r.what = "SIGTERM and restart of " + std::to_string(ids.size()) + " brokers in turn; slowest drain " +
           ms(static_cast<int64_t>(slowest));
}

}  // namespace floe::drill
