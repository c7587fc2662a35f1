// Catch-up reads from objects (issue 5): a consumer reading one stream of committed objects from its start, in
// 1 MiB reads (Kafka's max.partition.fetch.bytes), through StreamStore with the block cache and read-ahead, next to
// the raw GET throughput of the same store for the same objects measured in the same run (whole objects, one GET
// at a time and as many in flight as the reader's read-ahead window holds), and next to the same reads with no block cache (each read GETs its whole block). On file:// and on
// file:// behind FaultStore's cloud profile (GET median 30 ms, p99 200 ms). Then resident memory (/proc/self/statm)
// before and during the catch-up, against the configured cache bounds plus the fixed overhead measured before.
//
// The objects are written by a forked child (so the writer's memory is not in the reader's resident set).
#include "stream_read_bench.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "base/log.h"
#include "meta/embedded_store.h"
#include "objstore/fault_store.h"
#include "objstore/file_store.h"
#include "protocol/record/batch_builder.h"
#include "protocol/record/batch_view.h"
#include "stream/stream_store.h"

namespace floe::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr size_t kObjectBytes = 4u << 20;  // upload size: one 4 MiB object (one block) per flush
constexpr size_t kReadBytes = 1u << 20;    // one read (a Kafka fetch of one partition)
constexpr uint64_t kStream = 1;
constexpr int kRounds = 5;
constexpr int kMemoryPasses = 3;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds this process used so far (every thread: the GET pool, read-ahead and CRC checks included). CPU per byte
// is steadier than MiB/s on a shared machine, where a busy neighbour stretches wall time but not CPU time.
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Minor page faults of this process so far (fresh memory touched: one per 4 KiB page).
long minor_faults() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// A measured pass: MiB/s, CPU milliseconds and minor page faults per MiB.
struct Pass {
  double mib_s = 0;
  double cpu_ms_per_mib = 0;
  double faults_per_mib = 0;
};
double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

template <typename T>
T wait_for(asio::io_context& io, asio::awaitable<T> op) {
  return asio::co_spawn(io, std::move(op), asio::use_future).get();
}

stream::Bytes record_batch(int records, size_t value_bytes) {
  record::BatchBuilder b;
  std::string value(value_bytes, 'v');
  for (int i = 0; i < records; ++i) {
    record::NewRecord r;
    r.value = stream::ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size());
    r.timestamp = 1;
    (void)b.add(r);
  }
  stream::Bytes out;
  (void)b.build(out);
  return out;
}

// An io_context on its own thread, the file:// store (optionally behind the cloud profile) and the embedded
// metadata store in `dir`.
struct Rig {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::thread runner{[this] { io.run(); }};
  std::shared_ptr<objstore::ObjectStore> file;
  std::unique_ptr<objstore::FaultStore> faulty;
  std::unique_ptr<meta::MetaStore> meta;

  Rig(const std::string& dir, bool cloud) {
    auto f = objstore::FileStore::open(dir + "/bucket");
    if (!f.ok()) std::abort();
    file = std::shared_ptr<objstore::ObjectStore>(std::move(f.value));
    faulty = std::make_unique<objstore::FaultStore>(
        file, cloud ? objstore::FaultConfig::cloud_profile() : objstore::FaultConfig{});
    auto m = meta::EmbeddedStore::open(io.get_executor(), meta::EmbeddedConfig{.dir = dir + "/meta"});
    if (!m) std::abort();
    meta = std::move(*m);
  }
  objstore::ObjectStore& objects() { return *faulty; }
  ~Rig() {
    meta->shutdown();
    guard.reset();
    io.stop();
    runner.join();
  }
};

stream::StreamStoreConfig store_config(const std::string& dir, size_t block_cache) {
  stream::StreamStoreConfig c;
  c.wal_dir = dir + "/wal";
  c.upload_bytes = size_t{1} << 40;  // uploads only on flush(): one object per kObjectBytes
  c.upload_interval = std::chrono::hours(1);
  c.log_cache_bytes = 0;  // committed data leaves memory: reads come from objects
  c.block_cache_bytes = block_cache;
  c.epoch = 1;
  return c;
}

