// A moto S3 server for tests and benchmarks: `python3 -m moto.server -H 127.0.0.1 -p PORT` (the python3 on PATH),
// started on a free port, checked with a bounded poll, stopped by PID (SIGTERM, then SIGKILL) in the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace floe::objstore::testing {

class MotoServer {
 public:
  // nullptr (and *error) when moto cannot be started within ~30 s.
  static std::unique_ptr<MotoServer> start(std::string* error);
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // POST /moto-api/reset: forget every bucket. True on HTTP 200.
  bool reset();

 private:
  MotoServer(pid_t pid, uint16_t port) : pid_(pid), port_(port) {}
  pid_t pid_;
  uint16_t port_;
};

// One HTTP/1.0 exchange on 127.0.0.1:port with a bounded wait; the status code, or 0.
int raw_http_status(uint16_t port, const std::string& method, const std::string& target, int timeout_ms);

}  // namespace floe::objstore::testing
