// Stream benchmarks: the file WAL's durable append throughput and ack latency, next to this machine's own fsync
// latency and sequential write bandwidth measured in the same run, on the same file system; then StreamStore on the
// object WAL (file:// directly, and file:// behind FaultStore's cloud profile): ack latency p50/p99 at a fixed
// rate, printed with wal.flush.ms, wal.inflight and the PUT latency the WAL measured in the same run.
//
// Then catch-up reads from objects (stream_read_bench.cc): MiB/s with the block cache and read-ahead next to the raw
// GET throughput of the same objects, and resident memory against the configured cache bounds.
//
// usage: floe_bench_stream [DIR] [SECONDS_PER_CASE] [all|file|object|read|read-file] [READ_MIB]
//        (DIR defaults to ./floe-bench-stream, removed afterwards; default: all; READ_MIB: data read back, 128)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <optional>

#include "base/log.h"
#include "meta/embedded_store.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "stream/file_wal.h"
#include "stream/stream_store.h"
#include "stream_read_bench.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct FsyncFigures {
  double p50_ms, p99_ms, write_mib_s;
};

// A `bytes` write (4 KiB unless told) + fdatasync, 300 times: {p50, p99} in ms.
std::pair<double, double> measure_fsync(const std::string& dir, size_t bytes = 4096) {
  std::string path = dir + "/raw.bin";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::vector<uint8_t> block(bytes, 0xab);
  std::vector<double> lat;
  for (int i = 0; i < 300; ++i) {
    auto t = Clock::now();
    if (::pwrite(fd, block.data(), bytes, static_cast<off_t>(i * bytes)) != static_cast<ssize_t>(bytes) ||
        ::fdatasync(fd) != 0) {
      std::abort();
    }
    lat.push_back(seconds_since(t) * 1000);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return {percentile(lat, 0.5), percentile(lat, 0.99)};
}

// measure_fsync; then 256 MiB in 1 MiB writes followed by one fdatasync.
FsyncFigures measure_disk(const std::string& dir) {
  const auto [p50, p99] = measure_fsync(dir);
  std::string path = dir + "/raw.bin";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::vector<uint8_t> block(1 << 20, 0xab);
  const int mib = 256;
  auto t = Clock::now();
  for (int i = 0; i < mib; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) std::abort();
  }
  if (::fdatasync(fd) != 0) std::abort();
  double bw = mib / seconds_since(t);
  ::close(fd);
  ::unlink(path.c_str());
  return {p50, p99, bw};
}

std::unique_ptr<floe::stream::FileWal> open_wal(const std::string& dir, size_t max_entry) {
  fs::remove_all(dir);
  floe::stream::FileWalOptions o;
  o.dir = dir;
  o.max_entry_bytes = max_entry;
  o.segment_bytes = 256ull << 20;
  o.max_buffered_bytes = 256u << 20;
  // FLOE_BENCH_WAL_GROUP_BYTES=N: the WAL's max_group_bytes (most bytes one write + fdatasync covers).
  if (const char* group = std::getenv("FLOE_BENCH_WAL_GROUP_BYTES")) o.max_group_bytes = std::strtoull(group, nullptr, 10);
  // FLOE_BENCH_WAL_SYNC_THREADS=N: the WAL's flusher threads.
  if (const char* threads = std::getenv("FLOE_BENCH_WAL_SYNC_THREADS")) o.sync_threads = std::strtoull(threads, nullptr, 10);
  auto wal = floe::stream::FileWal::open(o, [](const floe::stream::WalEntry&) {});
  if (!wal) {
    std::fprintf(stderr, "%s\n", wal.error().message.c_str());
    std::exit(1);
  }
  return std::move(*wal);
}

// Keeps `window` appends of `batch` bytes in flight for `secs`; returns durable MiB/s.
double throughput(const std::string& dir, size_t batch, int window, double secs, uint64_t* syncs) {
  auto wal = open_wal(dir, batch);
  std::vector<uint8_t> payload(batch, 0x42);
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  uint64_t done_bytes = 0;
  auto start = Clock::now();
  while (seconds_since(start) < secs) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return inflight < window; });
      ++inflight;
    }
    wal->append(payload, [&](std::error_code ec, uint64_t) {
      if (ec) {
        std::fprintf(stderr, "WAL append failed: %s\n", ec.message().c_str());
        std::abort();
      }
      std::lock_guard lock(mu);
      --inflight;
      done_bytes += batch;
      cv.notify_one();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return inflight == 0; });
  }
  double elapsed = seconds_since(start);
  *syncs = wal->syncs();
  wal.reset();
  fs::remove_all(dir);
  return static_cast<double>(done_bytes) / (1 << 20) / elapsed;
}

