// End-to-end benchmark (issue 6): a real Kafka client (librdkafka's C API) against `floe serve` on its file WAL,
// next to librdkafka's in-memory mock cluster (not durable; the reference) and this machine's own fsync latency,
// all measured in the same run.
//
// usage: floe_bench_e2e [--floe PATH] [--seconds S] [--mib N] [--reps N] [--dir DIR] [--upload-ms MS]
//   --floe      the floe binary (default $FLOE_BIN, else ./build/floe; a bare first argument works too)
//   --seconds   bound per produce / latency / consume case (default 3)
//   --mib       bound in MiB per produce case (default 200)
//   --reps      repetitions of the produce and consume cases; the median is printed (default 3)
//   --dir       where the temporary data directory goes (default .); fsync is measured there
//   --upload-ms floe's upload interval (default 250)
//   --rate      records/s of the half-load latency case (default: half of floe's own median uncompressed produce
//               rate); the low-load case runs at a fifth of it (a tenth of the maximum)
//   --latency-only  with --rate: only the latency cases (to compare builds at one load)
#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr size_t kRecord = 1024;
constexpr uint64_t kMagic = 0x466c6f6542656e63ull;  // "FloeBenc"

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
double secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}
double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

[[noreturn]] void die(const std::string& msg);

// ---------------------------------------------------------------------------------------------------------------
// The machine's own baseline: 4 KiB pwrite + fdatasync, 300 times, on the data directory's file system.
double fsync_p99_ms(const std::string& dir) {
  std::string path = dir + "/fsync-probe.bin";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> block(4096, 0xab);
  std::vector<double> lat;
  for (int i = 0; i < 300; ++i) {
    int64_t t = now_ns();
    if (::pwrite(fd, block.data(), 4096, static_cast<off_t>(i) * 4096) != 4096 || ::fdatasync(fd) != 0) {
      die(std::string("fsync probe: ") + std::strerror(errno));
    }
    lat.push_back(static_cast<double>(now_ns() - t) / 1e6);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return percentile(lat, 0.99);
}

// The disk's raw sequential write bandwidth in MiB/s, the ceiling of any durable broker on it: 1 MiB writes, an
// fdatasync every 16 MiB (a WAL's group commit), for about `seconds` or 1 GiB. With `direct`, O_DIRECT from an
// aligned buffer (no page cache); else buffered writes. 0 when the file system refuses O_DIRECT.
double disk_write_mib_s(const std::string& dir, bool direct, double seconds) {
  std::string path = dir + (direct ? "/bandwidth-direct.bin" : "/bandwidth-buffered.bin");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
  if (fd < 0 && direct) return 0;
  if (fd < 0) die("open " + path + ": " + std::strerror(errno));
  constexpr size_t kChunk = 1 << 20;
  constexpr int kChunksPerSync = 16, kMaxChunks = 1024;
  void* buf = nullptr;
  if (::posix_memalign(&buf, 4096, kChunk) != 0) die("posix_memalign failed");
  std::memset(buf, 0x5a, kChunk);
  int64_t t0 = now_ns(), stop = t0 + static_cast<int64_t>(seconds * 1e9);
  int chunks = 0;
  bool ok = true;
  while (ok && chunks < kMaxChunks) {
    ok = ::pwrite(fd, buf, kChunk, static_cast<off_t>(chunks) * kChunk) == static_cast<ssize_t>(kChunk);
    ++chunks;
    if (ok && chunks % kChunksPerSync == 0) {
      ok = ::fdatasync(fd) == 0;
      if (now_ns() >= stop) break;
    }
  }
  if (ok) ok = ::fdatasync(fd) == 0;
  int64_t t1 = now_ns();
  std::free(buf);
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok && direct) return 0;
  if (!ok) die(std::string("bandwidth probe: ") + std::strerror(errno));
  return static_cast<double>(chunks) * kChunk / (1 << 20) / secs(t1 - t0);
}

// CPU time (user + system) and minor page faults of a process so far, from /proc/PID/stat.
struct ProcUsage {
  double cpu_s = 0;
  uint64_t minor_faults = 0;
};

ProcUsage proc_usage(pid_t pid) {
  ProcUsage u;
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return u;
  char line[2048];
  size_t n = std::fread(line, 1, sizeof(line) - 1, f);
  std::fclose(f);
  line[n] = 0;
  const char* p = std::strrchr(line, ')');  // the command name may hold spaces; fields follow its ')'
  if (!p) return u;
  unsigned long long minflt = 0, utime = 0, stime = 0;
  // Fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %llu %llu", &minflt, &utime, &stime) != 3) {
    return u;
  }
  u.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  u.minor_faults = minflt;
  return u;
}

// ---------------------------------------------------------------------------------------------------------------
// The floe child process, always stopped by PID.
pid_t g_floe = -1;

