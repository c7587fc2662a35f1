// The drill's environment on this machine: etcd (Debian's `etcd`) and an S3 endpoint (`python3 -m moto.server`) or
// a file:// object directory, and N `floe serve` brokers, all child processes with their logs in the work dir,
// all on free 127.0.0.1 ports. Cluster mode passes the cluster flags of DESIGN §9 (--meta, --objects, --wal
// object); embedded mode runs one self-contained broker (file WAL, its own metadata) for the scenarios that need
// no second broker.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "drill/process.h"

namespace floe::drill {

struct EnvironmentOptions {
  bool embedded = false;
  int brokers = 3;
  std::string store = "s3";  // "s3" (moto) or "file"
  std::string wal = "file";  // embedded mode's WAL kind
  int session_timeout_ms = 3000;
  std::string floe_binary;  // this binary
  std::string work_dir;
  std::vector<std::string> extra_broker_args;  // --broker-arg, passed to every broker
  std::chrono::milliseconds start_timeout{30000};
  // An existing cluster instead: its bootstrap list, and the brokers whose PIDs (and admin HTTP address) are known.
  struct ExternalBroker {
    int node_id = 0;
    int pid = 0;
    std::string http;  // host:port of its /metrics; empty: not scraped
  };
  std::string external_bootstrap;
  std::vector<ExternalBroker> external_brokers;
  bool external() const { return !external_bootstrap.empty(); }
};

struct BrokerProcess {
  int node_id = 0;
  int kafka_port = 0;
  int http_port = 0;
  std::string http_addr;  // an existing cluster's broker: its admin address as given
  std::string data_dir;
  std::unique_ptr<ChildProcess> process;
  int starts = 0;        // how many times it was started (restarts append to the same log)
  bool removed = false;  // scaled in or replaced: not restarted, not in bootstrap
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(kafka_port); }
  std::string http() const { return http_addr.empty() ? "127.0.0.1:" + std::to_string(http_port) : http_addr; }
};

class Environment {
 public:
  explicit Environment(EnvironmentOptions options);
  ~Environment();  // stops everything it started, by PID
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // etcd and the store (cluster mode), then the brokers; each wait bounded by start_timeout.
  Status start();
  void stop_all();

  // Starts broker `node_id` (new, or again on its ports and data dir) and waits until its Kafka port accepts.
  Status start_broker(int node_id);
  // Adds a broker with the next unused node id and starts it; returns its id.
  Result<int> add_broker();
  BrokerProcess* broker(int node_id);
  std::vector<BrokerProcess*> live_brokers();
  std::vector<BrokerProcess*> all_brokers();  // including stopped and removed ones (their counters matter)
  std::string bootstrap();                    // every live broker, comma-separated
  int next_node_id() const;

  const EnvironmentOptions& options() const { return options_; }
  std::string objects_url() const;
  std::string meta_url() const;

 private:
  Status start_etcd();
  Status start_s3();
  std::vector<std::string> broker_argv(const BrokerProcess& b) const;

  EnvironmentOptions options_;
  std::unique_ptr<ChildProcess> etcd_;
  std::unique_ptr<ChildProcess> moto_;
  int etcd_port_ = 0, etcd_peer_port_ = 0, moto_port_ = 0;
  std::string objects_dir_;
  std::map<int, std::unique_ptr<BrokerProcess>> brokers_;
};

// A bounded HTTP/1.0 request to 127.0.0.1:port (no body); returns the status code, 0 when nothing answered.
int http_status(int port, const std::string& method, const std::string& target, std::chrono::milliseconds timeout);

}  // namespace floe::drill
