#include "drill/load.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "drill/process.h"

namespace floe::drill {
namespace {

constexpr char kMagic[8] = {'F', 'L', 'O', 'E', 'D', 'R', 'L', '1'};
constexpr std::size_t kHeader = 28;

const std::chrono::steady_clock::time_point g_epoch = std::chrono::steady_clock::now();

Error load_error(const std::string& m) { return Error{std::make_error_code(std::errc::io_error), m}; }

bool set(rd_kafka_conf_t* c, const char* key, const std::string& value, std::string* error) {
  char err[512];
  if (rd_kafka_conf_set(c, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    *error = std::string(key) + ": " + err;
    return false;
  }
  return true;
}

// Settings both clients share: fast metadata refresh and reconnects, so a failover shows the brokers' recovery
// time rather than librdkafka's back-off defaults (reconnect back-off up to 10 s).
bool common_settings(rd_kafka_conf_t* c, const std::string& bootstrap, std::string* error) {
  return set(c, "bootstrap.servers", bootstrap, error) && set(c, "client.id", "floe-drill", error) &&
         set(c, "reconnect.backoff.ms", "50", error) && set(c, "reconnect.backoff.max.ms", "500", error) &&
         set(c, "topic.metadata.refresh.fast.interval.ms", "100", error) &&
         set(c, "socket.connection.setup.timeout.ms", "3000", error) && set(c, "log_level", "6", error) &&
         (use_client_log(c), true);
}

struct Parsed {
  uint64_t run_id = 0, seq = 0;
};

bool parse_value(const void* data, std::size_t len, Parsed* out) {
  if (!data || len < kHeader || std::memcmp(data, kMagic, 8) != 0) return false;
  const auto* b = static_cast<const uint8_t*>(data);
  std::memcpy(&out->run_id, b + 8, 8);
  std::memcpy(&out->seq, b + 16, 8);
  return true;
}

std::mutex g_log_mu;
FILE* g_log = nullptr;

void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  std::lock_guard lock(g_log_mu);
  if (!g_log) return;
  std::fprintf(g_log, "%.3f %d %s %s: %s\n", static_cast<double>(drill_now_ms()) / 1000, level, rd_kafka_name(rk), fac,
               buf);
  std::fflush(g_log);
}

}  // namespace

void set_client_log(const std::string& path) {
  std::lock_guard lock(g_log_mu);
  if (g_log) std::fclose(g_log);
  g_log = path.empty() ? nullptr : std::fopen(path.c_str(), "a");
}

void use_client_log(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, on_log); }

int64_t drill_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - g_epoch).count();
}

int Leadership::led_by(int node) const {
  int n = 0;
  for (const auto& [p, l] : leader_of) n += l == node;
  return n;
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* p = static_cast<Load::Producer*>(opaque);
  p->load->delivered(*p, m);
}

int on_stats(rd_kafka_t* rk, char* json, size_t len, void* opaque) {
  auto* p = static_cast<Load::Producer*>(opaque);
  Load* load = p->load;
  const std::string_view text(json, len);
  int64_t delta = 0;
  for (const auto& b : producer_errors_from_stats(text)) {
    int64_t& last = p->stats_errors[std::string(b.name)];
    if (b.errors > last) delta += b.errors - last;
    last = b.errors;
  }
  const ClientLatency latency = client_latency_from_stats(text);
  if (latency.present && load->options_.progress_every_s > 0 &&
      drill_now_ms() / 1000 % load->options_.progress_every_s == 0) {
    // Where a record's time goes, per instance, in clients.log: queue before a request, request in flight.
    char line[320];
    std::snprintf(line, sizeof line,
                  "stats: queue (int_latency) p50 %.1f p99 %.1f ms, outbuf p99 %.1f ms, rtt p50 %.1f p99 %.1f ms, "
                  "requests in flight %lld, undelivered %lld",
                  latency.int_latency_p50_ms, latency.int_latency_p99_ms, latency.outbuf_latency_p99_ms,
                  latency.rtt_p50_ms, latency.rtt_p99_ms, static_cast<long long>(latency.in_flight),
                  static_cast<long long>(latency.queued));
    on_log(rk, 6, "STATS", line);
  }
  std::lock_guard lock(load->mu_);
  if (latency.present) p->latency = latency;
  if (delta > 0) {
    load->current_.errors += delta;
    load->errors_total_ += delta;
  }
  return 0;  // librdkafka frees json
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* load = static_cast<Load::Producer*>(opaque)->load;
  std::string fatal;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    fatal = std::string(rd_kafka_err2name(orig)) + ": " + buf;
  }
  on_log(rk, 3, "ERROR", reason);
  std::lock_guard lock(load->mu_);
  load->current_.errors++;
  load->errors_total_++;
  if (!fatal.empty() && load->fatal_.empty()) load->fatal_ = fatal;
}

