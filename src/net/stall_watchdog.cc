#include "net/stall_watchdog.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include <asio/post.hpp>

#include "base/log.h"

#ifdef FLOE_HAVE_LIBBACKTRACE
#include <backtrace.h>
#endif

namespace floe::net {

using Clock = std::chrono::steady_clock;

struct StallWatchdog::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  uint64_t ran_seq = 0;  // the newest tick that ran, and when
  Clock::time_point ran_at{};
  std::map<uint64_t, pthread_t> threads;  // registered io threads
  uint64_t next_thread_id = 1;
};

namespace {

constexpr std::string_view kLog = "net";

// ---- stack capture: a signal to the thread, whose handler records return addresses only -------------------------

constexpr int kMaxFrames = 64;
constexpr size_t kMaxShownFrames = 32;
constexpr size_t kMaxNameChars = 200;

// state: 0 idle, 1 requested, 3 handler writing, 2 written. One capture at a time (capture_mu).
struct CaptureSlot {
  std::atomic<int> state{0};
  void* frames[kMaxFrames];
  int depth = 0;
};
CaptureSlot g_slot;
std::mutex g_capture_mu;

int stack_signal() { return SIGRTMIN + 5; }

void on_stack_signal(int) {
  const int saved_errno = errno;
  int expected = 1;
  if (g_slot.state.compare_exchange_strong(expected, 3)) {
    g_slot.depth = backtrace(g_slot.frames, kMaxFrames);
    g_slot.state.store(2, std::memory_order_release);
  }
  errno = saved_errno;
}

bool install_handler() {
  static const bool installed = [] {
    // backtrace() loads libgcc's unwinder on first use (dlopen, malloc): do that here, not in the signal handler.
    void* warm[4];
    (void)backtrace(warm, 4);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = &on_stack_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(stack_signal(), &sa, nullptr) == 0;
  }();
  return installed;
}

std::string demangled(const char* name) {
  if (!name) return "";
  std::string out = name;
  if (name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && d) out = d;
    std::free(d);
  }
  if (out.size() > kMaxNameChars) out = out.substr(0, kMaxNameChars) + "...";
  return out;
}

std::string short_path(const char* file) {
  std::string f = file;
  const size_t src = f.rfind("/src/");
  if (src != std::string::npos) return f.substr(src + 1);
  const size_t slash = f.rfind('/');
  return slash == std::string::npos ? f : f.substr(slash + 1);
}

// Fallback without debug info: the exported symbol, else module+offset (addr2line -Cfe MODULE OFFSET resolves it).
std::string describe_by_dladdr(uintptr_t pc) {
  Dl_info info;
  std::ostringstream os;
  if (dladdr(reinterpret_cast<void*>(pc), &info) != 0) {
    if (info.dli_sname) return demangled(info.dli_sname);
    const char* module = info.dli_fname ? std::strrchr(info.dli_fname, '/') : nullptr;
    os << (module ? module + 1 : (info.dli_fname ? info.dli_fname : "?")) << "+0x" << std::hex
       << (pc - reinterpret_cast<uintptr_t>(info.dli_fbase));
    return os.str();
  }
  os << "0x" << std::hex << pc;
  return os.str();
}

#ifdef FLOE_HAVE_LIBBACKTRACE
void on_backtrace_error(void*, const char*, int) {}

backtrace_state* symbol_state() {
  // Reads the running binary's DWARF lazily; created once, used from the watchdog threads only.
  static backtrace_state* state = backtrace_create_state(nullptr, /*threaded=*/1, &on_backtrace_error, nullptr);
  return state;
}

int on_pcinfo(void* data, uintptr_t, const char* file, int line, const char* function) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (!function) return 0;
  std::string s = demangled(function);
  if (file) s += " (" + short_path(file) + ":" + std::to_string(line) + ")";
  out->push_back(std::move(s));
  return 0;
}
#endif

// One frame as text; inlined functions come first, each as its own entry.
std::vector<std::string> describe(uintptr_t pc) {
  std::vector<std::string> names;
#ifdef FLOE_HAVE_LIBBACKTRACE
  static std::mutex mu;  // libbacktrace's state is thread-safe, but keep symbolization one at a time (memory)
  std::lock_guard lock(mu);
  if (backtrace_state* s = symbol_state()) backtrace_pcinfo(s, pc, &on_pcinfo, &on_backtrace_error, &names);
#endif
  if (names.empty()) names.push_back(describe_by_dladdr(pc));
  return names;
}

}  // namespace

