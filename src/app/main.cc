// The `floe` binary. `floe serve` runs a broker; more subcommands (admin, drill, bench) arrive with their issues.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <malloc.h>
#include <unistd.h>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include "admin/admin_server.h"
#include "admincli/admin_cli.h"
#include "drill/drill.h"
#include "app/config.h"
#include "app/data_dir.h"
#include "app/cluster_node.h"
#include "cluster/broker_membership.h"
#include "app/embedded_storage.h"
#include "group/coordinator.h"
#include "kafka/cluster_leadership.h"
#include "kafka/producer_states.h"
#include "app/metrics_wiring.h"
#include "kafka/group_wiring.h"
#include "kafka/retention.h"
#include "kafka/services.h"
#include "producer/producer_id_allocator.h"
#include "base/log.h"
#include "kafka/dispatcher.h"
#include "metrics/metrics.h"
#include "net/io_threads.h"
#include "net/server.h"
#include "net/stall_watchdog.h"

namespace {

constexpr std::string_view kLog = "floe";
constexpr int kRejoinExitCode = 75;  // serve() asks main to start the broker again (cluster mode: a new epoch)
constexpr std::chrono::milliseconds kLostEpochAnswerGrace{500};  // see on_lost in serve()

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string host_port_text(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The drain order on SIGTERM: readiness is already "draining"; once the Kafka listener has drained, the partition
// logs close (uploading what is durable), then the admin endpoint stops (so /readyz and /metrics answer during the
// drain) and the io_context runs out of work.
asio::awaitable<void> stop_after_kafka(floe::net::Server& kafka, floe::kafka::RetentionTask& retention,
                                       std::function<asio::awaitable<void>()> close_storage,
                                       floe::admin::AdminServer& http) {
  co_await kafka.wait_stopped();
  co_await retention.stop();
  co_await close_storage();
  http.stop();
}

// What serve() needs of the storage, whichever mode opened it.
struct NodeParts {
  floe::meta::MetaStore* meta = nullptr;
  floe::objstore::ObjectStore* objects = nullptr;
  floe::cluster::TopicCatalog* catalog = nullptr;
  floe::stream::StreamStore* streams = nullptr;
  floe::kafka::ProducerStates* producer_states = nullptr;
  floe::group::GroupCoordinator* groups = nullptr;
  int32_t leader_epoch = 0;                        // embedded mode
  std::function<asio::awaitable<void>()> close;  // graceful
};

// Scrape-time figures of a net::Server (net stays free of metrics).
void add_net_collector(floe::metrics::Registry& registry, const floe::net::Server& server) {
  registry.add_collector([&server](floe::metrics::Exposition& e) {
    using floe::metrics::Type;
    const floe::net::ServerStats s = server.stats();
    e.family("floe_net_connections_open", "Open client connections, by listener", Type::gauge);
    e.sample({{"listener", "kafka"}}, static_cast<double>(s.open_connections));
    e.family("floe_net_connections_accepted_total", "Client connections accepted, by listener", Type::counter);
    e.sample({{"listener", "kafka"}}, static_cast<double>(s.accepted_connections));
    e.family("floe_net_requests_total", "Request frames read, by listener", Type::counter);
    e.sample({{"listener", "kafka"}}, static_cast<double>(s.total_requests));
  });
}

// floe_io_*: the stall watchdog's figures (net::StallWatchdog, net/stall_watchdog.h).
floe::metrics::Registry::CollectorId add_stall_collector(floe::metrics::Registry& registry,
                                                         const floe::net::StallWatchdog& watchdog) {
  return registry.add_collector([&watchdog](floe::metrics::Exposition& e) {
    using floe::metrics::Type;
    const floe::net::StallWatchdogStats s = watchdog.stats();
    e.family("floe_io_stall_seconds",
             "How late the io threads ran the stall watchdog's periodic task (posted to run)", Type::histogram);
    floe::app::expose_log2_histogram(e, {}, s.lateness, 1e-6);
    e.family("floe_io_stalls_total",
             "Watchdog tasks run io.stall.warn.ms or more late: blocked (an io thread was busy) or paused (the "
             "whole process was not running)",
             Type::counter);
    e.sample({{"kind", "blocked"}}, static_cast<double>(s.blocked_stalls));
    e.sample({{"kind", "paused"}}, static_cast<double>(s.paused_stalls));
  });
}

// For start-up failures after the storage opened: close it before returning (the io threads are not running).
void close_storage(asio::io_context& io, NodeParts& node) {
  auto fut = asio::co_spawn(io, node.close(), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
}

// A broker allocates and frees buffers of about a MiB all the time (request frames, which become the log cache's
// batches, freed when evicted). glibc serves those with mmap until its dynamic threshold has adapted (every frame of
// the first 128 MiB of log cache) and trims freed heap memory above 2x that threshold back to the kernel: memory
// that is then faulted in again, a page fault and a page clear per 4 KiB (measured: the largest CPU cost of produce
// once the copies were gone). Fixed thresholds keep such buffers on the heap for reuse; what an arena keeps free at
// its top is bounded by the trim threshold. An operator's GLIBC_TUNABLES for malloc take precedence.
void set_malloc_thresholds() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;
  constexpr int kMmapThreshold = 32 << 20;  // glibc's own upper bound for its dynamic threshold
  constexpr int kTrimThreshold = 64 << 20;
  ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

int serve(const std::vector<std::string>& args) {
  using namespace floe;
  set_malloc_thresholds();
  app::ConfigResult parsed = app::parse_serve_config(args, &getenv_lookup);
  if (parsed.help) {
    std::cout << app::serve_usage();
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << "floe serve: " << parsed.error << "\n";
    return 2;
  }
  // Paths are resolved once, against the working directory at start (the stores below want absolute ones).
  parsed.config.data_dir = std::filesystem::absolute(parsed.config.data_dir).lexically_normal().string();
  const app::ServeConfig& cfg = parsed.config;
  log::set_level(cfg.log_level);

  std::string error;
  kafka::BrokerIdentity identity;
  identity.node_id = cfg.node_id;
  identity.rack = cfg.zone;
  app::DataDir data_dir;  // embedded mode only: cluster mode keeps nothing on local disk
  if (!cfg.cluster_mode() && (!data_dir.open(cfg.data_dir, error) || !data_dir.cluster_id(identity.cluster_id, error))) {
    std::cerr << "floe serve: " << error << "\n";
    return 1;
  }
  if (cfg.cluster_mode()) {
    // Registration publishes the advertised address, so it must be known before the listener binds.
    if (cfg.objects.empty()) {
      std::cerr << "floe serve: objects: cluster mode needs the shared object store's URL (--objects)\n";
      return 2;
    }
    app::HostPort adv = cfg.advertise.value_or(cfg.listen);
    if (adv.port == 0) {
      std::cerr << "floe serve: listen: cluster mode needs a fixed port (or --advertise host:port)\n";
      return 2;
    }
    identity.advertised_host = adv.host;
    identity.advertised_port = adv.port;
  }

  net::ServerConfig net_cfg;
  net_cfg.host = cfg.listen.host;
  net_cfg.port = cfg.listen.port;
  net_cfg.max_frame_bytes = cfg.socket_request_max_bytes;
  net_cfg.idle_timeout = std::chrono::milliseconds(cfg.connections_max_idle_ms);
  net_cfg.io_threads = cfg.io_threads;
  net_cfg.drain_timeout = std::chrono::milliseconds(cfg.shutdown_drain_ms);

  metrics::Registry registry;        // outlives everything that records into it
  kafka::AppendWaiters appends(&registry);  // outlives the stream store, whose durable listener notifies it
  admin::ReadinessState readiness;  // starting -> ready (io runs) -> draining (SIGTERM)
  asio::io_context io;
  std::unique_ptr<app::EmbeddedStorage> storage;
  std::unique_ptr<app::ClusterNode> cluster_node;
  NodeParts node;
  if (cfg.cluster_mode()) {
    cluster_node = app::open_cluster_node(io, cfg, identity, error);
    if (!cluster_node) {
      std::cerr << "floe serve: " << error << "\n";
      return 1;
    }
    app::ClusterNode* n = cluster_node.get();
    node = NodeParts{n->meta.get(), n->objects.get(), n->catalog.get(), n->streams.get(), n->producer_states.get(),
                     n->groups.get(), 0, [n] { return n->close(); }};
  } else {
    storage = app::open_embedded_storage(io, cfg, error);
    if (!storage) {
      std::cerr << "floe serve: " << error << "\n";
      return 1;
    }
    app::EmbeddedStorage* st = storage.get();
    node = NodeParts{st->meta.get(), st->objects.get(), st->catalog.get(), st->streams.get(),
                     st->producer_states.get(), st->groups.get(), st->leader_epoch, [st] { return st->close(); }};
  }
  // Parked fetches are woken the moment an append becomes durable, whoever appended it (append_waiters.h).
  node.streams->set_durable_listener([&appends](uint64_t, int64_t) { appends.notify(); });
  producer::ProducerIdAllocator producer_ids(*node.meta);
  kafka::Dispatcher dispatcher(identity, &registry);
  // Reads the dispatcher's identity, whose advertised address is final before serving starts.
  kafka::SingleBrokerLeadership single_leadership(dispatcher.identity(), node.leader_epoch);
  kafka::Leadership& leadership =
      cluster_node ? static_cast<kafka::Leadership&>(*cluster_node->leadership) : single_leadership;
  kafka::Services services{*node.catalog, *node.streams, appends, producer_ids, *node.producer_states, leadership,
                           kafka::BrokerSettings{cfg.auto_create_topics, cfg.num_partitions, node.leader_epoch}};
  std::unique_ptr<kafka::SingleBrokerLocator> single_locator;
  if (storage) {
    single_locator = std::make_unique<kafka::SingleBrokerLocator>(*storage->catalog, *storage->groups,
                                                                 dispatcher.identity(), storage->offsets_partitions());
  }
  group::CoordinatorLocator& locator =
      cluster_node ? *cluster_node->locator : static_cast<group::CoordinatorLocator&>(*single_locator);
  kafka::RetentionTask retention(io.get_executor(), services, std::chrono::milliseconds(cfg.retention_check_ms),
                                 std::chrono::milliseconds(cfg.object_gc_grace_ms));
  kafka::DataMetrics data_metrics(registry);
  services.data_metrics = &data_metrics;
  if (cluster_node) retention.set_cluster_mode();
  services.groups = node.groups;
  services.coordinator_locator = &locator;
  if (cluster_node) {
    services.controller = cluster_node->controller.get();
    services.image = cluster_node->image.get();
  }
  dispatcher.set_services(&services);
  net::Server server(io, net_cfg, dispatcher);
  if (auto ec = server.start()) {
    std::cerr << "floe serve: listen: cannot listen on " << cfg.listen.host << ":" << cfg.listen.port << ": "
              << ec.message() << "\n";
    close_storage(io, node);
    return 1;
  }
  // With `listen` port 0 the advertised port is known only now; nothing is served before io runs.
  app::HostPort adv = cfg.advertise.value_or(app::HostPort{cfg.listen.host, server.port()});
  dispatcher.set_advertised_address(adv.host, adv.port);
  add_net_collector(registry, server);

  admin::HttpServerConfig http_cfg;
  http_cfg.host = cfg.http.host;
  http_cfg.port = cfg.http.port;
  admin::AdminServer http(io, http_cfg, registry, readiness);
  // Observability (metrics_wiring.h): the same wiring in both modes; cluster mode adds its figures, /v1/cluster
  // source and /readyz gate.
  std::unique_ptr<app::BrokerObservability> observability =
      storage ? std::make_unique<app::BrokerObservability>(io, registry, *storage, dispatcher.identity(), readiness,
                                                           http)
              : std::make_unique<app::BrokerObservability>(io, registry, *cluster_node, dispatcher.identity(),
                                                           readiness, http);
  if (auto ec = http.start()) {
    std::cerr << "floe serve: http: cannot listen on " << host_port_text(cfg.http.host, cfg.http.port) << ": "
              << ec.message() << "\n";
    close_storage(io, node);
    return 1;
  }
  log::info("admin", "http listening on ", host_port_text(cfg.http.host, http.port()));
  // Logged once start-up has succeeded: a failed start stays one clear error line.
  log::info(kLog, "config: ", app::effective_config_line(cfg));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool stopping = false;
  bool rejoin = false;
  auto begin_stop = [&] {
    if (stopping) return;
    stopping = true;
    readiness.set_draining();  // first: /readyz answers 503 before the listener drains
    log::info(kLog, "readiness: not ready (draining)");
    server.stop();
    signals.cancel();
    asio::co_spawn(io, stop_after_kafka(server, retention, node.close, http), [&io, &rejoin](std::exception_ptr) {
      // Rejoining: whatever background work is left belongs to the lost epoch; the process image is replaced.
      if (rejoin) io.stop();
    });
  };
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    log::info(kLog, "signal ", sig, ": draining in-flight requests, then exiting");
    begin_stop();
  });
  // After the registration is lost, the listener answers for this long before it stops (see on_lost below).
  asio::steady_timer lost_grace(io);
  if (cluster_node) {
    // Lost registration (lease expired, epoch sealed while paused, WAL fenced): stop serving at once, then start
    // afresh (main re-executes the binary), which registers again with a new epoch. "Stop serving" is immediate:
    // no partition is local any more and, the membership being lost, no leader is named (ClusterLeadership). The
    // listener itself stops only after kLostEpochAnswerGrace, so that requests clients already sent (a paused
    // process finds them waiting in its sockets) get a definite NOT_LEADER_OR_FOLLOWER ("not written, ask the
    // new leader") rather than a closed connection, which an idempotent producer must count as possibly written.
    app::ClusterNode* n = cluster_node.get();
    n->on_lost = [&io, &begin_stop, &rejoin, &lost_grace, n](std::string why) {
      n->leadership->clear_all();  // nothing more is appended or acked by this epoch
      asio::post(io, [&begin_stop, &rejoin, &lost_grace, why] {
        if (rejoin) return;
        log::error(kLog, "broker epoch lost (", why, "): answering NOT_LEADER_OR_FOLLOWER for ",
                   kLostEpochAnswerGrace.count(), " ms, then stopping and registering again with a new epoch");
        rejoin = true;
        lost_grace.expires_after(kLostEpochAnswerGrace);
        lost_grace.async_wait([&begin_stop](std::error_code) { begin_stop(); });
      });
    };
    if (n->membership->lost()) n->on_lost("lost during start-up");
  }
  // Ready once the io threads run (both listeners are bound by now).
  asio::post(io, [&readiness] {
    readiness.set_ready();
    log::info(kLog, "readiness: ready");
  });
  log::info(kLog, "broker ", identity.node_id, " of cluster ", identity.cluster_id, " listening on ",
            cfg.listen.host, ":", server.port(), " (advertised ", adv.host, ":", adv.port, "), ",
            cluster_node ? "cluster mode, broker epoch " + std::to_string(cluster_node->broker_epoch)
                         : "data in " + cfg.data_dir);
  retention.start();
  // Ticks are posted only while the io threads run: start-up work done on this thread before them is not measured.
  net::StallWatchdogConfig stall_cfg;
  stall_cfg.warn_after = std::chrono::milliseconds(std::max<int64_t>(cfg.io_stall_warn_ms, 10));
  stall_cfg.tick_interval = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(100), stall_cfg.warn_after / 2);
  net::StallWatchdog stall_watchdog(io, stall_cfg);
  const metrics::Registry::CollectorId stall_collector = add_stall_collector(registry, stall_watchdog);
  if (cfg.io_stall_warn_ms > 0) stall_watchdog.start();
  net::run_io_threads(io, cfg.io_threads, &stall_watchdog);
  stall_watchdog.stop();
  registry.remove_collector(stall_collector);
  log::info(kLog, "stopped");
  return rejoin ? kRejoinExitCode : 0;
}

void usage() {
  std::cerr << "usage: floe <command> [options]\n\n"
            << "commands:\n"
            << "  serve   run a broker (floe serve --help for its settings)\n"
            << "  drill   failover evaluation: brokers, load, faults, report (floe drill --help)\n"
            << floe::admincli::admin_commands_usage();
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
  if (command == "serve") {
    const int rc = serve(args);
    if (rc == kRejoinExitCode) {
      // A fresh process image: no state of the lost epoch survives. Same pid, same arguments.
      execv("/proc/self/exe", argv);
      std::cerr << "floe serve: cannot restart: " << std::strerror(errno) << "\n";
      return 1;
    }
    return rc;
  }
  if (command == "drill") return floe::drill::run_drill(args, std::cout, std::cerr);
  if (floe::admincli::is_admin_command(command))
    return floe::admincli::run_admin_command(command, args, std::cout, std::cerr, &getenv_lookup);
  std::cerr << "floe: unknown command '" << command << "'\n";
  usage();
  return 2;
}