// The child: `total` bytes of 256 KiB batches to one stream, flushed into one object every kObjectBytes.
void write_objects(const std::string& dir, size_t total) {
  Rig rig(dir, false);
  auto opened = wait_for(rig.io, stream::StreamStore::open(rig.io.get_executor(), store_config(dir, 0),
                                                           rig.objects(), *rig.meta));
  if (!opened) std::_Exit(2);
  auto store = std::move(*opened);
  const stream::Bytes batch = record_batch(256, 1000);
  size_t written = 0, since_flush = 0;
  while (written < total) {
    if (!wait_for(rig.io, store->append(kStream, batch, 0))) std::_Exit(3);
    written += batch.size();
    since_flush += batch.size();
    if (since_flush >= kObjectBytes) {
      if (!wait_for(rig.io, store->flush())) std::_Exit(4);
      since_flush = 0;
    }
  }
  if (!wait_for(rig.io, store->flush())) std::_Exit(4);
  wait_for(rig.io, store->close());
}

// Whole objects, `parallel` GETs in flight (each worker takes the next object when its GET returns): MiB/s. The
// workers are coroutines on the io thread, as the catch-up reads are (a Kafka fetch runs on a network thread), so
// that neither pays a thread hand-off per request to the bench.
Pass raw_get(Rig& rig, size_t parallel) {
  auto page = wait_for(rig.io, rig.file->list("data/", "", 1000, objstore::Clock::now() + std::chrono::seconds(30)));
  if (!page.ok()) std::abort();
  struct Shared {
    const std::vector<objstore::ObjectInfo>* objects;
    size_t next = 0;
    size_t running = 0;
    uint64_t bytes = 0;
    std::promise<void> done;
  } shared{&page.value.objects};
  auto worker = [&rig](Shared& sh) -> asio::awaitable<void> {
    while (sh.next < sh.objects->size()) {  // one io thread: no lock needed
      const std::string key = (*sh.objects)[sh.next++].key;
      auto got = co_await rig.objects().get(key, std::nullopt, objstore::Clock::now() + std::chrono::seconds(30));
      if (!got.ok()) std::abort();
      sh.bytes += got.value.size();
    }
    if (--sh.running == 0) sh.done.set_value();
  };
  const double cpu = cpu_seconds();
  const long faults = minor_faults();
  const auto start = Clock::now();
  shared.running = parallel;
  auto finished = shared.done.get_future();
  asio::post(rig.io, [&] {
    for (size_t i = 0; i < parallel; ++i) asio::co_spawn(rig.io, worker(shared), asio::detached);
  });
  finished.get();
  const double secs = seconds_since(start);
  const double bytes = mib(shared.bytes);
  return Pass{bytes / secs, (cpu_seconds() - cpu) * 1000 / bytes, static_cast<double>(minor_faults() - faults) / bytes};
}

struct CatchUp {
  double mib_s = 0;           // the measured pass
  double cpu_ms_per_mib = 0;
  double faults_per_mib = 0;
  double fresh_cpu_ms_per_mib = 0;
  double fresh_faults_per_mib = 0;
  // Reads that waited on a GET (their own or one in flight), and the time they took, of the pass's elapsed time.
  int waiting_reads = 0, fresh_waiting_reads = 0;
  double waiting_ms = 0, fresh_waiting_ms = 0;
  double elapsed_ms = 0, fresh_elapsed_ms = 0;
  double fresh_mib_s = 0;     // timed rounds: the first pass, on a fresh store whose cache memory is not allocated yet
  uint64_t gets = 0;          // GET requests the store saw in the measured pass
  uint64_t ahead_gets = 0;    // read-ahead GETs among them
  stream::BlockReader::Stats blocks;
  size_t rss_before = 0;
  size_t rss_peak = 0;
};

