// floe_bench_objwal: ack latency of the object WAL (stream/object_wal.h) on file:// and on file:// behind
// FaultStore's cloud profile (4 MiB PUT median 60 ms, p99 400 ms). A producer thread appends at a fixed rate; the
// ack latency is append() -> callback. Printed next to it: wal.flush.ms, wal.inflight, and the PUT latency the WAL
// measured (first attempt -> success, per object), which is the floor an ack cannot beat.
//   floe_bench_objwal [--seconds S] [--rate APPENDS_PER_S] [--bytes APPEND_BYTES] [--flush-ms MS] [--inflight N]
//                     [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "meta/embedded_store.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "stream/object_wal.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Args {
  double seconds = 5;
  int rate = 2000;
  size_t bytes = 1024;
  int flush_ms = 50;
  size_t inflight = 4;
  std::string dir;
};

double quantile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[i]) / 1000.0;
}

template <typename T>
asio::awaitable<std::optional<T>> boxed(asio::awaitable<T> op) {
  co_return std::optional<T>(co_await std::move(op));
}

struct Outcome {
  std::vector<int64_t> ack_us;
  std::vector<int64_t> put_us;
  uint64_t objects = 0;
  uint64_t failed = 0;
  uint64_t retries = 0;
  double seconds = 0;
};

// `io` runs on its own thread for the whole program and outlives the stores (objstore's BlockingPool touches the
// caller's io_context just after posting a completion).
Outcome run_one(const Args& a, asio::io_context& io, floe::objstore::ObjectStore& objects, floe::meta::MetaStore& meta,
                uint64_t epoch) {
  using namespace floe;
  stream::ObjectWalOptions o;
  o.broker_id = 1;
  o.epoch = epoch;
  o.flush_interval = std::chrono::milliseconds(a.flush_ms);
  o.inflight = a.inflight;
  Outcome out;
  auto opened = asio::co_spawn(io, boxed(stream::ObjectWal::open(io.get_executor(), o, objects, meta)),
                               asio::use_future)
                    .get();
  if (!opened->ok()) {
    std::fprintf(stderr, "open: %s\n", opened->error().message.c_str());
    return out;
  }
  auto wal = std::move(opened->value());
  std::mutex mu;
  std::vector<int64_t> acks;
  acks.reserve(static_cast<size_t>(a.seconds * a.rate) + 16);
  std::atomic<uint64_t> failed{0}, answered{0};
  const auto period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / a.rate));
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  uint64_t sent = 0;
  auto next = start;
  for (int64_t off = 0; Clock::now() < end; ++off) {
    std::this_thread::sleep_until(next);
    next += period;
    stream::WalAppend e{static_cast<uint64_t>(off % 16), off, off, 0, stream::Bytes(a.bytes, 0x5a)};
    const auto t0 = Clock::now();
    ++sent;
    wal->append(std::move(e), [&, t0](std::error_code ec, uint64_t) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
      if (ec) {
        ++failed;
      } else {
        std::lock_guard l(mu);
        acks.push_back(us);
      }
      ++answered;
    });
  }
  for (int i = 0; i < 3000 && answered.load() < sent; ++i) std::this_thread::sleep_for(10ms);
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  asio::co_spawn(io, wal->close(), asio::use_future).get();
  {
    std::lock_guard l(mu);
    out.ack_us = acks;
  }
  out.put_us = wal->put_micros();
  const auto st = wal->stats();
  out.objects = st.objects;
  out.retries = st.put_retries;
  out.failed = failed.load() + (sent - answered.load());
  return out;
}

void print(const char* name, const Args& a, const Outcome& r) {
  std::printf("%-22s wal.flush.ms=%-3d wal.inflight=%-2zu appends=%-6zu (%zu B) objects=%-5llu failed=%llu retries=%llu\n",
              name, a.flush_ms, a.inflight, r.ack_us.size(), a.bytes, static_cast<unsigned long long>(r.objects),
              static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.retries));
  std::printf("%-22s ack p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms | object PUT p50 %8.2f ms  p99 %8.2f ms\n", "",
              quantile(r.ack_us, 0.50), quantile(r.ack_us, 0.99), quantile(r.ack_us, 1.0), quantile(r.put_us, 0.50),
              quantile(r.put_us, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace floe;
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--rate") a.rate = std::max(1, std::stoi(v));
    else if (k == "--bytes") a.bytes = std::max<size_t>(1, std::stoul(v));
    else if (k == "--flush-ms") a.flush_ms = std::max(1, std::stoi(v));
    else if (k == "--inflight") a.inflight = std::max<size_t>(1, std::stoul(v));
    else if (k == "--dir") a.dir = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  log::set_level(log::Level::warn);
  const fs::path root = a.dir.empty() ? fs::temp_directory_path() / ("floe-objwal-bench-" + std::to_string(getpid()))
                                      : fs::path(a.dir);
  fs::remove_all(root);
  asio::io_context meta_io{1};
  auto meta_work = asio::make_work_guard(meta_io);
  std::thread meta_thread([&] { meta_io.run(); });
  asio::io_context wal_io{1};
  auto wal_work = asio::make_work_guard(wal_io);
  std::thread wal_thread([&] { wal_io.run(); });
  meta::EmbeddedConfig mc;
  mc.dir = (root / "meta").string();
  auto meta = meta::EmbeddedStore::open(meta_io.get_executor(), mc);
  auto files = objstore::FileStore::open((root / "bucket").string());
  if (!meta.ok() || !files.ok()) {
    std::fprintf(stderr, "cannot open stores under %s\n", root.c_str());
    return 1;
  }
  std::shared_ptr<objstore::ObjectStore> file_store(std::move(files.value));
  std::printf("object WAL ack latency: %.1f s at %d appends/s of %zu B (%.2f MB/s)\n", a.seconds, a.rate, a.bytes,
              a.rate * static_cast<double>(a.bytes) / 1e6);
  print("file://", a, run_one(a, wal_io, *file_store, **meta, 1));
  objstore::FaultStore cloud(file_store, objstore::FaultConfig::cloud_profile());
  print("file:// + cloud profile", a, run_one(a, wal_io, cloud, **meta, 2));
  Args wide = a;
  wide.inflight = a.inflight * 2;
  print("file:// + cloud profile", wide, run_one(wide, wal_io, cloud, **meta, 3));
  std::printf("target under the cloud profile: ack p99 < 500 ms\n");
  (*meta)->shutdown();
  meta->reset();
  file_store.reset();  // joins the file store's pool before the io contexts go
  wal_work.reset();
  wal_thread.join();
  meta_work.reset();
  meta_thread.join();
  fs::remove_all(root);
  return 0;
}