std::string capture_thread_stack(unsigned long thread, std::chrono::milliseconds timeout) {
  if (!install_handler()) return "";
  std::lock_guard lock(g_capture_mu);
  g_slot.state.store(1, std::memory_order_release);
  if (pthread_kill(static_cast<pthread_t>(thread), stack_signal()) != 0) {
    g_slot.state.store(0);
    return "";
  }
  const auto deadline = Clock::now() + timeout;
  while (g_slot.state.load(std::memory_order_acquire) != 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int expected = 1;
  if (g_slot.state.compare_exchange_strong(expected, 0)) return "";  // never answered: withdrawn
  while (g_slot.state.load(std::memory_order_acquire) != 2) std::this_thread::yield();  // the handler is finishing
  std::vector<void*> frames(g_slot.frames, g_slot.frames + std::max(0, g_slot.depth));
  g_slot.state.store(0, std::memory_order_release);

  // frames[0] is the handler, frames[1] the kernel's signal trampoline, frames[2] where the thread was interrupted
  // (an exact pc); the rest are return addresses (pc - 1 lies inside the calling instruction).
  std::ostringstream os;
  size_t shown = 0;
  for (size_t i = 2; i < frames.size() && shown < kMaxShownFrames; ++i) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(frames[i]);
    if (i > 2) pc -= 1;
    for (const std::string& name : describe(pc)) {
      if (shown == kMaxShownFrames) break;
      if (shown) os << " | ";
      os << "#" << shown++ << " " << name;
    }
  }
  return os.str();
}

// ---- the watchdog ------------------------------------------------------------------------------------------------

StallWatchdog::StallWatchdog(asio::io_context& io, StallWatchdogConfig config)
    : io_(io), config_(config), shared_(std::make_shared<Shared>()) {}

StallWatchdog::~StallWatchdog() { stop(); }

void StallWatchdog::start() {
  if (started_) return;
  started_ = true;
  if (config_.capture_stacks) (void)install_handler();
  thread_ = std::thread([this] { run(); });
}

void StallWatchdog::stop() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->stopping = true;
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

StallWatchdogStats StallWatchdog::stats() const {
  StallWatchdogStats s;
  s.lateness = lateness_.snapshot();
  s.blocked_stalls = blocked_stalls_.load(std::memory_order_relaxed);
  s.paused_stalls = paused_stalls_.load(std::memory_order_relaxed);
  s.longest_us = longest_us_.load(std::memory_order_relaxed);
  return s;
}

StallWatchdog::IoThreadScope::IoThreadScope(StallWatchdog* watchdog) : watchdog_(watchdog) {
  if (!watchdog_) return;
  std::lock_guard lock(watchdog_->shared_->mu);
  id_ = watchdog_->shared_->next_thread_id++;
  watchdog_->shared_->threads.emplace(id_, pthread_self());
}

StallWatchdog::IoThreadScope::~IoThreadScope() {
  if (!watchdog_) return;
  {
    std::lock_guard lock(watchdog_->shared_->mu);
    watchdog_->shared_->threads.erase(id_);
  }
  watchdog_->shared_->cv.notify_all();
}

void StallWatchdog::run() {
  std::unique_lock lock(shared_->mu);
  while (!shared_->stopping) {
    if (shared_->threads.empty()) {  // the io_context is not being run: nothing to measure
      shared_->cv.wait_for(lock, config_.tick_interval);
      continue;
    }
    lock.unlock();
    const bool go_on = tick();
    lock.lock();
    if (!go_on) break;
    // Between ticks the io threads are not measured, but a process that stops now delays this wait too.
    const Clock::time_point deadline = Clock::now() + config_.tick_interval;
    shared_->cv.wait_until(lock, deadline, [this] { return shared_->stopping; });
    const Clock::duration late = Clock::now() - deadline;
    if (!shared_->stopping && late >= config_.warn_after) {
      lock.unlock();
      paused_stalls_.fetch_add(1, std::memory_order_relaxed);
      log::warn(kLog, "io stall: the watchdog thread ran ",
                std::chrono::duration_cast<std::chrono::milliseconds>(late).count(), " ms late (io.stall.warn.ms ",
                config_.warn_after.count(), "): the whole process was not running (stopped, frozen or starved of CPU)");
      lock.lock();
    }
  }
}

