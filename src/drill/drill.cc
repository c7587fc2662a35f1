#include "drill/drill.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "drill/svg_chart.h"

namespace floe::drill {
namespace {

std::string make_work_dir(std::string* error) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/floe-drill-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    *error = "cannot create a work dir under " + std::string(tmp && *tmp ? tmp : "/tmp");
    return "";
  }
  return tmpl;
}

bool write_file(const std::string& path, const std::function<void(std::ostream&)>& fill, std::ostream& err) {
  std::ofstream f(path, std::ios::trunc);
  if (!f) {
    err << "floe drill: cannot write " << path << "\n";
    return false;
  }
  fill(f);
  f.close();
  if (!f) {
    err << "floe drill: writing " << path << " failed\n";
    return false;
  }
  return true;
}

}  // namespace

int run_drill(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  DrillOptions o;
  std::string error;
  if (!parse_drill_options(args, &o, &error)) {
    err << "floe drill: " << error << "\n";
    return 2;
  }
  if (o.help) {
    out << drill_usage();
    return 0;
  }
  if (o.work_dir.empty() && (o.work_dir = make_work_dir(&error)).empty()) {
    err << "floe drill: " << error << "\n";
    return 3;
  }
  o.work_dir = std::filesystem::absolute(o.work_dir).string();
  if (o.floe_binary.empty()) {
    std::error_code ec;
    o.floe_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) {
      err << "floe drill: cannot find this binary (/proc/self/exe); pass --floe PATH\n";
      return 3;
    }
  }
  install_interrupt_handlers();
  const uint64_t run_id = std::random_device{}() ^ (static_cast<uint64_t>(::getpid()) << 32);
  if (o.topic.empty()) o.topic = "drill-" + std::to_string(run_id % 1000000);

  EnvironmentOptions eo;
  eo.embedded = o.embedded;
  eo.brokers = o.embedded ? 1 : o.brokers;
  eo.store = o.store;
  eo.wal = o.wal.empty() ? (o.embedded ? "file" : "object") : o.wal;
  eo.session_timeout_ms = o.session_timeout_ms;
  eo.floe_binary = o.floe_binary;
  eo.work_dir = o.work_dir;
  eo.extra_broker_args = o.broker_args;
  eo.external_bootstrap = o.bootstrap;
  for (const auto& spec : o.broker_specs) {
    EnvironmentOptions::ExternalBroker b;
    parse_broker_spec(spec, &b.node_id, &b.pid, &b.http);
    eo.external_brokers.push_back(b);
  }
  const std::string mode = eo.external() ? "external" : o.embedded ? "embedded" : "cluster";
  out << "floe drill: "
      << (eo.external() ? "existing cluster at " + o.bootstrap
          : o.embedded  ? "embedded, 1 broker"
                        : "cluster, " + std::to_string(o.brokers) + " brokers")
      << ", " << o.partitions << " partitions, " << o.rate_mib << " MiB/s of " << o.record_bytes
      << "-byte records; work dir " << o.work_dir << "\n"
      << std::flush;

  {
    std::error_code ec;
    std::filesystem::create_directories(o.work_dir, ec);
  }
  set_client_log(o.work_dir + "/clients.log");
  Report report;
  const std::string store = eo.external() ? "existing cluster"
                            : o.embedded  ? "file (embedded), " + eo.wal + " WAL"
                                          : o.store + ", object WAL";
  report.config = RunConfig{mode,
                            eo.external() ? static_cast<int>(eo.external_brokers.size()) : eo.brokers,
                            o.partitions,
                            o.rate_mib,
                            o.record_bytes,
                            store,
                            o.session_timeout_ms,
                            o.topic,
                            o.work_dir};
  report.config.request_timeout_ms = effective_request_timeout_ms(o);
  report.config.producers = effective_producers(o);
  report.config.producers_reason = producers_reason(o);
  report.config.request_timeout_reason = request_timeout_reason(o);
  out << "producers: " << report.config.producers_reason << "\nclient: " << report.config.request_timeout_reason
      << "\n"
      << std::flush;
  Environment env(eo);
  if (auto s = env.start(); !s) {
    err << "floe drill: " << s.error().message << "\n";
    env.stop_all();
    kill_all_children();
    return 3;
  }
  out << "environment up: brokers at " << env.bootstrap()
      << (o.embedded || eo.external() ? "" : ", meta " + env.meta_url() + ", objects " + env.objects_url()) << "\n"
      << std::flush;
  if (auto s = create_topic(env.bootstrap(), o.topic, o.partitions, std::chrono::seconds(60)); !s) {
    err << "floe drill: " << s.error().message << "\n";
    env.stop_all();
    kill_all_children();
    return 3;
  }

  int rc = 0;
  {
    LoadOptions lo;
    lo.bootstrap = env.bootstrap();
    lo.topic = o.topic;
    lo.partitions = o.partitions;
    lo.rate_mib = o.rate_mib;
    lo.record_bytes = o.record_bytes;
    lo.run_id = run_id;
    lo.max_records = o.max_records;
    lo.progress_every_s = o.progress_every_s;
    lo.request_timeout_ms = effective_request_timeout_ms(o);
    lo.producers = effective_producers(o);
    lo.debug = o.client_debug;
    Load load(lo);
    MetricsLedger ledger(o.topic);
    if (auto s = load.start(); !s) {
      err << "floe drill: " << s.error().message << "\n";
      env.stop_all();
      kill_all_children();
      return 3;
    }
    DrillRun run(o, env, load, ledger, report);
    run.event("load started; warm-up " + std::to_string(o.warmup_s) + " s");
    run.pause(std::chrono::seconds(o.warmup_s));
    for (const auto& name : o.scenarios) {
      if (interrupted()) break;
      if (const std::string fatal = load.fatal_error(); !fatal.empty()) {
        err << "floe drill: the producer failed fatally (" << fatal << "); no further scenarios\n";
        break;
      }
      out << "== " << name << "\n" << std::flush;
      report.scenarios.push_back(run.run(name));
    }
    run.event(interrupted() ? "interrupted: stopping the load" : "scenarios done: stopping the load");
    // Failovers after the last scenario (the load's end and the read-back, which fetches everything at once)
    // are nobody's fault either: the controller's log says whether there were any.
    BrokerLogCursor after_scenarios(o.work_dir);
    after_scenarios.skip_to_end();
    load.stop(std::chrono::seconds(30));
    run.scrape_all();
    report.timeline = load.timeline();
    report.total_produced = load.produced();
    report.total_acked = load.acked();
    report.total_failed = load.failed();
    if (interrupted()) {
      report.verify_note = "interrupted before the read-back";
      rc = 130;
    } else {
      out << "reading everything back to check " << load.acked() << " acked records...\n" << std::flush;
      bool complete = false;
      const auto seen = read_back(env.bootstrap(), o.topic, o.partitions, run_id, load.states().size(),
                                  std::chrono::seconds(o.verify_timeout_s), &complete, &report.verify_note);
      report.verify_complete = complete;
      report.verify = verify_sequences(load.states(), seen);
    }
    report.failed_epochs_after = parse_failed_epochs(after_scenarios.read_new());
  }
  out << "\n";
  print_summary(out, report);
  if (!o.json_path.empty())
    write_file(
        o.json_path, [&](std::ostream& f) { write_json(f, report); }, err);
  if (!o.svg_path.empty()) {
    write_file(
        o.svg_path, [&](std::ostream& f) { write_svg(f, report.timeline, report.events, o.record_bytes); }, err);
  }
  out << "logs: " << o.work_dir << "\n";
  env.stop_all();
  kill_all_children();
  if (rc) return rc;
  return report.passed() ? 0 : 1;
}

}  // namespace floe::drill
