// Test support: a real etcd server (Debian's etcd-server) on free 127.0.0.1 ports with a temporary data dir, started
// and stopped by PID. Used by the etcd conformance suite and by bench/meta.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace floe::meta::testing {

class EtcdProcess {
 public:
  EtcdProcess() = default;
  ~EtcdProcess();  // stops etcd and removes the data dir
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Picks ports and a data dir (first call only), starts etcd and waits (at most `ready_timeout`) until /health
  // says true. On failure returns false with a reason (and the tail of etcd's log) in *error.
  bool start(std::string* error, std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  // SIGTERM, then SIGKILL after `grace`; reaps the process. Keeps ports and data for a restart.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  bool running() const { return pid_ > 0; }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  const std::string& data_dir() const { return dir_; }
  std::string log_tail() const;

 private:
  pid_t pid_ = -1;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string dir_;
};

// A free TCP port on 127.0.0.1 (bound and released; a small race with other processes remains).
int free_port();

}  // namespace floe::meta::testing