std::string Load::fatal_error() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

Load::Load(LoadOptions options) : options_(std::move(options)) {
  ack_ms_.resize(options_.partitions);
  ack_leaders_.resize(options_.partitions);
}

Load::~Load() {
  stop(std::chrono::seconds(5));
  for (auto& p : producers_) {
    if (p->handle) rd_kafka_destroy(p->handle);
  }
}

Status Load::start_producer(Producer& p) {
  std::string error;
  rd_kafka_conf_t* pc = rd_kafka_conf_new();
  // Its own client.id, so clients.log and the brokers tell the instances apart.
  if (!common_settings(pc, options_.bootstrap, &error) ||
      !set(pc, "client.id", "floe-drill-p" + std::to_string(p.index), &error) || !set(pc, "enable.idempotence", "true", &error) ||
      !set(pc, "acks", "all", &error) || !set(pc, "linger.ms", "5", &error) ||
      !set(pc, "message.timeout.ms", "60000", &error) ||
      !set(pc, "request.timeout.ms", std::to_string(options_.request_timeout_ms), &error) ||
      !set(pc, "socket.timeout.ms", std::to_string(options_.request_timeout_ms), &error) ||
      !set(pc, "statistics.interval.ms", "1000", &error) ||
      (!options_.debug.empty() && (!set(pc, "debug", options_.debug, &error) || !set(pc, "log_level", "7", &error))) || !set(pc, "queue.buffering.max.kbytes", "262144", &error)) {
    rd_kafka_conf_destroy(pc);
    return load_error("producer config: " + error);
  }
  rd_kafka_conf_set_opaque(pc, &p);
  rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
  rd_kafka_conf_set_stats_cb(pc, on_stats);
  rd_kafka_conf_set_error_cb(pc, on_error);
  char err[512];
  p.handle = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  if (!p.handle) return load_error("producer " + std::to_string(p.index) + ": " + err);
  return ok_status();
}

