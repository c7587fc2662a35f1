// floe_bench_objstore: PUT and GET throughput and latency percentiles of 4 MiB objects with 1, 8 and 32 in flight,
// for file:// and for s3:// on a moto server started here, next to two baselines measured in the same run: raw disk
// write bandwidth (write + fsync of 4 MiB files, same concurrency) and boto3 on the same moto server, each run at
// every level right after floe's figure (the machine is shared and noisy), with the ratio printed beneath. Each
// level deletes its objects afterwards (untimed) so that every level starts from the same disk and moto state.
// Usage: floe_bench_objstore [--dir DIR] [--objects N] [--s3-objects N] [--skip-s3] [--skip-file]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "objstore/file_store.h"
#include "objstore/s3_store.h"
#include "objstore/tests/moto_server.h"

using namespace floe::objstore;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kObject = 4u << 20;

struct Figures {
  double mib_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int errors = 0;
};

Figures summarize(std::vector<double> ms, double seconds, int count, int errors) {
  Figures f;
  std::sort(ms.begin(), ms.end());
  f.mib_s = count * 4.0 / seconds;
  if (!ms.empty()) {
    f.p50_ms = ms[ms.size() / 2];
    f.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    f.max_ms = ms.back();
  }
  f.errors = errors;
  return f;
}

void print(const char* what, int inflight, const Figures& f) {
  std::printf("  %-22s in-flight %2d  %8.1f MiB/s  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms%s\n", what, inflight,
              f.mib_s, f.p50_ms, f.p99_ms, f.max_ms, f.errors ? "  ERRORS" : "");
}

// Runs `count` operations with `inflight` at a time on the io threads; op(i) returns true on success.
template <typename MakeOp>
Figures drive(asio::io_context& io, int count, int inflight, MakeOp make_op) {
  std::vector<double> ms(static_cast<std::size_t>(count));
  std::atomic<int> next{0}, errors{0}, done_workers{0};
  const auto start = Clock::now();
  for (int w = 0; w < inflight; ++w) {
    auto worker = [&]() -> asio::awaitable<void> {
      for (int i = next++; i < count; i = next++) {
        const auto t0 = Clock::now();
        const bool ok = co_await make_op(i);
        ms[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!ok) ++errors;
      }
      ++done_workers;
    };
    asio::co_spawn(io, worker, asio::detached);
  }
  while (done_workers.load() < inflight) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return summarize(ms, secs, count, errors.load());
}

