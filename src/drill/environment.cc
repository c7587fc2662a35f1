#include "drill/environment.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace floe::drill {
namespace {

constexpr const char* kBucket = "floe-drill";

Error env_error(const std::string& message) { return Error{std::make_error_code(std::errc::io_error), message}; }

// Waits until `ready()` or the child exits or the deadline passes.
template <typename Ready>
Status wait_ready(ChildProcess& child, const std::string& what, std::chrono::milliseconds timeout, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (interrupted()) return env_error("interrupted while starting " + what);
    if (!child.running()) {
      return env_error(what + " exited at start-up (status " + std::to_string(child.exit_status()) + "); log " +
                       child.log_path() + ":\n" + child.log_tail());
    }
    if (ready()) return ok_status();
    sleep_for(std::chrono::milliseconds(50));
  }
  return env_error(what + " not ready within " + std::to_string(timeout.count()) + " ms; log " + child.log_path() +
                   ":\n" + child.log_tail());
}

}  // namespace

int http_status(int port, const std::string& method, const std::string& target, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, ms.count()));
  };
  int status = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, left()) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      const std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
      if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
        std::string got;
        while (got.size() < 12 && left() > 0) {
          pollfd in{fd, POLLIN, 0};
          if (::poll(&in, 1, left()) != 1) break;
          char buf[512];
          const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, static_cast<std::size_t>(n));
        }
        if (got.size() >= 12 && got.starts_with("HTTP/1.")) status = std::atoi(got.substr(9, 3).c_str());
      }
    }
  }
  ::close(fd);
  return status;
}

Environment::Environment(EnvironmentOptions options) : options_(std::move(options)) {}

Environment::~Environment() { stop_all(); }

std::string Environment::objects_url() const {
  if (options_.store == "file") return "file://" + objects_dir_;
  return std::string("s3://") + kBucket + "?endpoint=http://127.0.0.1:" + std::to_string(moto_port_);
}

std::string Environment::meta_url() const { return "etcd://127.0.0.1:" + std::to_string(etcd_port_); }

Status Environment::start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir, ec);
  if (ec) return env_error("cannot create work dir " + options_.work_dir + ": " + ec.message());
  if (options_.external()) {
    for (const auto& e : options_.external_brokers) {
      auto& b = brokers_[e.node_id];
      b = std::make_unique<BrokerProcess>();
      b->node_id = e.node_id;
      b->http_addr = e.http;
      b->starts = 1;
      b->process = std::make_unique<ChildProcess>();
      b->process->adopt(e.pid);
      if (!b->process->running())
        return env_error("broker " + std::to_string(e.node_id) + ": no process " + std::to_string(e.pid));
    }
    return ok_status();
  }
  if (!options_.embedded) {
    if (auto s = start_etcd(); !s) return s;
    if (auto s = start_s3(); !s) return s;
  }
  const int n = options_.embedded ? 1 : options_.brokers;
  for (int id = 1; id <= n; ++id) {
    if (auto s = start_broker(id); !s) return s;
  }
  return ok_status();
}