// A fresh StreamStore (cold caches) and a reader from offset 0 to the end, kReadBytes per read, as one coroutine on
// the io thread (like a Kafka fetch on a network thread).
//
// Timed rounds read the stream twice. The first pass is on a fresh store: besides its GETs it allocates the cache's
// memory (a page fault per 4 KiB); its figures are kept as fresh_*. The second (steady) pass: the cache is
// full of the stream's tail, which LRU evicts before the reader gets there, so every block is a GET again (counted)
// and the GETs read into the memory of evicted blocks, as on a broker that has been serving for a while.
// With `sample_memory` (one pass, from a trimmed heap) the resident set is read after every read instead (a /proc
// read each: that pass is for memory, not timed against the raw GETs).
CatchUp catch_up(Rig& rig, const std::string& dir, size_t block_cache, bool sample_memory) {
  CatchUp out;
  auto opened = wait_for(rig.io, stream::StreamStore::open(rig.io.get_executor(), store_config(dir, block_cache),
                                                           rig.objects(), *rig.meta));
  if (!opened) std::abort();
  auto store = std::move(*opened);
  if (sample_memory) ::malloc_trim(0);
  out.rss_before = out.rss_peak = resident_bytes();
  const int64_t end = store->ends(kStream).durable;
  auto reads = [&store, &out, end, sample_memory]() -> asio::awaitable<void> {
    uint64_t bytes = 0;
    int64_t next = 0;
    const double cpu = cpu_seconds();
    const long faults = minor_faults();
    const auto start = Clock::now();
    out.waiting_reads = 0;
    out.waiting_ms = 0;
    for (int count = 0; next < end && count < 1000000; ++count) {
      // A read that made a GET or joined one in flight waited on the store (the rest were cache hits).
      const auto before = store->cache_stats().blocks;
      const auto read_start = Clock::now();
      auto r = co_await store->read(kStream, next, kReadBytes);
      const auto after = store->cache_stats().blocks;
      if (after.gets != before.gets || after.joined != before.joined) {
        ++out.waiting_reads;
        out.waiting_ms += seconds_since(read_start) * 1000;
      }
      if (!r || r->batches.empty()) {
        std::fprintf(stderr, "read at %lld failed: %s\n", static_cast<long long>(next),
                     r ? "empty" : r.error().message.c_str());
        std::exit(1);
      }
      bytes += r->batches.size();
      record::BatchSplitter split{stream::ByteSpan(r->batches)};
      for (record::BatchView b; split.next(b);) next = b.header().base_offset + b.header().last_offset_delta + 1;
      if (sample_memory) out.rss_peak = std::max(out.rss_peak, resident_bytes());
    }
    out.elapsed_ms = seconds_since(start) * 1000;
    out.mib_s = mib(bytes) / (out.elapsed_ms / 1000);
    out.cpu_ms_per_mib = (cpu_seconds() - cpu) * 1000 / mib(bytes);
    out.faults_per_mib = static_cast<double>(minor_faults() - faults) / mib(bytes);
  };
  if (!sample_memory) {
    wait_for(rig.io, reads());
    out.fresh_mib_s = out.mib_s;
    out.fresh_cpu_ms_per_mib = out.cpu_ms_per_mib;
    out.fresh_faults_per_mib = out.faults_per_mib;
    out.fresh_waiting_reads = out.waiting_reads;
    out.fresh_waiting_ms = out.waiting_ms;
    out.fresh_elapsed_ms = out.elapsed_ms;
  }
  const uint64_t gets_before = rig.file->stats()[objstore::Op::get].requests;
  const uint64_t ahead_before = store->cache_stats().blocks.ahead_gets;
  wait_for(rig.io, reads());
  out.gets = rig.file->stats()[objstore::Op::get].requests - gets_before;
  out.blocks = store->cache_stats().blocks;
  out.ahead_gets = out.blocks.ahead_gets - ahead_before;
  wait_for(rig.io, store->close());
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

void catch_up_read_cases(const std::string& base_dir, size_t total_mib, bool file_only) {
  log::set_level(log::Level::warn);
  const std::string dir = base_dir + "/catchup";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const size_t total = total_mib << 20;
  // Written by a child process, so that the reader's resident set holds no writer state.
  pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    write_objects(dir, total);
    std::_Exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "writer child failed (status %d)\n", status);
    std::exit(1);
  }
  const size_t block_cache = 64u << 20;
  const stream::StreamStoreConfig defaults;
  // Raw GET at the concurrency the reader may use: its read-ahead GETs (at most ahead_inflight_gets, and no more
  // bytes than its window and read_ahead_inflight_bytes: that many whole objects here) plus the read's own GET.
  const size_t window_max = std::min(defaults.read_ahead_max_bytes, block_cache / 2);
  const size_t reader_gets =
      std::min(stream::BlockReaderConfig{}.ahead_inflight_gets,
               std::max<size_t>(std::min(window_max, defaults.read_ahead_inflight_bytes) / kObjectBytes, 1)) + 1;
  std::printf("\ncatch-up reads from objects: one stream of %zu MiB in %zu MiB objects (blocks of up to %zu MiB), read "
              "from offset 0 in %zu MiB reads; block cache %zu MiB, read-ahead window up to %zu MiB, %zu MiB and %zu "
              "GETs in flight; median of %d rounds (x raw: median of the per-round ratios, against the better of the "
              "round's two raw GET figures)\n",
              total_mib, kObjectBytes >> 20, defaults.block_bytes >> 20, kReadBytes >> 20, block_cache >> 20,
              std::min(defaults.read_ahead_max_bytes, block_cache / 2) >> 20, defaults.read_ahead_inflight_bytes >> 20,
              stream::BlockReaderConfig{}.ahead_inflight_gets, kRounds);
  std::printf("  raw GET: the same objects, whole, 1 GET at a time and %zu in flight (as many bytes as the reader's "
              "read-ahead window holds, plus its own GET); first pass: a fresh store (cold block cache, its memory not yet "
              "allocated); steady: the same store's second pass (the cache holds the stream's tail, evicted before "
              "the reader gets there: every block is a GET again)\n",
              reader_gets);
  std::printf("  store                     raw GET MiB/s (1 / %zu)   first pass MiB/s  x raw   steady MiB/s  x raw   "
              "no cache MiB/s  x raw   GETs (cache / none)\n",
              reader_gets);
  CatchUp memory_round;
  for (bool cloud : {false, true}) {
    if (cloud && file_only) break;
    Rig rig(dir, cloud);
    std::vector<double> raw1, rawn, cached, uncached, cached_x, uncached_x, raw_cpu, cached_cpu, fresh, fresh_x,
        fresh_cpu, raw_faults, fresh_faults, cached_faults, fresh_wait, fresh_waiting, cached_wait, cached_waiting;
    CatchUp last, last_none;
    // Rounds alternate the measurements; ratios are taken within a round (this machine's load drifts).
    for (int round = 0; round < kRounds; ++round) {
      const Pass one = raw_get(rig, 1);
      const Pass many = raw_get(rig, reader_gets);
      raw1.push_back(one.mib_s);
      rawn.push_back(many.mib_s);
      const double raw = std::max(one.mib_s, many.mib_s);
      raw_cpu.push_back(one.cpu_ms_per_mib);
      raw_faults.push_back(one.faults_per_mib);
      last = catch_up(rig, dir, block_cache, false);
      cached.push_back(last.mib_s);
      cached_cpu.push_back(last.cpu_ms_per_mib);
      cached_faults.push_back(last.faults_per_mib);
      fresh.push_back(last.fresh_mib_s);
      fresh_x.push_back(last.fresh_mib_s / raw);
      fresh_cpu.push_back(last.fresh_cpu_ms_per_mib);
      fresh_faults.push_back(last.fresh_faults_per_mib);
      fresh_wait.push_back(last.fresh_waiting_ms / last.fresh_elapsed_ms);
      fresh_waiting.push_back(last.fresh_waiting_reads);
      cached_wait.push_back(last.waiting_ms / last.elapsed_ms);
      cached_waiting.push_back(last.waiting_reads);
      last_none = catch_up(rig, dir, 0, false);
      uncached.push_back(last_none.mib_s);
      cached_x.push_back(last.mib_s / raw);
      uncached_x.push_back(last_none.mib_s / raw);
    }
    std::printf("  %-25s %8.1f / %-8.1f        %14.1f   %5.2f   %12.1f   %5.2f   %14.1f   %5.2f   %5llu / %-5llu\n",
                cloud ? "file:// + cloud profile" : "file://", median(raw1), median(rawn), median(fresh),
                median(fresh_x), median(cached), median(cached_x), median(uncached), median(uncached_x),
                static_cast<unsigned long long>(last.gets), static_cast<unsigned long long>(last_none.gets));
    std::printf("  %-25s CPU ms per MiB (all threads): raw GET (1 at a time) %.3f, first pass %.3f, steady %.3f; "
                "minor page faults per MiB (fresh memory, one per 4 KiB): %.1f, %.1f, %.1f; read-ahead GETs (steady) "
                "%llu\n",
                "", median(raw_cpu), median(fresh_cpu), median(cached_cpu), median(raw_faults), median(fresh_faults),
                median(cached_faults), static_cast<unsigned long long>(last.ahead_gets));
    std::printf("  %-25s reads that waited on a GET (their own or one in flight) and their share of the pass's time: "
                "first pass %.0f (%.0f%%), steady %.0f (%.0f%%)\n",
                "", median(fresh_waiting), 100 * median(fresh_wait), median(cached_waiting), 100 * median(cached_wait));
    if (cloud) continue;
    // Memory: separate passes that read the resident set after every read (not timed); the one that grew most.
    for (int pass = 0; pass < kMemoryPasses; ++pass) {
      CatchUp sampled = catch_up(rig, dir, block_cache, true);
      if (pass == 0 || sampled.rss_peak - sampled.rss_before > memory_round.rss_peak - memory_round.rss_before) {
        memory_round = sampled;
      }
    }
  }
  std::printf("  (target: catch-up >= 0.8x raw GET, first pass and steady alike; raw GET = whole objects, the better of "
              "1 and %zu in flight)\n",
              reader_gets);

  const auto& m = memory_round;
  // The log cache is 0 here; released blocks' memory kept for the next GETs is bounded too (BlockReader).
  const size_t recycled = m.blocks.buffers.max_bytes;
  const size_t bounds = block_cache + defaults.read_ahead_inflight_bytes + recycled;
  // Besides the caches, while a read runs: its GET buffer (a whole block), the block it still holds after the cache
  // evicted it, and its result.
  const size_t transient = 2 * kObjectBytes + kReadBytes;
  std::printf("\nresident memory (file://, of %d untimed passes the one that grew most): fixed overhead before the reads %.1f MiB; peak "
              "during the "
              "catch-up %.1f MiB (+%.1f MiB)\n",
              kMemoryPasses, mib(m.rss_before), mib(m.rss_peak), mib(m.rss_peak - m.rss_before));
  std::printf("  configured bounds: log cache 0 MiB (log.cache.bytes, set to 0 here) + block cache %.0f MiB + "
              "read-ahead in flight %.0f MiB + released block memory kept for reuse %.0f MiB = %.0f MiB, plus one read "
              "in progress (%.0f MiB)\n",
              mib(block_cache), mib(defaults.read_ahead_inflight_bytes), mib(recycled), mib(bounds), mib(transient));
  std::printf("  block cache held %.1f MiB at the end (%llu evictions); read-ahead in flight peaked at %.1f MiB; the "
              "rest of the growth is the allocator's (freed buffers it keeps)\n",
              mib(m.blocks.cache.bytes), static_cast<unsigned long long>(m.blocks.cache.evictions),
              mib(m.blocks.ahead_inflight_peak));
  std::printf("  peak <= overhead + bounds + one read: %s\n",
              m.rss_peak <= m.rss_before + bounds + transient ? "yes" : "NO");
  fs::remove_all(dir);
}

}  // namespace floe::bench