// Appends at a fixed rate (open loop) and records each ack latency in ms.
std::vector<double> latency_at_rate(const std::string& dir, size_t batch, double mib_per_s, double secs,
                                    bool* direct = nullptr, uint64_t* syncs = nullptr) {
  auto wal = open_wal(dir, batch);
  std::vector<uint8_t> payload(batch, 0x42);
  const double interval = static_cast<double>(batch) / (mib_per_s * (1 << 20));
  std::mutex mu;
  std::vector<double> lat;
  std::atomic<int> outstanding{0};
  auto start = Clock::now();
  for (uint64_t i = 0; seconds_since(start) < secs; ++i) {
    auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval * i));
    std::this_thread::sleep_until(due);
    auto t = Clock::now();
    outstanding.fetch_add(1);
    wal->append(payload, [&, t](std::error_code ec, uint64_t) {
      if (ec) {
        std::fprintf(stderr, "WAL append failed: %s\n", ec.message().c_str());
        std::abort();
      }
      std::lock_guard lock(mu);
      lat.push_back(seconds_since(t) * 1000);
      outstanding.fetch_sub(1);
    });
  }
  wal->close();
  if (direct) *direct = wal->direct_io();
  if (syncs) *syncs = wal->syncs();
  wal.reset();
  fs::remove_all(dir);
  return lat;
}

struct ObjectWalFigures {
  std::vector<double> ack_ms;
  std::vector<double> put_ms;
  uint64_t objects = 0;
  uint64_t hedges = 0;
  uint64_t commit_txns = 0;
  double seconds = 0;  // first append to last answer
  size_t failed = 0;
};

// A valid record batch of `records` records of `value_bytes` each.
floe::stream::Bytes record_batch(int records, size_t value_bytes) {
  floe::record::BatchBuilder b;
  std::string value(value_bytes, 'v');
  for (int i = 0; i < records; ++i) {
    floe::record::NewRecord r;
    r.value = floe::stream::ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size());
    r.timestamp = 1;
    (void)b.add(r);
  }
  floe::stream::Bytes out;
  (void)b.build(out);
  return out;
}

template <typename T>
T wait_for(asio::io_context& io, asio::awaitable<T> op) {
  auto fut = asio::co_spawn(io, std::move(op), asio::use_future);
  return fut.get();
}

// StreamStore with the object WAL on file:// (optionally behind FaultStore's cloud profile) and the embedded
// metadata store; `rate` appends per second of `batch` bytes over 8 streams, open loop, for `secs`.
ObjectWalFigures object_wal_latency(const std::string& dir, bool cloud, int flush_ms, bool eager, size_t inflight,
                                    int hedge_ms, int rate, const floe::stream::Bytes& batch, double secs) {
  using namespace floe;
  fs::remove_all(dir);
  fs::create_directories(dir);
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  ObjectWalFigures out;
  {
    auto file = objstore::FileStore::open(dir + "/bucket");
    if (!file.ok()) std::abort();
    std::shared_ptr<objstore::ObjectStore> inner(std::move(file.value));
    objstore::FaultStore faulty(inner, cloud ? objstore::FaultConfig::cloud_profile() : objstore::FaultConfig{});
    objstore::ObjectStore& objects = cloud ? static_cast<objstore::ObjectStore&>(faulty) : *inner;
    auto meta = meta::EmbeddedStore::open(io.get_executor(), meta::EmbeddedConfig{.dir = dir + "/meta"});
    if (!meta) std::abort();
    stream::StreamStoreConfig c;
    c.wal_kind = stream::StreamStoreConfig::WalKind::object;
    c.broker_id = 1;
    c.epoch = 1;
    c.wal_flush_interval = std::chrono::milliseconds(flush_ms);
    c.wal_flush_eager = eager;
    c.wal_inflight = inflight;
    c.wal_put_hedge = std::chrono::milliseconds(hedge_ms);
    c.max_append_bytes = std::max<size_t>(c.max_append_bytes, batch.size());
    auto opened = wait_for(io, stream::StreamStore::open(io.get_executor(), c, objects, **meta));
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      std::exit(1);
    }
    std::unique_ptr<stream::StreamStore> store = std::move(*opened);
    std::mutex mu;
    std::atomic<int> outstanding{0};
    const double interval = 1.0 / rate;
    auto start = Clock::now();
    for (uint64_t i = 0; seconds_since(start) < secs; ++i) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(interval * static_cast<double>(i))));
      auto t = Clock::now();
      outstanding.fetch_add(1);
      asio::co_spawn(io, store->append(1 + i % 8, batch, 0),
                     [&, t](std::exception_ptr, floe::Result<int64_t> r) {
                       std::lock_guard lock(mu);
                       if (r) out.ack_ms.push_back(seconds_since(t) * 1000);
                       else ++out.failed;
                       outstanding.fetch_sub(1);
                     });
    }
    for (int i = 0; i < 3000 && outstanding.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    out.seconds = seconds_since(start);
    for (int64_t us : store->object_wal()->put_micros()) out.put_ms.push_back(static_cast<double>(us) / 1000);
    out.objects = store->object_wal()->stats().objects;
    out.hedges = store->object_wal()->stats().put_hedges;
    wait_for(io, store->close());
    out.commit_txns = store->object_wal()->stats().commit_txns;
    store.reset();
    (*meta)->shutdown();
  }
  guard.reset();
  io.stop();
  runner.join();
  fs::remove_all(dir);
  return out;
}