Status Load::start() {
  const int n = std::clamp(options_.producers, 1, std::max(1, options_.partitions));
  for (int k = 0; k < n; ++k) {
    auto p = std::make_unique<Producer>();
    p->load = this;
    p->index = k;
    p->partitions = producer_slice(options_.partitions, n, k);
    if (auto s = start_producer(*p); !s) return s;
    producers_.push_back(std::move(p));
  }
  std::string error;
  char err[512];
  rd_kafka_conf_t* cc = rd_kafka_conf_new();
  const std::string group = "floe-drill-" + std::to_string(options_.run_id);
  if (!common_settings(cc, options_.bootstrap, &error) || !set(cc, "group.id", group, &error) ||
      !set(cc, "auto.offset.reset", "earliest", &error) || !set(cc, "enable.auto.commit", "true", &error) ||
      !set(cc, "auto.commit.interval.ms", "1000", &error) || !set(cc, "session.timeout.ms", "10000", &error) ||
      !set(cc, "heartbeat.interval.ms", "1000", &error) || !set(cc, "fetch.wait.max.ms", "100", &error) ||
      !set(cc, "socket.timeout.ms", std::to_string(std::max(options_.request_timeout_ms, 10000)), &error)) {
    rd_kafka_conf_destroy(cc);
    return load_error("consumer config: " + error);
  }
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  if (!consumer_) return load_error(std::string("consumer: ") + err);
  rd_kafka_poll_set_consumer(consumer_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t sub = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (sub) return load_error(std::string("subscribe: ") + rd_kafka_err2str(sub));

  for (auto& p : producers_) {
    Producer* raw = p.get();
    p->thread = std::thread([this, raw] { produce_loop(*raw); });
  }
  consumer_thread_ = std::thread([this] { consume_loop(); });
  sampler_thread_ = std::thread([this] { sample_loop(); });
  return ok_status();
}

void Load::produce_loop(Producer& p) {
  // This instance's share of the rate: the same per-partition rate as every other instance.
  const double per_second = options_.rate_mib * 1024 * 1024 / options_.record_bytes *
                            static_cast<double>(p.partitions.size()) / options_.partitions;
  std::vector<uint8_t> value(static_cast<std::size_t>(options_.record_bytes));
  for (std::size_t i = kHeader; i < value.size(); ++i) value[i] = static_cast<uint8_t>('a' + i % 26);
  std::memcpy(value.data(), kMagic, 8);
  std::memcpy(value.data() + 8, &options_.run_id, 8);
  auto origin = std::chrono::steady_clock::now();
  int64_t paced = 0;  // records produced since `origin`
  while (!stop_producing_.load()) {
    {
      std::unique_lock lock(mu_);
      if (pause_requested_) {
        lock.unlock();
        rd_kafka_flush(p.handle, 15000);  // serves the delivery callbacks on this thread
        lock.lock();
        ++paused_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return !pause_requested_ || stop_producing_.load(); });
        --paused_;
        origin = std::chrono::steady_clock::now();
        paced = 0;
      }
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - origin).count();
    int64_t due = static_cast<int64_t>(elapsed * per_second) - paced;
    if (due > static_cast<int64_t>(per_second)) {  // more than a second behind (back-pressure): do not burst
      paced += due - static_cast<int64_t>(per_second / 10);
      due = static_cast<int64_t>(per_second / 10);
    }
    for (int64_t i = 0; i < due && !stop_producing_.load(); ++i) {
      const auto local = static_cast<int64_t>(p.states.size());
      const int64_t seq = slice_sequence(p.partitions, options_.partitions, local);
      if (produced_.load() >= options_.max_records || seq >= options_.max_records) {
        if (!stop_producing_.exchange(true)) std::cerr << "floe drill: --max-records reached; the producer stops\n";
        break;
      }
      const int32_t partition = static_cast<int32_t>(seq % options_.partitions);
      const uint64_t useq = static_cast<uint64_t>(seq);
      std::memcpy(value.data() + 16, &useq, 8);
      std::memcpy(value.data() + 24, &partition, 4);
      const rd_kafka_resp_err_t e =
          rd_kafka_producev(p.handle, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(local))), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) break;  // back-pressure: try again after serving callbacks
      p.states.push_back(SeqState::pending);
      ++paced;
      produced_++;
      if (e) {  // refused locally: counts as a failed record
        p.states.back() = SeqState::failed;
        failed_++;
        std::lock_guard lock(mu_);
        current_.errors++;
        errors_total_++;
      } else {
        std::lock_guard lock(mu_);
        current_.produced++;
      }
    }
    rd_kafka_poll(p.handle, 2);
  }
}