Status Environment::start_etcd() {
  etcd_port_ = free_port();
  do etcd_peer_port_ = free_port();
  while (etcd_peer_port_ == etcd_port_);
  const std::string client = "http://127.0.0.1:" + std::to_string(etcd_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(etcd_peer_port_);
  const std::vector<std::string> argv = {"etcd",
                                         "--name=floe-drill",
                                         "--data-dir=" + options_.work_dir + "/etcd",
                                         "--listen-client-urls=" + client,
                                         "--advertise-client-urls=" + client,
                                         "--listen-peer-urls=" + peer,
                                         "--initial-advertise-peer-urls=" + peer,
                                         "--initial-cluster=floe-drill=" + peer,
                                         "--auto-compaction-mode=revision",
                                         "--auto-compaction-retention=10000",
                                         "--logger=zap",
                                         "--log-level=warn"};
  etcd_ = std::make_unique<ChildProcess>();
  std::string error;
  if (!etcd_->start(argv, options_.work_dir + "/etcd.log", &error)) return env_error("etcd: " + error);
  const int port = etcd_port_;
  return wait_ready(*etcd_, "etcd", options_.start_timeout,
                    [port] { return http_status(port, "GET", "/health", std::chrono::milliseconds(1000)) == 200; });
}

Status Environment::start_s3() {
  if (options_.store == "file") {
    objects_dir_ = std::filesystem::absolute(options_.work_dir + "/objects").string();
    std::error_code ec;
    std::filesystem::create_directories(objects_dir_, ec);
    if (ec) return env_error("cannot create " + objects_dir_ + ": " + ec.message());
    return ok_status();
  }
  // moto signs nothing, but the brokers' S3 client wants credentials: test values unless the caller set some.
  ::setenv("AWS_ACCESS_KEY_ID", "floe-drill", 0);
  ::setenv("AWS_SECRET_ACCESS_KEY", "floe-drill", 0);
  ::setenv("AWS_REGION", "us-east-1", 0);
  moto_port_ = free_port();
  moto_ = std::make_unique<ChildProcess>();
  std::string error;
  const std::vector<std::string> argv = {
      "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", std::to_string(moto_port_)};
  if (!moto_->start(argv, options_.work_dir + "/moto.log", &error)) return env_error("moto: " + error);
  const int port = moto_port_;
  if (auto s = wait_ready(*moto_, "moto (python3 -m moto.server)", options_.start_timeout,
                          [port] { return http_status(port, "GET", "/", std::chrono::milliseconds(1000)) == 200; });
      !s) {
    return s;
  }
  const int st = http_status(moto_port_, "PUT", std::string("/") + kBucket, std::chrono::milliseconds(5000));
  if (st != 200 && st != 409)
    return env_error("moto: creating bucket " + std::string(kBucket) + " answered " + std::to_string(st));
  return ok_status();
}

std::vector<std::string> Environment::broker_argv(const BrokerProcess& b) const {
  std::vector<std::string> argv = {options_.floe_binary, "serve",       "--node-id", std::to_string(b.node_id),
                                   "--listen",           b.bootstrap(), "--http",    b.http(),
                                   "--data-dir",         b.data_dir};
  if (options_.embedded && options_.wal == "object") argv.insert(argv.end(), {"--wal", "object"});
  if (!options_.embedded) {
    argv.insert(argv.end(), {"--meta", meta_url(), "--objects", objects_url(), "--wal", "object",
                             "--broker-session-timeout-ms", std::to_string(options_.session_timeout_ms)});
  }
  argv.insert(argv.end(), options_.extra_broker_args.begin(), options_.extra_broker_args.end());
  return argv;
}

Status Environment::start_broker(int node_id) {
  if (options_.external()) return env_error("the drill does not start brokers of an existing cluster");
  auto& slot = brokers_[node_id];
  if (!slot) {
    slot = std::make_unique<BrokerProcess>();
    slot->node_id = node_id;
    slot->kafka_port = free_port();
    do slot->http_port = free_port();
    while (slot->http_port == slot->kafka_port);
    slot->data_dir = options_.work_dir + "/broker-" + std::to_string(node_id);
  }
  BrokerProcess& b = *slot;
  if (b.process && b.process->running()) return env_error("broker " + std::to_string(node_id) + " already runs");
  b.process = std::make_unique<ChildProcess>();
  std::string error;
  const std::string log = options_.work_dir + "/broker-" + std::to_string(node_id) + ".log";
  if (!b.process->start(broker_argv(b), log, &error)) return env_error("broker: " + error);
  ++b.starts;
  b.removed = false;
  const int port = b.kafka_port;
  return wait_ready(*b.process, "broker " + std::to_string(node_id), options_.start_timeout,
                    [port] { return port_accepts(port, std::chrono::milliseconds(200)); });
}

int Environment::next_node_id() const { return brokers_.empty() ? 1 : brokers_.rbegin()->first + 1; }

Result<int> Environment::add_broker() {
  const int id = next_node_id();
  if (auto s = start_broker(id); !s) return s.error();
  return id;
}

BrokerProcess* Environment::broker(int node_id) {
  auto it = brokers_.find(node_id);
  return it == brokers_.end() ? nullptr : it->second.get();
}

std::vector<BrokerProcess*> Environment::live_brokers() {
  std::vector<BrokerProcess*> out;
  for (auto& [id, b] : brokers_) {
    if (b->process && b->process->running()) out.push_back(b.get());
  }
  return out;
}

std::vector<BrokerProcess*> Environment::all_brokers() {
  std::vector<BrokerProcess*> out;
  for (auto& [id, b] : brokers_) out.push_back(b.get());
  return out;
}

std::string Environment::bootstrap() {
  if (options_.external()) return options_.external_bootstrap;
  std::string out;
  for (auto* b : live_brokers()) out += (out.empty() ? "" : ",") + b->bootstrap();
  return out;
}

void Environment::stop_all() {
  // Brokers first (graceful, bounded), then the services they depend on. An existing cluster's brokers are left
  // running (one the drill paused is resumed by its ChildProcess).
  for (auto& [id, b] : brokers_) {
    if (b->process && !b->process->external() && b->process->running()) {
      b->process->stop(SIGTERM, std::chrono::seconds(10));
    }
  }
  if (moto_) moto_->stop(SIGTERM, std::chrono::seconds(5));
  if (etcd_) etcd_->stop(SIGTERM, std::chrono::seconds(5));
}

}  // namespace floe::drill