Figures raw_disk(const std::string& dir, int count, int inflight, const std::string& data) {
  fs::create_directories(dir);
  std::vector<double> ms(static_cast<std::size_t>(count));
  std::atomic<int> next{0}, errors{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < inflight; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        const auto t0 = Clock::now();
        const std::string path = dir + "/raw-" + std::to_string(i);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
        if (fd >= 0) ::close(fd);
        if (!ok) ++errors;
        ms[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  fs::remove_all(dir);
  return summarize(ms, secs, count, errors.load());
}

// One in-flight level of PUT then GET; the level's objects are deleted afterwards (untimed), as raw_disk deletes its
// files, so every level starts from the same state of the disk and page cache.
Figures bench_level(const char* name, ObjectStore& store, asio::io_context& io, int count, int inflight,
                 const std::string& data) {
  const std::string prefix = std::string("bench/") + std::to_string(inflight) + "/";
  // The payloads exist before the clock starts, as a caller's buffers do (put takes ownership of one): the figure
  // is the store's, not that of copying 4 MiB into fresh memory for every call.
  std::vector<std::string> payloads(static_cast<std::size_t>(count), data);
  auto put = [&](int i) -> asio::awaitable<bool> {
    std::string payload = std::move(payloads[static_cast<std::size_t>(i)]);
    auto r = co_await store.put(prefix + std::to_string(i), std::move(payload),
                                Clock::now() + std::chrono::seconds(60));
    co_return r.ok();
  };
  const Figures put_figures = drive(io, count, inflight, put);
  print((std::string(name) + " PUT").c_str(), inflight, put_figures);
  payloads.clear();
  auto get = [&](int i) -> asio::awaitable<bool> {
    auto r = co_await store.get(prefix + std::to_string(i), std::nullopt, Clock::now() + std::chrono::seconds(60));
    co_return r.ok() && r.value.size() == kObject;
  };
  print((std::string(name) + " GET").c_str(), inflight, drive(io, count, inflight, get));
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back(prefix + std::to_string(i));
  auto removed = asio::co_spawn(io, store.remove_many(std::move(keys), Clock::now() + std::chrono::seconds(60)),
                                asio::use_future);
  if (auto r = removed.get(); !r || !r.value.empty()) std::fprintf(stderr, "  (could not delete %s*)\n", prefix.c_str());
  return put_figures;
}

const char* kBotoScript = R"PY(
import sys, time, concurrent.futures, boto3
from botocore.config import Config
endpoint, bucket, count, inflight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = bytes(range(256)) * (4 * 1024 * 1024 // 256)
if True:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench", config=Config(max_pool_connections=64))
    prefix = "boto/%d/" % inflight
    for op in ("PUT", "GET"):
        lat = []
        def one(i):
            t0 = time.perf_counter()
            if op == "PUT":
                s3.put_object(Bucket=bucket, Key=prefix + str(i), Body=data)
            else:
                assert len(s3.get_object(Bucket=bucket, Key=prefix + str(i))["Body"].read()) == len(data)
            lat.append((time.perf_counter() - t0) * 1000)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(inflight) as pool:
            list(pool.map(one, range(count)))
        secs = time.perf_counter() - start
        lat.sort()
        print("  %-22s in-flight %2d  %8.1f MiB/s  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms" % (
            "boto3 " + op, inflight, count * 4 / secs, lat[len(lat)//2], lat[min(len(lat)-1, len(lat)*99//100)], lat[-1]))
        sys.stdout.flush()
    # Untimed, as for floe's client: every level starts with an empty bucket (moto keeps objects in memory).
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": prefix + str(i)} for i in range(count)]})
)PY";

// Runs the boto3 baseline for one level, echoes its lines, and returns its PUT MiB/s (0 on failure).
double boto3_level(const std::string& script, const std::string& endpoint, int count, int inflight) {
  const std::string cmd = "python3 " + script + " " + endpoint + " floe-bench " + std::to_string(count) + " " +
                          std::to_string(inflight);
  std::fflush(stdout);
  FILE* out = ::popen(cmd.c_str(), "r");
  if (out == nullptr) return 0;
  double put_mib_s = 0;
  char line[512];
  while (std::fgets(line, sizeof line, out) != nullptr) {
    std::fputs(line, stdout);
    int level = 0;
    double mib_s = 0;
    if (std::sscanf(line, "  boto3 PUT in-flight %d %lf", &level, &mib_s) == 2) put_mib_s = mib_s;
  }
  if (::pclose(out) != 0) {
    std::fprintf(stderr, "boto3 baseline failed\n");
    return 0;
  }
  return put_mib_s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = (fs::temp_directory_path() / "floe-bench-objstore").string();
  int objects = 64, s3_objects = 32;
  bool skip_s3 = false, skip_file = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--objects" && i + 1 < argc) objects = std::max(8, std::atoi(argv[++i]));
    else if (a == "--s3-objects" && i + 1 < argc) s3_objects = std::max(8, std::atoi(argv[++i]));
    else if (a == "--skip-s3") skip_s3 = true;
    else if (a == "--skip-file") skip_file = true;
    else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--objects N] [--s3-objects N] [--skip-s3] [--skip-file]\n", argv[0]);
      return 2;
    }
  }
  std::string data(kObject, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 2654435761u >> 13);

  asio::io_context io(4);
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&io] { io.run(); });

  std::printf("4 MiB objects; %d per file:// run, %d per s3:// run; io threads 4\n", objects, s3_objects);
  std::printf("file:// in %s\n", dir.c_str());
  if (!skip_file) {
    fs::remove_all(dir + "/bucket");
    auto store = FileStore::open(dir + "/bucket");
    if (!store) {
      std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), store.error.message().c_str());
      return 1;
    }
    // Each level's baseline right before the store's figure at that level: the disk and the machine (shared,
    // noisy) are in the same state for both.
    for (int inflight : {1, 8, 32}) {
      const Figures raw = raw_disk(dir + "/raw", objects, inflight, data);
      print("raw disk write+fsync", inflight, raw);
      const Figures put = bench_level("file:// ", *store.value, io, objects, inflight, data);
      std::printf("  %-22s in-flight %2d  %8.2fx raw disk\n", "file:// PUT / raw", inflight, put.mib_s / raw.mib_s);
    }
    store.value.reset();
    fs::remove_all(dir);
  }

  if (!skip_s3) {
    std::string error;
    auto moto = floe::objstore::testing::MotoServer::start(&error);
    if (!moto) {
      std::fprintf(stderr, "moto: %s\n", error.c_str());
    } else {
      std::printf("s3:// on moto %s (pid %d)\n", moto->endpoint().c_str(), static_cast<int>(moto->pid()));
      S3Config config;
      config.bucket = "floe-bench";
      config.endpoint = moto->endpoint();
      config.credentials = {"bench", "bench", ""};
      S3Store store(io.get_executor(), config);
      auto created = asio::co_spawn(io, store.create_bucket(Clock::now() + std::chrono::seconds(20)), asio::use_future);
      if (auto ec = created.get()) {
        std::fprintf(stderr, "create bucket: %s\n", ec.message().c_str());
      } else {
        const std::string script = (fs::temp_directory_path() / "floe-bench-boto3.py").string();
        std::ofstream(script) << kBotoScript;
        // Per level, floe's client then boto3 on the same server: the same moto state and machine load for both.
        for (int inflight : {1, 8, 32}) {
          const Figures put = bench_level("s3:// moto", store, io, s3_objects, inflight, data);
          const double boto_put = boto3_level(script, moto->endpoint(), s3_objects, inflight);
          if (boto_put > 0) {
            std::printf("  %-22s in-flight %2d  %8.2fx boto3\n", "s3:// PUT / boto3", inflight, put.mib_s / boto_put);
          }
        }
        fs::remove(script);
      }
      store.shutdown();
    }
  }
  guard.reset();
  for (auto& t : threads) t.join();
  return 0;
}