void Load::delivered(Producer& p, const rd_kafka_message_t* m) {
  const auto local = static_cast<std::size_t>(reinterpret_cast<intptr_t>(m->_private));
  const int64_t now = drill_now_ms();
  if (local < p.states.size()) p.states[local] = m->err ? SeqState::failed : SeqState::acked;
  std::lock_guard lock(mu_);
  if (m->err) {
    failed_++;
    current_.errors++;
    errors_total_++;
    return;
  }
  acked_++;
  current_.acked++;
  const int32_t broker = rd_kafka_message_broker_id(m);
  if (m->partition >= 0 && m->partition < static_cast<int32_t>(ack_ms_.size())) {
    ack_ms_[m->partition].push_back(static_cast<int32_t>(now));
    auto& leaders = ack_leaders_[m->partition];
    if (broker >= 0 && (leaders.empty() || leaders.back().broker != broker)) {
      leaders.push_back(AckLeader{static_cast<int32_t>(now), broker});
    }
  }
  const double latency_ms = static_cast<double>(rd_kafka_message_latency(m)) / 1000.0;
  if (second_latencies_.size() < 1'000'000) second_latencies_.push_back(latency_ms);
  recent_latencies_.push_back(LatencySample{static_cast<int32_t>(now), static_cast<float>(latency_ms)});
  while (!recent_latencies_.empty() && recent_latencies_.front().t_ms < now - kLatencyKeepMs) {
    recent_latencies_.pop_front();
  }
  if (watched_broker_ >= 0 && broker == watched_broker_) {
    watched_acks_.push_back(static_cast<int32_t>(now));
  }
}