// Each setting runs with wal.flush.eager off (objects only at the flush tick or batch size: the rule before eager
// cuts existed, the same-run baseline) and on (also cut at once when no PUT is in flight).
void object_wal_cases(const std::string& dir, double secs) {
  floe::log::set_level(floe::log::Level::warn);
  const floe::stream::Bytes batch = record_batch(16, 1000);  // ~16 KiB, a typical produce batch
  const int rate = 500;                               // appends/s: ~8 MiB/s
  std::printf("\nStreamStore on the object WAL: ack latency, %zu-byte batches over 8 streams (open loop), %.1f s per "
              "case\n",
              batch.size(), secs);
  std::printf("  store                   appends/s flush.ms eager inflight hedge.ms   ack p50    ack p99   PUT p50   "
              "PUT p99  objects/s commits/s hedges failed\n");
  struct Case {
    const char* name;
    bool cloud;
    int rate;
    int flush_ms;
    size_t inflight;
    int hedge_ms;
  };
  const Case cases[] = {{"file://", false, 20, 50, 4, 0},
                        {"file://", false, rate, 50, 4, 0},
                        {"file://", false, rate, 50, 4, 150},
                        {"file:// + cloud profile", true, 20, 50, 4, 0},
                        {"file:// + cloud profile", true, rate, 50, 4, 0},
                        {"file:// + cloud profile", true, rate, 50, 16, 0},
                        {"file:// + cloud profile", true, rate, 50, 4, 150},
                        {"file:// + cloud profile", true, rate, 50, 16, 150}};
  for (const Case& c : cases) {
    for (bool eager : {false, true}) {
      auto f = object_wal_latency(dir + "/objwal", c.cloud, c.flush_ms, eager, c.inflight, c.hedge_ms, c.rate, batch,
                                  secs);
      const double s = std::max(f.seconds, 1e-9);
      std::printf("  %-24s %8d %8d %5s %8zu %8d %7.1f ms %7.1f ms %6.1f ms %6.1f ms %9.1f %9.1f %6llu %6zu\n", c.name,
                  c.rate, c.flush_ms, eager ? "on" : "off", c.inflight, c.hedge_ms, percentile(f.ack_ms, 0.5),
                  percentile(f.ack_ms, 0.99), percentile(f.put_ms, 0.5), percentile(f.put_ms, 0.99),
                  static_cast<double>(f.objects) / s, static_cast<double>(f.commit_txns) / s,
                  static_cast<unsigned long long>(f.hedges), f.failed);
    }
  }
  std::printf("  (cloud profile target: ack p99 < 500 ms; an ack waits for its cut (flush tick, or at once when eager "
              "and no PUT is in flight), its PUT and every earlier PUT; commits are spaced by wal.flush.ms)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "./floe-bench-stream";
  double secs = argc > 2 ? std::atof(argv[2]) : 2.0;
  fs::create_directories(dir);

  const std::string which = argc > 3 ? argv[3] : "all";
  const size_t read_mib = argc > 4 ? static_cast<size_t>(std::atol(argv[4])) : 128;
  if (which == "read" || which == "read-file") {
    floe::bench::catch_up_read_cases(dir, read_mib, which == "read-file");
    fs::remove_all(dir);
    return 0;
  }
  if (which == "object") {
    object_wal_cases(dir, secs);
    fs::remove_all(dir);
    return 0;
  }
  FsyncFigures disk = measure_disk(dir);
  std::printf("floe stream benchmark (file WAL) in %s, %.1f s per case\n\n", dir.c_str(), secs);
  std::printf("machine baseline: fdatasync 4 KiB p50 %.3f ms  p99 %.3f ms;  sequential write %.0f MiB/s\n\n",
              disk.p50_ms, disk.p99_ms, disk.write_mib_s);

  std::printf("durable append throughput (1 KiB records, one batch per append, 32 appends in flight)\n");
  std::printf("  batch      MiB/s   x raw write   syncs   appends/sync\n");
  double tput_64k = 0;
  // FLOE_BENCH_ACK_RATE_MIB=R: the latency case at R MiB/s instead of half the measured load, without the throughput
  // cases (to compare two builds at one offered load).
  const char* fixed_rate = std::getenv("FLOE_BENCH_ACK_RATE_MIB");
  if (fixed_rate) tput_64k = 2 * std::atof(fixed_rate);
  for (size_t batch : {16u << 10, 64u << 10, 256u << 10, 1u << 20}) {
    if (fixed_rate) break;
    uint64_t syncs = 0;
    double t = throughput(dir + "/wal", batch, 32, secs, &syncs);
    if (batch == (64u << 10)) tput_64k = t;
    double appends = t * secs * (1 << 20) / static_cast<double>(batch);
    std::printf("  %5zu KiB %8.1f   %9.2f   %6llu   %10.1f\n", batch >> 10, t, t / disk.write_mib_s,
                static_cast<unsigned long long>(syncs), syncs ? appends / static_cast<double>(syncs) : 0.0);
  }

  // The disk's fsync latency drifts with the other users of this machine: it is measured again right before and
  // right after the latency case, and the ratio is taken against the mean of those two.
  double rate = tput_64k / 2;
  const double fsync_before = measure_fsync(dir).second;
  bool direct = false;
  uint64_t lat_syncs = 0;
  auto lat = latency_at_rate(dir + "/wal", 64u << 10, rate, secs, &direct, &lat_syncs);
  const double fsync_after = measure_fsync(dir).second;
  const double fsync_p99 = (fsync_before + fsync_after) / 2;
  double p99 = percentile(lat, 0.99);
  std::printf("\nack latency, 64 KiB batches at half the measured load (%.1f MiB/s, %zu appends, WAL writes %s)\n", rate,
              lat.size(), direct ? "O_DIRECT" : "buffered");
  std::printf("  p50 %.3f ms   p99 %.3f ms   p999 %.3f ms\n", percentile(lat, 0.5), p99, percentile(lat, 0.999));
  std::printf("  fsync p99 right before %.3f ms, right after %.3f ms;  p99 / fsync p99 (their mean) = %.2f (target "
              "<= 3);  against the run's first baseline: %.2f\n",
              fsync_before, fsync_after, p99 / fsync_p99, p99 / disk.p99_ms);
  // The target compares with a 4 KiB fdatasync; a WAL sync covers a whole group. For the reader: a buffered write
  // of the mean group's size + fdatasync on the same disk (not the target's baseline).
  if (lat_syncs > 0) {
    const size_t group = std::max<size_t>(4096, lat.size() * (64u << 10) / lat_syncs);
    const auto [group_p50, group_p99] = measure_fsync(dir, group);
    std::printf("  mean group %.0f KiB (%llu syncs): write + fdatasync of that size p50 %.3f ms  p99 %.3f ms;  "
                "p99 / that p99 = %.2f\n",
                group / 1024.0, static_cast<unsigned long long>(lat_syncs), group_p50, group_p99, p99 / group_p99);
  }
  if (which == "all") {
    object_wal_cases(dir, secs);
    floe::bench::catch_up_read_cases(dir, read_mib);
  }
  fs::remove_all(dir);
  return 0;
}
