// `floe drill`: the failover evaluation (issue 7). run_drill() is the subcommand; DrillRun is the state the
// scenarios (scenarios.cc) share: the environment, the load, the brokers' counters and the report.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "drill/broker_metrics.h"
#include "drill/environment.h"
#include "drill/load.h"
#include "drill/options.h"
#include "drill/report.h"

namespace floe::drill {

int run_drill(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

class DrillRun {
 public:
  DrillRun(DrillOptions options, Environment& env, Load& load, MetricsLedger& ledger, Report& report)
      : options_(std::move(options)),
        env_(env),
        load_(load),
        ledger_(ledger),
        report_(report),
        broker_logs_(options_.work_dir) {}

  // Runs one scenario (settle first, then the fault, the recovery and the observation window).
  ScenarioResult run(const std::string& name);

  // Scrapes every live, running (not paused) broker now.
  void scrape_all();
  // Polls `done` every 100 ms (scraping the brokers once a second meanwhile) until it is true, the timeout
  // passes or the drill is interrupted. Returns done's last answer.
  bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  void pause(std::chrono::milliseconds d) {
    wait_until([] { return false; }, d);
  }
  // A labelled moment: printed, and kept for the chart unless `on_chart` is false (a scenario's summary line).
  void event(const std::string& label, bool on_chart = true);
  // Metadata from a running, unpaused broker (probe_metadata), bounded.
  Result<Leadership> metadata();

 private:
  void kill9(ScenarioResult& r);
  void sigstop(ScenarioResult& r);
  void replace(ScenarioResult& r);
  void scale_out(ScenarioResult& r);
  void scale_in(ScenarioResult& r);
  void rolling(ScenarioResult& r);

  // Sets the fault time and the producer's ack-latency baseline of the kBaselineMs before it.
  void mark_fault(ScenarioResult& r);
  // SIGTERM (the drain request) and wait (bounded) for the exit, asking Metadata meanwhile when it leads nothing.
  DrainFigures drain(BrokerProcess* b, int led);
  static constexpr int64_t kBaselineMs = 5000;
  static constexpr int64_t kDrainTimeoutMs = 60000;

  // The live broker leading the most partitions (Metadata), or the highest live id when Metadata fails.
  BrokerProcess* pick_victim(int* leads);
  // Until every partition has an ack after `since_ms`; a problem is recorded on timeout.
  bool wait_recovered(ScenarioResult& r, int64_t since_ms, const std::string& what);
  // Up to 10 partitions with no ack since `since_ms`: each one's last ack, the broker that gave it and the leader
  // Metadata names now (for a problem line).
  std::string silent_partitions(int64_t since_ms);
  // Until Metadata lists broker `node` (want_listed) or no longer lists it.
  bool wait_listed(int node, bool want_listed, std::chrono::milliseconds timeout);
  std::chrono::milliseconds recovery_timeout() const { return std::chrono::seconds(options_.recovery_timeout_s); }

  DrillOptions options_;
  Environment& env_;
  Load& load_;
  MetricsLedger& ledger_;
  Report& report_;
  BrokerLogCursor broker_logs_;  // the controller's failure verdicts in each scenario's window
  std::set<int> paused_;         // SIGSTOPped brokers: not scraped
  int64_t last_scrape_ms_ = 0;
  // When the failed broker's id was back (restarted, or resumed and registered again): acks attributed to it
  // before this are its old process's (windows.h). Reset by every scenario.
  int64_t victim_back_ms_ = std::numeric_limits<int64_t>::max();
};

}  // namespace floe::drill
