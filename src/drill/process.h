// Child processes of the drill (etcd, the S3 endpoint, brokers): started with fork/exec into their own process
// group (so a terminal's Ctrl-C reaches only the drill, which then stops them itself), stdout+stderr appended to a
// log file, PR_SET_PDEATHSIG so they die with the drill even if it is killed, and stopped by PID with bounded waits.
// Every started PID is in a process-wide registry that the SIGINT/SIGTERM handler and the exit path use.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace floe::drill {

// Set by SIGINT/SIGTERM; every wait in the drill polls it and gives up early. A second signal SIGKILLs every
// registered child at once and exits.
bool interrupted();
void install_interrupt_handlers();
// SIGKILLs and reaps every registered child still running (the exit path).
void kill_all_children();

// Sleeps up to `d`, returning early (false) when interrupted.
bool sleep_for(std::chrono::milliseconds d);

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILL + reap if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // argv[0] is looked up in PATH when it has no '/'. Returns false with *error set when fork/exec failed (an exec
  // failure shows as the child exiting 127 at once, reported by the caller's readiness wait).
  bool start(const std::vector<std::string>& argv, const std::string& log_path, std::string* error);
  // A process the drill did not start (an existing cluster's broker): signals go to its PID, running() asks the
  // kernel, and nothing is killed at exit (a process the drill paused is resumed).
  void adopt(pid_t pid);
  bool external() const { return external_; }
  bool running();  // reaps if it exited
  pid_t pid() const { return pid_; }
  int exit_status() const { return status_; }  // waitpid status once reaped
  void signal(int sig);
  // Sends `sig` and waits up to `grace` for exit, then SIGKILLs and reaps. Returns the time until it exited.
  std::chrono::milliseconds stop(int sig, std::chrono::milliseconds grace);
  // Waits up to `timeout` for it to exit on its own; true if it did.
  bool wait_exit(std::chrono::milliseconds timeout);
  const std::string& log_path() const { return log_path_; }
  std::string log_tail(std::size_t bytes = 3000) const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool external_ = false;
  bool stopped_by_us_ = false;  // SIGSTOP sent and no SIGCONT since
  std::string log_path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
// Whether 127.0.0.1:port accepts a TCP connection within `timeout`.
bool port_accepts(int port, std::chrono::milliseconds timeout);

}  // namespace floe::drill
