// bench/meta: txn latency (p50, p99) and throughput of the MetaStore backends, with etcd's own figure from the same
// run next to them (a plain `etcdctl put` loop, or `etcdctl check perf` with --check-perf, which takes a minute).
//
//   build/bench/floe_bench_meta [--txns N] [--check-perf]
//
// Each txn is a compare-and-set: compare the key's mod revision, put a 100-byte value (one fsync'ed write each).
// Concurrency 1 shows latency; concurrency 32 shows group commit / pipelining throughput.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include "meta/embedded_store.h"
#include "meta/etcd_store.h"
#include "meta/tests/etcd_process.h"
#include "meta/tests/test_support.h"

namespace {

using namespace floe::meta;
using Clock = std::chrono::steady_clock;

asio::awaitable<int> worker(MetaStore& store, std::string key, int count, std::vector<double>& latencies_us) {
  const std::string value(100, 'v');
  int64_t mod = 0;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    TxnRequest t;
    t.compares.push_back(Compare::mod_revision(key, Compare::Result::equal, mod));
    t.success.emplace_back(PutRequest{key, value});
    const auto start = Clock::now();
    auto r = co_await store.txn(std::move(t));
    latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!r || !r->succeeded) {
      ++failures;
      auto kv = co_await store.get(key);
      mod = kv && *kv ? (*kv)->mod_revision : 0;
    } else {
      mod = r->revision;
    }
  }
  co_return failures;
}

void run(const char* name, MetaStore& store, floe::meta::testing::IoThreads& io, int concurrency, int total) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(concurrency));
  std::vector<std::future<int>> futures;
  const int per = std::max(1, total / concurrency);
  const auto start = Clock::now();
  for (int w = 0; w < concurrency; ++w) {
    futures.push_back(asio::co_spawn(io.io(), worker(store, "bench/c" + std::to_string(concurrency) + "/w" + std::to_string(w), per,
                                                   lat[static_cast<size_t>(w)]), asio::use_future));
  }
  int failures = 0;
  for (auto& f : futures) failures += f.get();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]; };
  std::printf("%-22s concurrency %3d  txns %6zu  p50 %8.0f us  p99 %8.0f us  %9.0f txn/s%s\n", name, concurrency,
              all.size(), pct(0.50), pct(0.99), static_cast<double>(all.size()) / secs,
              failures ? "  (some compares failed)" : "");
}

// `etcdctl put` N times in a loop: one process and one connection per put, so it measures etcdctl's end-to-end
// latency including process start (an upper bound on etcd's own figure).
void etcdctl_loop(const std::string& endpoint, int n) {
  const auto start = Clock::now();
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      std::string ep = "--endpoints=" + endpoint;
      std::string key = "bench/ctl/" + std::to_string(i);
      ::execlp("etcdctl", "etcdctl", ep.c_str(), "put", key.c_str(), "value", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%-22s %d/%d puts, %.0f us per put (process start included), %.0f put/s\n", "etcdctl put loop", ok, n,
              secs * 1e6 / n, n / secs);
}

void etcdctl_check_perf(const std::string& endpoint) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string ep = "--endpoints=" + endpoint;
    ::execlp("etcdctl", "etcdctl", ep.c_str(), "check", "perf", "--load=s", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  int txns = 2000;
  bool check_perf = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--txns" && i + 1 < argc) {
      txns = std::max(32, std::atoi(argv[++i]));
    } else if (a == "--check-perf") {
      check_perf = true;
    } else {
      std::fprintf(stderr, "usage: %s [--txns N] [--check-perf]\n", argv[0]);
      return 2;
    }
  }
  setenv("ETCDCTL_API", "3", 1);
  floe::meta::testing::IoThreads io(2);

  std::string tmpl = (std::filesystem::temp_directory_path() / "floe-bench-meta-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return 1;
  {
    EmbeddedConfig config;
    config.dir = tmpl;
    auto store = EmbeddedStore::open(io.executor(), config);
    if (!store) {
      std::fprintf(stderr, "embedded store: %s\n", store.error().message().c_str());
      return 1;
    }
    run("embedded", **store, io, 1, txns / 4);
    run("embedded", **store, io, 32, txns);
  }
  std::filesystem::remove_all(tmpl);

  floe::meta::testing::EtcdProcess etcd;
  std::string error;
  if (!etcd.start(&error)) {
    std::fprintf(stderr, "etcd: %s\n", error.c_str());
    return 1;
  }
  {
    EtcdConfig config;
    config.endpoints = {etcd.endpoint()};
    auto store = EtcdStore::create(io.executor(), config);
    if (!store) return 1;
    run("etcd (JSON gateway)", **store, io, 1, txns / 4);
    run("etcd (JSON gateway)", **store, io, 32, txns);
    (*store)->shutdown();
  }
  etcdctl_loop(etcd.endpoint(), 100);
  if (check_perf) etcdctl_check_perf(etcd.endpoint());
  etcd.stop();
  return 0;
}