void Load::consume_loop() {
  while (!stop_consuming_.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
    if (!m) continue;
    Parsed p;
    if (!m->err && parse_value(m->payload, m->len, &p) && p.run_id == options_.run_id &&
        p.seq < static_cast<uint64_t>(options_.max_records)) {
      if (p.seq >= consumed_.size()) consumed_.resize(std::max<std::size_t>(p.seq + 1, consumed_.size() * 2), 0);
      if (!consumed_[p.seq]) {
        consumed_[p.seq] = 1;
        consumed_distinct_++;
      }
      std::lock_guard lock(mu_);
      current_.consumed++;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer_);
  rd_kafka_destroy(consumer_);
  consumer_ = nullptr;
  consumer_closed_ = true;
}

void Load::sample_loop() {
  int64_t next = drill_now_ms() + 1000;
  int n = 0;
  while (!stop_sampling_.load()) {
    if (drill_now_ms() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    Second s;
    {
      std::lock_guard lock(mu_);
      s = current_;
      current_ = Second{};
      s.t_ms = next;
      s.p50_ms = percentile(second_latencies_, 0.5);
      s.p99_ms = percentile(second_latencies_, 0.99);
      s.max_ms = second_latencies_.empty() ? 0 : *std::max_element(second_latencies_.begin(), second_latencies_.end());
      second_latencies_.clear();
      s.lag = std::max<int64_t>(0, acked_.load() - consumed_distinct_.load());
      timeline_.push_back(s);
      lag_.push_back(LagSample{s.t_ms, s.lag});
    }
    next += 1000;
    if (options_.progress_every_s > 0 && ++n % options_.progress_every_s == 0) {
      const double mib = static_cast<double>(options_.record_bytes) / (1024.0 * 1024.0);
      char line[256];
      std::snprintf(line, sizeof line,
                    "[%7.1fs] load: acked %.2f MiB/s  consumed %.2f MiB/s  p99 %.1f ms  lag %lld  errors %lld\n",
                    static_cast<double>(s.t_ms) / 1000, static_cast<double>(s.acked) * mib,
                    static_cast<double>(s.consumed) * mib, s.p99_ms, static_cast<long long>(s.lag),
                    static_cast<long long>(s.errors));
      std::cout << line << std::flush;
    }
  }
}

bool Load::quiesce(const std::function<void()>& fn, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  pause_requested_ = true;
  const bool ok = cv_.wait_for(lock, timeout, [this] {
    return paused_ == static_cast<int>(producers_.size()) || stop_producing_.load();
  });
  lock.unlock();
  fn();
  lock.lock();
  pause_requested_ = false;
  cv_.notify_all();
  return ok;
}

void Load::stop(std::chrono::milliseconds flush_timeout) {
  stop_producing_ = true;
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  for (auto& p : producers_) {
    if (p->thread.joinable()) p->thread.join();
  }
  // Every instance flushes against the same deadline (their flushes serve their own delivery callbacks here:
  // the instances' threads have ended).
  const auto flush_deadline = std::chrono::steady_clock::now() + flush_timeout;
  for (auto& p : producers_) {
    if (!p->handle) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(flush_deadline -
                                                                            std::chrono::steady_clock::now());
    rd_kafka_flush(p->handle, static_cast<int>(std::max<int64_t>(0, left.count())));
  }
  if (!stopped_) {
    stopped_ = true;
    std::vector<std::vector<int32_t>> slices;
    std::vector<std::vector<SeqState>> states;
    for (const auto& p : producers_) {
      slices.push_back(p->partitions);
      states.push_back(p->states);
    }
    states_ = merge_producer_states(slices, states, options_.partitions);
  }
  stop_consuming_ = true;
  if (consumer_thread_.joinable()) {
    // rd_kafka_consumer_close has no timeout; a consumer whose coordinator is gone may take long to leave.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!consumer_closed_.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (consumer_closed_.load())
      consumer_thread_.join();
    else
      consumer_thread_.detach();  // the process ends soon; the report must not wait on it
  }
  stop_sampling_ = true;
  if (sampler_thread_.joinable()) sampler_thread_.join();
}

Result<Leadership> Load::metadata(std::chrono::milliseconds timeout) {
  if (producers_.empty()) return load_error("metadata: no producer");
  rd_kafka_t* rk = producers_.front()->handle;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, options_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(t);
  if (e) return load_error(std::string("metadata: ") + rd_kafka_err2str(e));
  Leadership l;
  for (int i = 0; i < md->broker_cnt; ++i) l.brokers.push_back(md->brokers[i].id);
  for (int i = 0; i < md->topic_cnt; ++i) {
    for (int j = 0; j < md->topics[i].partition_cnt; ++j) {
      const auto& p = md->topics[i].partitions[j];
      l.leader_of[p.id] = p.err ? -1 : p.leader;
    }
  }
  rd_kafka_metadata_destroy(md);
  return l;
}

ClientLatency Load::client_latency() const {
  std::lock_guard lock(mu_);
  std::vector<ClientLatency> each;
  for (const auto& p : producers_) each.push_back(p->latency);
  return worst_client_latency(each);
}

std::vector<std::vector<int32_t>> Load::ack_times() const {
  std::lock_guard lock(mu_);
  return ack_ms_;
}

std::vector<std::vector<AckLeader>> Load::ack_leaders() const {
  std::lock_guard lock(mu_);
  return ack_leaders_;
}

std::vector<LatencySample> Load::recent_latencies() const {
  std::lock_guard lock(mu_);
  return {recent_latencies_.begin(), recent_latencies_.end()};
}

std::vector<LagSample> Load::lag_samples() const {
  std::lock_guard lock(mu_);
  return lag_;
}

std::vector<Second> Load::timeline() const {
  std::lock_guard lock(mu_);
  return timeline_;
}

int64_t Load::errors_total() const {
  std::lock_guard lock(mu_);
  return errors_total_;
}

int Load::partitions_acked_since(int64_t t_ms) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& acks : ack_ms_) n += !acks.empty() && acks.back() >= t_ms;
  return n;
}

int64_t Load::delivered_total() const { return acked_.load() + failed_.load(); }

void Load::watch_broker(int node) {
  std::lock_guard lock(mu_);
  watched_broker_ = node;
  watched_acks_.clear();
}

int64_t Load::watched_acks_between(int64_t from_ms, int64_t to_ms) const {
  std::lock_guard lock(mu_);
  return std::count_if(watched_acks_.begin(), watched_acks_.end(),
                       [&](int32_t t) { return t >= from_ms && t <= to_ms; });
}

}  // namespace floe::drill
