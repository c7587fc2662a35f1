// A moto S3 server for tests and benchmarks: `python3 -m moto.server -H 127.0.0.1 -p PORT` (the python3 on PATH),
// started on a free port, checked with a bounded poll, stopped by PID (SIGTERM, then SIGKILL) in the destructor.
// Over TLS with `-c CERT -k KEY` when given a certificate (make_test_certificate makes a self-signed one).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace floe::objstore::testing {

// A TLS certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1 only, so "localhost" does not match it) and its key,
// made with the openssl CLI; self-signed, so cert_file is also the CA bundle that trusts it.
struct TestCertificate {
  std::string cert_file;
  std::string key_file;
};
// Writes DIR/cert.pem and DIR/key.pem (EC P-256, valid one day). False (and *error) on failure.
bool make_test_certificate(const std::string& dir, TestCertificate* out, std::string* error);

class MotoServer {
 public:
  // nullptr (and *error) when moto cannot be started within ~30 s. With `tls`, the server speaks https.
  static std::unique_ptr<MotoServer> start(std::string* error, const TestCertificate* tls = nullptr);
  // Another TLS server on a free port, the same way: `python3 -c SCRIPT PORT CERT KEY`.
  static std::unique_ptr<MotoServer> start_script(const std::string& script, const TestCertificate& tls,
                                                  std::string* error);
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // POST /moto-api/reset: forget every bucket. True on HTTP 200 (plain-HTTP servers only).
  bool reset();

 private:
  static std::unique_ptr<MotoServer> launch(
      const std::function<std::vector<std::string>(const std::string& port)>& make_args, bool tls, std::string* error);
  MotoServer(pid_t pid, uint16_t port, bool tls) : pid_(pid), port_(port), tls_(tls) {}
  pid_t pid_;
  uint16_t port_;
  bool tls_;
};

// A 127.0.0.1 listener on a free port that accepts (the kernel completes connections from its backlog) and never
// reads or answers: the fd (the caller closes it) and *port, or -1.
int silent_listener(uint16_t* port);

// One HTTP/1.0 exchange on 127.0.0.1:port with a bounded wait; the status code, or 0.
int raw_http_status(uint16_t port, const std::string& method, const std::string& target, int timeout_ms);

}  // namespace floe::objstore::testing