void stop_floe() {
  if (g_floe <= 0) return;
  pid_t pid = g_floe;
  g_floe = -1;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 150; ++i) {  // 15 s for a graceful drain, then SIGKILL
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) return;
    ::usleep(100 * 1000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string g_tmp;  // removed at exit

void cleanup() {
  stop_floe();
  if (!g_tmp.empty()) {
    std::error_code ec;
    fs::remove_all(g_tmp, ec);
    g_tmp.clear();
  }
}

void die(const std::string& msg) {
  std::fprintf(stderr, "floe_bench_e2e: %s\n", msg.c_str());
  cleanup();
  std::exit(1);
}

void on_signal(int sig) {
  if (g_floe > 0) ::kill(g_floe, SIGKILL);
  std::_Exit(128 + sig);
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    die("cannot pick a free port");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(s);
  return ok;
}

// Starts floe and waits (at most 20 s) until its Kafka port accepts connections; returns the bootstrap address.
std::string start_floe(const std::string& bin, const std::string& data_dir, const std::string& log,
                       int upload_ms, bool no_cache) {
  int port = free_port();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  std::vector<std::string> args = {bin,        "serve",    "--listen",    listen, "--http",
                                   "127.0.0.1:0", "--data-dir", data_dir, "--upload-ms", std::to_string(upload_ms)};
  if (no_cache) {
    args.push_back("--log-cache-bytes");
    args.push_back("0");
  }
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::_Exit(127);
  }
  g_floe = pid;
  for (int i = 0; i < 200; ++i) {
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      g_floe = -1;
      die("floe exited at start (status " + std::to_string(st) + "); see " + log);
    }
    if (port_open(port)) return listen;
    ::usleep(100 * 1000);
  }
  die("floe did not listen within 20 s; see " + log);
}

// ---------------------------------------------------------------------------------------------------------------
// Clients. Both targets get exactly the same settings; only bootstrap.servers differs.
void set(rd_kafka_conf_t* c, const char* k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(c, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) die(std::string(k) + ": " + err);
}

struct DeliveryStats {
  std::atomic<uint64_t> ok{0}, bytes{0}, failed{0};
  std::string first_error;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* s = static_cast<DeliveryStats*>(opaque);
  if (m->err) {
    if (s->failed++ == 0) s->first_error = rd_kafka_err2str(m->err);
  } else {
    s->ok++;
    s->bytes += m->len;
  }
}

// `extra`: settings applied after these (the latency case's own; both targets get the same).
using Settings = std::vector<std::pair<std::string, std::string>>;

rd_kafka_t* new_producer(const std::string& bootstrap, const char* codec, DeliveryStats* stats,
                         const Settings& extra = {}) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  set(c, "bootstrap.servers", bootstrap);
  set(c, "acks", "all");
  set(c, "linger.ms", "5");
  set(c, "compression.type", codec);
  for (const auto& [k, v] : extra) set(c, k.c_str(), v);
  // batch.size, batch.num.messages, queue.buffering.max.*, max.in.flight: librdkafka's defaults.
  rd_kafka_conf_set_opaque(c, stats);
  rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
  if (!rk) die(std::string("producer: ") + err);
  return rk;
}

// A consumer reading one partition from a given offset: the simple (assign-style) consumer API, since librdkafka
// 2.0 refuses rd_kafka_assign() without a group.id and Floe does not serve consumer groups yet. Fetch settings are
// librdkafka's defaults except fetch.wait.max.ms.
struct Consumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
};

Consumer new_consumer(const std::string& bootstrap, const std::string& topic, int64_t offset,
                      const Settings& extra = {}) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  set(c, "bootstrap.servers", bootstrap);
  set(c, "enable.partition.eof", "false");
  // A read that reaches the end of the log waits at most 10 ms on the broker (librdkafka's default, 500 ms, would
  // stall every re-read of the consume-from-cache case).
  set(c, "fetch.wait.max.ms", "10");
  for (const auto& [k, v] : extra) set(c, k.c_str(), v);
  char err[512];
  Consumer k;
  k.rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
  if (!k.rk) die(std::string("consumer: ") + err);
  k.rkt = rd_kafka_topic_new(k.rk, topic.c_str(), nullptr);
  if (rd_kafka_consume_start(k.rkt, 0, offset) != 0) {
    die("consume_start " + topic + ": " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  return k;
}

ssize_t consume_batch(Consumer& k, int timeout_ms, std::vector<rd_kafka_message_t*>& msgs) {
  return rd_kafka_consume_batch(k.rkt, 0, timeout_ms, msgs.data(), msgs.size());
}

void close_consumer(Consumer& k) {
  rd_kafka_consume_stop(k.rkt, 0);
  rd_kafka_topic_destroy(k.rkt);
  rd_kafka_destroy(k.rk);
}

// 1 KiB JSON-like values: a few random fields in fixed text, so lz4 has something realistic to do.
std::vector<std::string> make_payloads() {
  std::vector<std::string> out;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 64; ++i) {
    std::string s;
    while (s.size() < kRecord) {
      char buf[160];
      std::snprintf(buf, sizeof(buf),
                    "{\"user\":%" PRIu64 ",\"event\":\"click\",\"page\":\"/p/%" PRIx64 "\",\"ms\":%" PRIu64
                    ",\"ok\":true},",
                    rnd() % 1000000, rnd(), rnd() % 100000);
      s += buf;
    }
    s.resize(kRecord);
    out.push_back(std::move(s));
  }
  return out;
}

const std::vector<std::string>& payloads() {
  static const std::vector<std::string> p = make_payloads();
  return p;
}

// Produce one warm-up record and wait for it: creates the topic (auto-create on Floe) and connects.
void warm_up(rd_kafka_t* rk, rd_kafka_topic_t* rkt, DeliveryStats* st) {
  const std::string& p = payloads()[0];
  if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(p.data()), p.size(), nullptr, 0, nullptr) != 0) {
    die("warm-up produce failed");
  }
  rd_kafka_flush(rk, 20000);
  if (st->ok != 1) die("warm-up record not acknowledged: " + st->first_error);
  st->ok = 0;
  st->bytes = 0;
}