bool StallWatchdog::tick() {
  Shared& s = *shared_;
  const uint64_t seq = ++next_seq_;
  const Clock::time_point posted = Clock::now();
  asio::post(io_, [shared = shared_, seq] {
    {
      std::lock_guard lock(shared->mu);
      if (seq > shared->ran_seq) {
        shared->ran_seq = seq;
        shared->ran_at = Clock::now();
      }
    }
    shared->cv.notify_all();
  });
  // Wake up every `poll` while waiting, to see how late the watchdog thread itself runs (a paused process delays
  // both) and to capture stacks once the stall passes warn_after.
  const auto poll = std::clamp<Clock::duration>(config_.warn_after / 4, std::chrono::milliseconds(1),
                                                 config_.tick_interval);
  Clock::duration self_late{0};
  bool captured = false;
  std::unique_lock lock(s.mu);
  while (true) {
    const Clock::time_point deadline = Clock::now() + poll;
    s.cv.wait_until(lock, deadline, [&] { return s.stopping || s.ran_seq >= seq || s.threads.empty(); });
    const Clock::time_point now = Clock::now();
    if (now > deadline) self_late = std::max(self_late, now - deadline);
    if (s.ran_seq >= seq) break;
    if (s.stopping) return false;
    if (s.threads.empty()) return true;  // the io threads stopped running: the tick may never run
    const Clock::duration so_far = now - posted;
    if (!captured && config_.capture_stacks && so_far >= config_.warn_after && self_late < config_.warn_after / 2) {
      captured = true;
      lock.unlock();
      capture_stacks(so_far);
      lock.lock();
    }
  }
  const Clock::duration lateness = s.ran_at - posted;
  lock.unlock();
  report(lateness, self_late);
  return true;
}

void StallWatchdog::report(Clock::duration lateness, Clock::duration self_late) {
  lateness_.record(lateness);
  const auto us = static_cast<uint64_t>(std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(lateness).count()));
  uint64_t longest = longest_us_.load(std::memory_order_relaxed);
  while (us > longest && !longest_us_.compare_exchange_weak(longest, us, std::memory_order_relaxed)) {
  }
  if (lateness < config_.warn_after) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(lateness).count();
  const auto self_ms = std::chrono::duration_cast<std::chrono::milliseconds>(self_late).count();
  if (self_late * 2 >= lateness) {
    paused_stalls_.fetch_add(1, std::memory_order_relaxed);
    log::warn(kLog, "io stall: a task posted to the io threads ran ", ms, " ms late (io.stall.warn.ms ",
              config_.warn_after.count(), "); the watchdog thread was ", self_ms,
              " ms late too: the whole process was not running (stopped, frozen or starved of CPU)");
    return;
  }
  blocked_stalls_.fetch_add(1, std::memory_order_relaxed);
  log::warn(kLog, "io stall: a task posted to the io threads ran ", ms, " ms late (io.stall.warn.ms ",
            config_.warn_after.count(), "): an io thread was busy",
            config_.capture_stacks ? " (its stack during the stall is logged above)" : "");
}

void StallWatchdog::capture_stacks(Clock::duration so_far) {
  std::vector<pthread_t> threads;
  {
    std::lock_guard lock(shared_->mu);
    for (const auto& [id, t] : shared_->threads) threads.push_back(t);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(so_far).count();
  for (size_t i = 0; i < threads.size(); ++i) {
    std::string stack = capture_thread_stack(static_cast<unsigned long>(threads[i]), std::chrono::milliseconds(200));
    log::warn(kLog, "io stall: io thread ", i + 1, " of ", threads.size(), " busy for ", ms, " ms so far, at: ",
              stack.empty() ? std::string("(no stack: the thread did not answer)") : stack);
  }
}

}  // namespace floe::net
