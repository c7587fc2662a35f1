// The `floe` binary. `floe serve` runs a broker; more subcommands (admin, drill, bench) arrive with their issues.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "app/config.h"
#include "app/data_dir.h"
#include "base/log.h"
#include "kafka/dispatcher.h"
#include "net/io_threads.h"
#include "net/server.h"

namespace {

constexpr std::string_view kLog = "floe";

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

int serve(const std::vector<std::string>& args) {
  using namespace floe;
  app::ConfigResult parsed = app::parse_serve_config(args, &getenv_lookup);
  if (parsed.help) {
    std::cout << app::serve_usage();
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << "floe serve: " << parsed.error << "\n";
    return 2;
  }
  const app::ServeConfig& cfg = parsed.config;
  log::set_level(cfg.log_level);

  app::DataDir data_dir;
  std::string error;
  kafka::BrokerIdentity identity;
  if (!data_dir.open(cfg.data_dir, error) || !data_dir.cluster_id(identity.cluster_id, error)) {
    std::cerr << "floe serve: " << error << "\n";
    return 1;
  }
  identity.node_id = cfg.node_id;
  identity.rack = cfg.zone;

  net::ServerConfig net_cfg;
  net_cfg.host = cfg.listen.host;
  net_cfg.port = cfg.listen.port;
  net_cfg.max_frame_bytes = cfg.socket_request_max_bytes;
  net_cfg.idle_timeout = std::chrono::milliseconds(cfg.connections_max_idle_ms);
  net_cfg.io_threads = cfg.io_threads;
  net_cfg.drain_timeout = std::chrono::milliseconds(cfg.shutdown_drain_ms);

  asio::io_context io;
  kafka::Dispatcher dispatcher(identity);
  net::Server server(io, net_cfg, dispatcher);
  if (auto ec = server.start()) {
    std::cerr << "floe serve: listen: cannot listen on " << cfg.listen.host << ":" << cfg.listen.port << ": "
              << ec.message() << "\n";
    return 1;
  }
  // With `listen` port 0 the advertised port is known only now; nothing is served before io runs.
  app::HostPort adv = cfg.advertise.value_or(app::HostPort{cfg.listen.host, server.port()});
  dispatcher.set_advertised_address(adv.host, adv.port);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    log::info(kLog, "signal ", sig, ": draining in-flight requests, then exiting");
    server.stop();
  });
  log::info(kLog, "broker ", identity.node_id, " of cluster ", identity.cluster_id, " listening on ",
            cfg.listen.host, ":", server.port(), " (advertised ", adv.host, ":", adv.port, "), data in ",
            cfg.data_dir);
  net::run_io_threads(io, cfg.io_threads);
  log::info(kLog, "stopped");
  return 0;
}

void usage() {
  std::cerr << "usage: floe <command> [options]\n\n"
            << "commands:\n"
            << "  serve   run a broker (floe serve --help for its settings)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    usage();
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "serve") return serve(args);
  std::cerr << "floe: unknown command '" << command << "'\n";
  usage();
  return 2;
}