struct ProduceResult {
  double mib_s = 0, msgs_s = 0, mib = 0;
  uint64_t records = 0;
};

ProduceResult produce(const std::string& bootstrap, const std::string& topic, const char* codec, double seconds,
                      uint64_t max_bytes) {
  DeliveryStats st;
  rd_kafka_t* rk = new_producer(bootstrap, codec, &st);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  warm_up(rk, rkt, &st);
  const auto& pl = payloads();
  uint64_t sent = 0;
  int64_t t0 = now_ns(), stop = t0 + static_cast<int64_t>(seconds * 1e9);
  while (sent * kRecord < max_bytes) {
    if ((sent & 255) == 0 && now_ns() >= stop) break;
    const std::string& p = pl[sent % pl.size()];
    if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(p.data()), p.size(), nullptr, 0, nullptr) ==
        0) {
      ++sent;
      if ((sent & 1023) == 0) rd_kafka_poll(rk, 0);
    } else if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 1);
    } else {
      die(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  rd_kafka_flush(rk, 60000);
  int64_t t1 = now_ns();
  if (st.failed) die(topic + ": " + std::to_string(st.failed.load()) + " records failed: " + st.first_error);
  if (st.ok != sent) die(topic + ": not every record was acknowledged within 60 s");
  ProduceResult r;
  r.records = sent + 1;
  r.mib = static_cast<double>(st.bytes) / (1 << 20);
  r.mib_s = r.mib / secs(t1 - t0);
  r.msgs_s = static_cast<double>(sent) / secs(t1 - t0);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return r;
}

int64_t high_watermark(const std::string& bootstrap, const std::string& topic) {
  DeliveryStats st;
  rd_kafka_t* rk = new_producer(bootstrap, "none", &st);
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, &lo, &hi, 10000);
  rd_kafka_destroy(rk);
  if (e) die("watermarks of " + topic + ": " + rd_kafka_err2str(e));
  return hi;
}

