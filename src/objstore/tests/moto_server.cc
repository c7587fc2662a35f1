#include "objstore/tests/moto_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace floe::objstore::testing {
namespace {

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

void stop_pid(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 300; ++i) {  // 3 s
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// Starts args (args[0] looked up on PATH) with stdout/stderr discarded: its pid, or -1.
pid_t spawn_quiet(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Runs argv to completion with stdout/stderr discarded, waiting at most `limit`; its exit status, or -1.
int run_bounded(std::vector<std::string> args, std::chrono::milliseconds limit) {
  const pid_t pid = spawn_quiet(std::move(args));
  if (pid < 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop_pid(pid);
  return -1;
}

// True when something accepts TCP connections on 127.0.0.1:port (the readiness probe of a TLS server).
bool accepts(uint16_t port, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t errlen = sizeof err;
    ok = ::poll(&p, 1, timeout_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 && err == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

bool make_test_certificate(const std::string& dir, TestCertificate* out, std::string* error) {
  TestCertificate cert{dir + "/cert.pem", dir + "/key.pem"};
  const int rc = run_bounded({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-days", "1", "-subj", "/CN=floe-test", "-addext",
                              "subjectAltName=IP:127.0.0.1", "-keyout", cert.key_file, "-out", cert.cert_file},
                             std::chrono::seconds(20));
  if (rc != 0) {
    if (error) *error = "openssl req failed (exit " + std::to_string(rc) + ")";
    return false;
  }
  *out = std::move(cert);
  return true;
}

int silent_listener(uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int raw_http_status(uint16_t port, const std::string& method, const std::string& target, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };
  int status = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return 0;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t errlen = sizeof err;
  if (::poll(&p, 1, left()) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 && err == 0) {
    const std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string got;
      while (got.size() < 12 && left() > 0) {
        pollfd in{fd, POLLIN, 0};
        if (::poll(&in, 1, left()) != 1) break;
        char buf[256];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      if (got.size() >= 12 && got.starts_with("HTTP/1.")) status = std::atoi(got.substr(9, 3).c_str());
    }
  }
  ::close(fd);
  return status;
}

std::unique_ptr<MotoServer> MotoServer::start(std::string* error, const TestCertificate* tls) {
  auto args = [tls](const std::string& port) {
    std::vector<std::string> a = {"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port};
    if (tls != nullptr) a.insert(a.end(), {"-c", tls->cert_file, "-k", tls->key_file});
    return a;
  };
  auto server = launch(args, tls != nullptr, error);
  if (!server && error) *error = "moto server did not come up (python3 -m moto.server)";
  return server;
}

std::unique_ptr<MotoServer> MotoServer::start_script(const std::string& script, const TestCertificate& tls,
                                                     std::string* error) {
  auto args = [&](const std::string& port) {
    return std::vector<std::string>{"python3", "-c", script, port, tls.cert_file, tls.key_file};
  };
  auto server = launch(args, true, error);
  if (!server && error) *error = "python3 server script did not come up";
  return server;
}

std::unique_ptr<MotoServer> MotoServer::launch(const std::function<std::vector<std::string>(const std::string&)>& make_args,
                                               bool tls, std::string* error) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint16_t port = free_port();
    if (port == 0) continue;
    pid_t pid = spawn_quiet(make_args(std::to_string(port)));
    if (pid < 0) {
      if (error) *error = "cannot run python3";
      return nullptr;
    }
    // Bounded poll: up to 30 s for moto to answer.
    for (int i = 0; i < 300; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;  // exited (port taken?): try another port
        break;
      }
      const bool up = tls ? accepts(port, 500) : raw_http_status(port, "GET", "/", 500) == 200;
      if (up) return std::unique_ptr<MotoServer>(new MotoServer(pid, port, tls));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop_pid(pid);
  }
  return nullptr;
}

MotoServer::~MotoServer() { stop_pid(pid_); }

bool MotoServer::reset() { return raw_http_status(port_, "POST", "/moto-api/reset", 5000) == 200; }

}  // namespace floe::objstore::testing