// Reads [from, to) with one consumer, bounded by `seconds` once the first record arrives (10 s for that); with
// `again`, reads the same range over and over (stop, start at `from`, same connection) until `seconds` pass and
// counts only the passes after the first, each timed from its first record to its last (the client's own stop and
// start, and its first fetch of each pass, are not counted). Returns MiB/s of record values.
double consume(const std::string& bootstrap, const std::string& topic, int64_t from, int64_t to, double seconds,
               bool again) {
  Consumer k = new_consumer(bootstrap, topic, from);
  std::vector<rd_kafka_message_t*> msgs(1000);
  uint64_t bytes = 0, pass_bytes = 0, counted_bytes = 0;
  int64_t counted_ns = 0, pass_t0 = now_ns();
  int passes = 0;
  int64_t t0 = now_ns(), first_deadline = t0 + 10'000'000'000, deadline = 0;
  for (;;) {
    int64_t next = from;
    while (next < to) {
      int64_t now = now_ns();
      if ((deadline && now >= deadline) || (!deadline && now >= first_deadline)) break;
      ssize_t n = consume_batch(k, 100, msgs);
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = msgs[i];
        if (m->err == 0) {
          if (!deadline) deadline = now_ns() + static_cast<int64_t>(seconds * 1e9);
          if (m->offset >= next && m->offset < to) {
            if (pass_bytes == 0) pass_t0 = now_ns();
            bytes += m->len;
            pass_bytes += m->len;
            next = m->offset + 1;
          }
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          std::fprintf(stderr, "consume %s: %s\n", topic.c_str(), rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
      }
    }
    if (next >= to && passes++ > 0) {
      counted_ns += now_ns() - pass_t0;
      counted_bytes += pass_bytes;
    }
    if (!again || next < to || now_ns() >= deadline) break;
    rd_kafka_consume_stop(k.rkt, 0);
    pass_bytes = 0;
    pass_t0 = now_ns();
    if (rd_kafka_consume_start(k.rkt, 0, from) != 0) die("consume_start " + topic);
  }
  int64_t t1 = now_ns();
  close_consumer(k);
  if (bytes == 0) die("consumed nothing from " + topic + " within 10 s");
  if (again && counted_ns > 0) return static_cast<double>(counted_bytes) / (1 << 20) / secs(counted_ns);
  return static_cast<double>(bytes) / (1 << 20) / secs(t1 - t0);
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
  uint64_t samples = 0, lost = 0;
};

// Open loop: record i is due at t0 + i / rate, carries its due time and is timed from then (so a stalled producer
// or broker shows up as latency, not as a lower rate). A consumer assigned at the topic's end reads them back.
Latency e2e_latency(const std::string& bootstrap, const std::string& topic, double rate, double seconds,
                    const Settings& producer_settings, const Settings& consumer_settings) {
  DeliveryStats st;
  rd_kafka_t* rk = new_producer(bootstrap, "none", &st, producer_settings);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  warm_up(rk, rkt, &st);
  int64_t start_offset = high_watermark(bootstrap, topic);
  // Start at the warm-up record so that the consumer is known to be fetching at the tail before the load starts
  // (the mock cluster keeps only about 5 MiB per partition: a consumer that starts late finds its offset gone).
  Consumer ck = new_consumer(bootstrap, topic, start_offset - 1, consumer_settings);
  std::atomic<bool> live{false};

  const int64_t warm_ns = 500'000'000;  // the first 0.5 s is not counted
  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  std::atomic<int64_t> t0{0};
  std::vector<double> lat;
  lat.reserve(total);
  std::atomic<bool> producer_done{false};
  std::thread reader([&] {
    uint64_t got = 0;
    int64_t give_up = 0;
    int errors = 0;
    while (got < total) {
      if (producer_done && !give_up) give_up = now_ns() + 10'000'000'000;
      if (give_up && now_ns() >= give_up) break;
      // One message at a time, timed the moment the client hands it over: rd_kafka_consume_batch() would hold the
      // first messages until its batch of 1000 fills or its timeout ends, and charge that wait to every message.
      rd_kafka_message_t* m = rd_kafka_consume(ck.rkt, 0, 50);
      int64_t now = now_ns();
      if (m) {
        if (m->err == 0) live = true;
        uint64_t magic;
        int64_t due;
        if (m->err == 0 && m->len >= 16) {
          std::memcpy(&magic, m->payload, 8);
          std::memcpy(&due, static_cast<char*>(m->payload) + 8, 8);
          if (magic == kMagic) {
            ++got;
            if (due >= t0 + warm_ns) lat.push_back(static_cast<double>(now - due) / 1e6);
          }
        } else if (m->err && errors++ < 3) {
          std::fprintf(stderr, "latency consumer %s: %s\n", topic.c_str(), rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
      }
    }
  });

  for (int w = 0; w < 1000 && !live; ++w) ::usleep(10 * 1000);  // at most 10 s
  if (!live) std::fprintf(stderr, "latency %s: the consumer saw nothing within 10 s\n", bootstrap.c_str());
  std::string buf = payloads()[1];
  int64_t start = now_ns() + 10'000'000;
  t0 = start;
  const double interval_ns = 1e9 / rate;
  uint64_t i = 0;
  while (i < total) {
    int64_t now = now_ns();
    int64_t due = start + static_cast<int64_t>(static_cast<double>(i) * interval_ns);
    if (due > now) {
      rd_kafka_poll(rk, 0);
      timespec ts{static_cast<time_t>(due / 1000000000), static_cast<long>(due % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      continue;
    }
    std::memcpy(buf.data(), &kMagic, 8);
    std::memcpy(buf.data() + 8, &due, 8);
    if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, buf.data(), buf.size(), nullptr, 0, nullptr) == 0) {
      ++i;
    } else if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 1);
    } else {
      die(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
    }
    if (now > start + static_cast<int64_t>((seconds + 30) * 1e9)) break;  // hard bound if the broker stalls
  }
  rd_kafka_flush(rk, 30000);
  producer_done = true;
  reader.join();
  close_consumer(ck);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);

  Latency r;
  r.samples = lat.size();
  uint64_t counted = total - std::min<uint64_t>(total, static_cast<uint64_t>(rate * secs(warm_ns)));
  r.lost = counted > lat.size() ? counted - lat.size() : 0;
  r.p50_ms = percentile(lat, 0.5);
  r.p99_ms = percentile(lat, 0.99);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Floe's own view of a latency case: its /metrics before and after, and quantiles of the histograms on the path
// produce -> WAL durable -> parked fetch woken, from the difference (interpolated within buckets, so coarse).

// The admin HTTP port floe logged at start ("http listening on 127.0.0.1:PORT"), the last one in the log.
int floe_http_port(const std::string& log) {
  std::FILE* f = std::fopen(log.c_str(), "r");
  if (!f) return 0;
  int port = 0;
  char line[1024];
  while (std::fgets(line, sizeof(line), f)) {
    const char* at = std::strstr(line, "http listening on ");
    if (!at) continue;
    const char* colon = std::strrchr(at, ':');
    if (colon) port = std::atoi(colon + 1);
  }
  std::fclose(f);
  return port;
}

// Every sample line of GET /metrics: "name{labels}" -> value. Empty when the scrape fails (the breakdown is then
// left out; the figures do not depend on it).
using Scrape = std::map<std::string, double>;

Scrape scrape_metrics(int port) {
  Scrape out;
  if (port <= 0) return out;
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string body;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(s, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      for (ssize_t n; (n = ::recv(s, buf, sizeof(buf), 0)) > 0 && body.size() < (64u << 20);) body.append(buf, n);
    }
  }
  ::close(s);
  size_t pos = body.find("\r\n\r\n");
  if (pos == std::string::npos) return out;
  for (size_t at = pos + 4; at < body.size();) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

struct HistDelta {
  uint64_t count = 0;
  double p50 = 0, p99 = 0;  // seconds
};

// The histogram `name` (series whose labels include `label`, e.g. api="Produce"; empty: the unlabelled one)
// between two scrapes: count and bucket-interpolated p50 / p99.
HistDelta hist_delta(const Scrape& before, const Scrape& after, const std::string& name, const std::string& label) {
  std::vector<std::pair<double, double>> cum;  // (le, cumulative count difference)
  const std::string prefix = name + "_bucket{";
  for (auto it = after.lower_bound(prefix); it != after.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    const std::string& key = it->first;
    if (!label.empty() && key.find(label) == std::string::npos) continue;
    size_t le = key.find("le=\"");
    if (le == std::string::npos) continue;
    std::string bound = key.substr(le + 4, key.find('"', le + 4) - le - 4);
    double b = bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr);
    auto was = before.find(key);
    cum.emplace_back(b, it->second - (was == before.end() ? 0 : was->second));
  }
  std::sort(cum.begin(), cum.end());
  HistDelta d;
  if (cum.empty() || cum.back().second <= 0) return d;
  d.count = static_cast<uint64_t>(cum.back().second);
  auto quantile = [&](double q) {
    const double want = q * cum.back().second;
    double lo = 0, below = 0;
    for (const auto& [b, c] : cum) {
      if (c >= want) {
        if (std::isinf(b)) return lo;  // beyond the last bound: its lower edge
        return c > below ? lo + (b - lo) * (want - below) / (c - below) : b;
      }
      lo = b;
      below = c;
    }
    return lo;
  };
  d.p50 = quantile(0.5);
  d.p99 = quantile(0.99);
  return d;
}

// The path of a record through floe, as floe measured it during one latency case.
void print_server_breakdown(const Scrape& before, const Scrape& after) {
  if (before.empty() || after.empty()) {
    std::printf("    (floe's /metrics could not be read: no server-side breakdown)\n");
    return;
  }
  struct Row {
    const char* what;
    const char* name;
    const char* label;
  };
  static const Row kRows[] = {
      {"Produce request: dispatch -> acked (durable)", "floe_kafka_request_duration_seconds", "api=\"Produce\""},
      {"  WAL append -> durable", "floe_wal_append_duration_seconds", ""},
      {"  WAL fdatasync (per group commit)", "floe_wal_sync_duration_seconds", ""},
      {"durable -> parked Fetch running again", "floe_kafka_fetch_wake_duration_seconds", ""},
      {"Fetch request: dispatch -> response ready", "floe_kafka_request_duration_seconds", "api=\"Fetch\""},
  };
  for (const Row& r : kRows) {
    HistDelta d = hist_delta(before, after, r.name, r.label);
    if (d.count == 0) {
      std::printf("    floe %-46s (none: %s not exported or not observed)\n", r.what, r.name);
    } else {
      std::printf("    floe %-46s p50 %7.3f ms  p99 %7.3f ms  (%" PRIu64 ")\n", r.what, d.p50 * 1e3, d.p99 * 1e3,
                  d.count);
    }
  }
  HistDelta group = hist_delta(before, after, "floe_wal_group_commit_appends", "");
  if (group.count) std::printf("    floe WAL group commit: p50 %.1f appends per sync (%" PRIu64 " syncs)\n", group.p50, group.count);
  std::printf("    (the Fetch request time includes its long-poll wait for data; buckets 50 us .. 60 s, interpolated)\n");
}

// The latency case's client settings, the same on both targets: what an application that cares about end-to-end
// latency sets (librdkafka's INTRODUCTION.md, "Low latency": linger.ms as low as the load allows). linger.ms=1,
// not 0: at 100k records/s on a 2-core machine linger.ms=0 sent so many small requests that both targets fell
// behind (p50 44-340 ms against 6 ms with linger.ms=5), while 1 ms still forms batches and gives a lower p50 than 5
// on both; socket.nagle.disable=true on both clients (librdkafka's default leaves Nagle on: a request's last
// small segment may wait for the previous one's ACK); fetch.min.bytes=1 (the default, said explicitly): answer as
// soon as there is anything; fetch.wait.max.ms as the other cases (a parked fetch is woken by the data anyway).
// FLOE_E2E_LINGER_MS overrides linger.ms (to see what lingering costs).
const Settings& latency_producer_settings() {
  static const Settings s = [] {
    const char* linger = std::getenv("FLOE_E2E_LINGER_MS");
    return Settings{{"linger.ms", linger && *linger ? linger : "1"}, {"socket.nagle.disable", "true"}};
  }();
  return s;
}
const Settings& latency_consumer_settings() {
  static const Settings s = {{"fetch.min.bytes", "1"}, {"socket.nagle.disable", "true"}};
  return s;
}

std::string describe(const Settings& s) {
  std::string out;
  for (const auto& [k, v] : s) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out;
}

struct Figures {
  double prod_none = 0, prod_lz4 = 0, max_msgs_s = 0;
  // Floe only: the broker process's CPU time (ms) and minor page faults per MiB produced, medians.
  double cpu_ms_mib_none = 0, cpu_ms_mib_lz4 = 0, faults_mib_none = 0, faults_mib_lz4 = 0;
  Latency lat, lat_low;  // at half of floe's maximum load, and at a tenth of it
  double cons_cache = 0, cons_object = 0;
  int64_t none_records = 0;
};

struct Options {
  std::string floe_bin;
  double seconds = 3;
  uint64_t mib = 200;
  int reps = 3;
  std::string dir = ".";
  int upload_ms = 250;
  double rate = 0;  // latency case load in records/s; 0: half of the slower measured produce rate
  bool produce_only = false;  // --produce-only: skip the latency and consume cases
  bool latency_only = false;  // --latency-only (with --rate): the latency cases only
};

void run_produce(const std::string& name, const std::string& bootstrap, const Options& o, Figures& f,
                 rd_kafka_mock_cluster_t* mock) {
  std::vector<double> none, lz4, rate, cpu_none, cpu_lz4, faults_none, faults_lz4;
  for (int r = 0; r < o.reps; ++r) {
    for (const char* codec : {"none", "lz4"}) {
      std::string topic = std::string("prod-") + codec + "-r" + std::to_string(r);
      if (mock) rd_kafka_mock_topic_create(mock, topic.c_str(), 1, 1);
      const bool floe = !mock && g_floe > 0;  // the mock runs in this process: its CPU is not separable
      ProcUsage before = floe ? proc_usage(g_floe) : ProcUsage{};
      ProduceResult p = produce(bootstrap, topic, codec, o.seconds, o.mib << 20);
      ProcUsage after = floe ? proc_usage(g_floe) : ProcUsage{};
      double cpu_ms_mib = p.mib > 0 ? (after.cpu_s - before.cpu_s) * 1e3 / p.mib : 0;
      double faults_mib = p.mib > 0 ? static_cast<double>(after.minor_faults - before.minor_faults) / p.mib : 0;
      std::printf("  %-5s produce %-4s rep %d: %8.1f MiB/s (%" PRIu64 " records)", name.c_str(), codec, r + 1,
                  p.mib_s, p.records);
      if (floe) std::printf("  broker CPU %.2f ms/MiB, %.0f minor faults/MiB", cpu_ms_mib, faults_mib);
      std::printf("\n");
      std::fflush(stdout);
      if (std::string(codec) == "none") {
        none.push_back(p.mib_s);
        rate.push_back(p.msgs_s);
        cpu_none.push_back(cpu_ms_mib);
        faults_none.push_back(faults_mib);
      } else {
        lz4.push_back(p.mib_s);
        cpu_lz4.push_back(cpu_ms_mib);
        faults_lz4.push_back(faults_mib);
      }
    }
  }
  f.prod_none = median(none);
  f.prod_lz4 = median(lz4);
  f.cpu_ms_mib_none = median(cpu_none);
  f.cpu_ms_mib_lz4 = median(cpu_lz4);
  f.faults_mib_none = median(faults_none);
  f.faults_mib_lz4 = median(faults_lz4);
  f.max_msgs_s = median(rate);
}

void run_consume_cache(const std::string& name, const std::string& bootstrap, const Options& o, Figures& f) {
  // The last rep's uncompressed topic: its newest 3 MiB, read over and over for --seconds. The window is small
  // because the mock cluster keeps only about 5 MiB per partition; Floe's log cache holds 128 MiB by default.
  std::string topic = "prod-none-r" + std::to_string(o.reps - 1);
  int64_t hi = high_watermark(bootstrap, topic);
  const char* w = std::getenv("FLOE_E2E_WINDOW");
  int64_t from = std::max<int64_t>(0, hi - (w ? std::atoll(w) : 3072));
  std::vector<double> v;
  for (int r = 0; r < o.reps; ++r) {
    v.push_back(consume(bootstrap, topic, from, hi, o.seconds, true));
    std::printf("  %-5s consume (cache) rep %d: %8.1f MiB/s (offsets %" PRId64 "..%" PRId64 ", repeatedly)\n",
                name.c_str(), r + 1, v.back(), from, hi);
    std::fflush(stdout);
  }
  f.cons_cache = median(v);
}

void usage() {
  std::fprintf(stderr,
               "usage: floe_bench_e2e [--floe PATH] [--seconds S] [--mib N] [--reps N] [--dir DIR] "
               "[--upload-ms MS] [--rate RECORDS_PER_S] [--produce-only | --latency-only]\n");
  std::exit(2);
}

std::string ratio(double a, double b) {
  char buf[32];
  if (b <= 0) return "-";
  std::snprintf(buf, sizeof(buf), "%.2fx", a / b);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("FLOE_BIN");
  o.floe_bin = env && *env ? env : "./build/floe";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--floe") o.floe_bin = val();
    else if (a == "--seconds") o.seconds = std::atof(val().c_str());
    else if (a == "--mib") o.mib = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--reps") o.reps = std::atoi(val().c_str());
    else if (a == "--dir") o.dir = val();
    else if (a == "--upload-ms") o.upload_ms = std::atoi(val().c_str());
    else if (a == "--rate") o.rate = std::atof(val().c_str());
    else if (a == "--produce-only") o.produce_only = true;
    else if (a == "--latency-only") o.latency_only = true;
    else if (a == "-h" || a == "--help") usage();
    else if (i == 1 && a[0] != '-') o.floe_bin = a;
    else usage();
  }
  if (o.seconds <= 0 || o.mib == 0 || o.reps < 1 || o.upload_ms < 1 || o.rate < 0) usage();
  if (o.latency_only && (o.rate <= 0 || o.produce_only)) usage();  // half load comes from --rate then
  if (::access(o.floe_bin.c_str(), X_OK) != 0) die("no floe binary at " + o.floe_bin + " (--floe or FLOE_BIN)");
  o.floe_bin = fs::absolute(o.floe_bin).string();

  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  ::signal(SIGPIPE, SIG_IGN);
  std::atexit(cleanup);

  std::string tmpl = (fs::absolute(o.dir) / "floe-bench-e2e.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) die("mkdtemp in " + o.dir + ": " + std::strerror(errno));
  g_tmp = tmpl;
  std::string data_dir = g_tmp + "/data", log = g_tmp + "/floe.log";
  fs::create_directories(data_dir);

  std::printf("floe_bench_e2e: librdkafka %s, floe %s, data in %s\n", rd_kafka_version_str(), o.floe_bin.c_str(),
              g_tmp.c_str());
  std::printf("cases bounded by %.1f s and %" PRIu64 " MiB; produce and consume: median of %d reps\n\n", o.seconds,
              o.mib, o.reps);
  std::fflush(stdout);

  double fsync_p99 = fsync_p99_ms(data_dir);
  std::printf("machine baseline: 4 KiB write + fdatasync p99 %.3f ms (300 samples, in %s)\n", fsync_p99,
              data_dir.c_str());
  std::fflush(stdout);
  const double disk_direct = disk_write_mib_s(data_dir, true, 0.5);
  const double disk_buffered = disk_write_mib_s(data_dir, false, 0.5);
  std::printf("machine baseline: sequential write (1 MiB writes, fdatasync every 16 MiB, ~0.5 s each): O_DIRECT "
              "%.0f MiB/s, buffered %.0f MiB/s\n\n",
              disk_direct, disk_buffered);
  std::fflush(stdout);

  // The reference: librdkafka's mock cluster (in memory, in this process, not durable).
  char err[512];
  rd_kafka_t* dummy = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
  if (!dummy) die(std::string("mock handle: ") + err);
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(dummy, 1);
  if (!mock) die("rd_kafka_mock_cluster_new failed");
  std::string mock_bs = rd_kafka_mock_cluster_bootstraps(mock);

  std::string floe_bs = start_floe(o.floe_bin, data_dir, log, o.upload_ms, false);

  Figures fl, mk;
  if (!o.latency_only) {
    run_produce("floe", floe_bs, o, fl, nullptr);
    run_produce("mock", mock_bs, o, mk, mock);
  }
  // The produce figures next to the disk's own bandwidth: the WAL writes every byte to this disk, and so does the
  // upload to the file:// object store in the data directory, so a durable broker here gets at most about half of
  // it (the in-memory mock none of it).
  auto produce_summary = [&] {
    std::printf("\nproduce acks=all, 1 KiB (MiB/s, median)   none: floe %.1f  mock %.1f  %s   lz4: floe %.1f  mock %.1f"
                "  %s\n",
                fl.prod_none, mk.prod_none, ratio(fl.prod_none, mk.prod_none).c_str(), fl.prod_lz4, mk.prod_lz4,
                ratio(fl.prod_lz4, mk.prod_lz4).c_str());
    std::printf("floe broker CPU per MiB produced: none %.2f ms (%.0f minor faults), lz4 %.2f ms (%.0f minor faults)\n",
                fl.cpu_ms_mib_none, fl.faults_mib_none, fl.cpu_ms_mib_lz4, fl.faults_mib_lz4);
    std::printf("disk sequential write in the same run: O_DIRECT %.0f MiB/s, buffered + fdatasync %.0f MiB/s (floe "
                "writes each byte twice here: WAL + file:// upload)\n",
                disk_direct, disk_buffered);
    std::fflush(stdout);
  };
  if (!o.latency_only) produce_summary();
  if (o.produce_only) {
    stop_floe();
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(dummy);
    cleanup();
    return 0;
  }

  // Half load is half of floe's OWN maximum (its median uncompressed produce rate above), or --rate; both targets
  // get the same offered load and the same client settings. A second pair of cases runs at a tenth of the maximum.
  const double rate = o.rate > 0 ? o.rate : fl.max_msgs_s / 2;
  if (o.rate > 0) {
    std::printf("\n  e2e latency: half load fixed by --rate at %.0f records/s (%.1f MiB/s)\n", rate,
                rate * kRecord / (1 << 20));
  } else {
    std::printf("\n  e2e latency: half load = half of floe's own max produce rate (%.0f records/s; the mock's: %.0f)"
                " = %.0f records/s (%.1f MiB/s)\n",
                fl.max_msgs_s, mk.max_msgs_s, rate, rate * kRecord / (1 << 20));
  }
  std::printf("  latency client settings (both targets): producer %s (else as the produce cases: acks=all); consumer "
              "%s, fetch.wait.max.ms=10; %.1f s each, the first 0.5 s not counted\n",
              describe(latency_producer_settings()).c_str(), describe(latency_consumer_settings()).c_str(), o.seconds);
  std::fflush(stdout);
  const int http_port = floe_http_port(log);
  for (int low = 0; low < 2; ++low) {
    const double r = low ? rate / 5 : rate;
    const std::string topic = low ? "latency-low" : "latency";
    std::printf("  %s: %.0f records/s (%.1f MiB/s)\n", low ? "a tenth of the max load" : "half load", r,
                r * kRecord / (1 << 20));
    std::fflush(stdout);
    Scrape before = scrape_metrics(http_port);
    (low ? fl.lat_low : fl.lat) =
        e2e_latency(floe_bs, topic, r, o.seconds, latency_producer_settings(), latency_consumer_settings());
    Scrape after = scrape_metrics(http_port);
    rd_kafka_mock_topic_create(mock, topic.c_str(), 1, 1);
    (low ? mk.lat_low : mk.lat) =
        e2e_latency(mock_bs, topic, r, o.seconds, latency_producer_settings(), latency_consumer_settings());
    for (auto* f : {&fl, &mk}) {
      const Latency& l = low ? f->lat_low : f->lat;
      std::printf("    %-5s e2e: p50 %.3f ms  p99 %.3f ms  (%" PRIu64 " samples, %" PRIu64 " missing)%s\n",
                  f == &fl ? "floe" : "mock", l.p50_ms, l.p99_ms, l.samples, l.lost,
                  l.samples == 0 && f == &mk ? ": its consumer fell behind the mock's ~5 MiB per partition (offset "
                                               "reset); no figure"
                                             : "");
    }
    print_server_breakdown(before, after);
    std::fflush(stdout);
  }
  if (o.latency_only) {
    std::printf("\nfsync p99 (4 KiB write + fdatasync): %.3f ms\n", fsync_p99);
    const double lim = 3 * fsync_p99 + 2;
    std::printf("target: e2e p99 on the file WAL at half load <= 3 x fsync p99 + 2 ms = %.3f ms: %.3f ms -> %s\n",
                lim, fl.lat.p99_ms, fl.lat.samples > 0 && fl.lat.p99_ms <= lim ? "MET" : "NOT MET");
    stop_floe();
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(dummy);
    cleanup();
    return 0;
  }

  run_consume_cache("floe", floe_bs, o, fl);
  run_consume_cache("mock", mock_bs, o, mk);

  // Floe from object storage: let uploads happen, restart with no log cache, read every rep's uncompressed topic.
  ::usleep(static_cast<useconds_t>(std::max(4 * o.upload_ms, 1000)) * 1000);
  std::vector<int64_t> his;
  for (int r = 0; r < o.reps; ++r) his.push_back(high_watermark(floe_bs, "prod-none-r" + std::to_string(r)));
  stop_floe();
  floe_bs = start_floe(o.floe_bin, data_dir, log, o.upload_ms, true);
  {
    std::vector<double> v;
    for (int r = 0; r < o.reps; ++r) {
      v.push_back(consume(floe_bs, "prod-none-r" + std::to_string(r), 0, his[r], o.seconds, false));
      std::printf("  floe  consume (object storage, --log-cache-bytes 0) rep %d: %8.1f MiB/s (%" PRId64
                  " records)\n",
                  r + 1, v.back(), his[r]);
      std::fflush(stdout);
    }
    fl.cons_object = median(v);
  }
  stop_floe();
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(dummy);

  std::printf("\n%-44s %12s %12s %8s\n", "figure", "floe", "mock", "ratio");
  auto row = [](const char* name, double a, double b, const char* unit) {
    char fa[32], fb[32];
    std::snprintf(fa, sizeof(fa), "%.1f %s", a, unit);
    if (b >= 0) std::snprintf(fb, sizeof(fb), "%.1f %s", b, unit);
    else std::snprintf(fb, sizeof(fb), "-");
    std::printf("%-44s %12s %12s %8s\n", name, fa, fb, b >= 0 ? ratio(a, b).c_str() : "-");
  };
  // A latency case with no samples has no figure: "-", not 0 ms.
  auto row_ms = [](const char* name, double a, double b, bool a_ok = true, bool b_ok = true) {
    char fa[32], fb[32];
    if (a_ok) std::snprintf(fa, sizeof(fa), "%.3f ms", a);
    else std::snprintf(fa, sizeof(fa), "-");
    if (b_ok) std::snprintf(fb, sizeof(fb), "%.3f ms", b);
    else std::snprintf(fb, sizeof(fb), "-");
    std::printf("%-44s %12s %12s %8s\n", name, fa, fb, a_ok && b_ok ? ratio(a, b).c_str() : "-");
  };
  row("produce acks=all, 1 KiB, none (MiB/s)", fl.prod_none, mk.prod_none, "");
  row("produce acks=all, 1 KiB, lz4 (MiB/s)", fl.prod_lz4, mk.prod_lz4, "");
  row("disk sequential write, O_DIRECT (MiB/s)", disk_direct, -1, "");
  row("disk sequential write, buffered (MiB/s)", disk_buffered, -1, "");
  row("floe CPU per MiB produced, none (ms)", fl.cpu_ms_mib_none, -1, "");
  row("floe CPU per MiB produced, lz4 (ms)", fl.cpu_ms_mib_lz4, -1, "");
  const bool fh = fl.lat.samples > 0, mh = mk.lat.samples > 0, fq = fl.lat_low.samples > 0,
             mq = mk.lat_low.samples > 0;
  row_ms("e2e latency p50 at half load", fl.lat.p50_ms, mk.lat.p50_ms, fh, mh);
  row_ms("e2e latency p99 at half load", fl.lat.p99_ms, mk.lat.p99_ms, fh, mh);
  row_ms("e2e latency p50 at a tenth of the max load", fl.lat_low.p50_ms, mk.lat_low.p50_ms, fq, mq);
  row_ms("e2e latency p99 at a tenth of the max load", fl.lat_low.p99_ms, mk.lat_low.p99_ms, fq, mq);
  row("consume from log cache (MiB/s)", fl.cons_cache, mk.cons_cache, "");
  row("consume from object storage (MiB/s)", fl.cons_object, -1, "");
  std::printf("fsync p99 (4 KiB write + fdatasync): %.3f ms\n\n", fsync_p99);

  double lim = 3 * fsync_p99 + 2;
  bool t1 = fl.prod_none >= mk.prod_none && fl.prod_lz4 >= mk.prod_lz4;
  bool t2 = fh && fl.lat.p99_ms <= lim;  // no samples is no figure: not met
  std::printf("target: durable produce >= 1.0x mock: none %s, lz4 %s  -> %s\n", ratio(fl.prod_none, mk.prod_none).c_str(),
              ratio(fl.prod_lz4, mk.prod_lz4).c_str(), t1 ? "MET" : "NOT MET");
  std::printf("target: e2e p99 on the file WAL at half load <= 3 x fsync p99 + 2 ms = %.3f ms: %.3f ms -> %s\n", lim,
              fl.lat.p99_ms, t2 ? "MET" : "NOT MET");
  cleanup();
  return 0;
}
