// The drill's load, with librdkafka's C API: idempotent acks=all producers writing fixed-size records at a set
// rate round-robin over every partition (so each partition is written continuously and its acks show when it
// accepts writes), and a consumer group reading everything back. Every record carries the run id and a sequence
// number (value layout below), so acked records can be checked after the run.
//
// The producing is split over `producers` librdkafka instances (producers.h says why one is not enough), each its
// own rd_kafka_t with its own connections and thread, owning a disjoint slice of the partitions at the same
// per-partition rate; each numbers its records seq = round * partitions + partition (producers.h), so the
// sequence numbers stay unique and seq % partitions is still the record's partition.
//
// Record value (record_bytes, at least 32):
//   0        8        16       24       28          record_bytes
//   +--------+--------+--------+--------+-- ... ----+
//   | magic  | run id | seq    | part.  | filler    |   magic "FLOEDRL1"; run id, seq: uint64; part.: int32,
//   +--------+--------+--------+--------+-- ... ----+   all little-endian (this machine's order, read back here)
//
// Threads: each producer instance's thread owns that handle's callbacks (delivery reports, statistics and errors
// are served by its rd_kafka_poll) and its per-record states; the consumer thread owns the group consumer; the
// sampler thread closes one Second per second and prints progress. Shared figures sit behind one mutex; the
// per-record state vectors are bounded by max_records.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "drill/producers.h"
#include "drill/report.h"
#include "drill/stats.h"
#include "drill/windows.h"

namespace floe::drill {

struct LoadOptions {
  std::string bootstrap;
  std::string client_log;  // librdkafka's log lines go here (appended), not to the terminal
  std::string topic;
  int partitions = 6;
  double rate_mib = 1;
  int record_bytes = 1024;
  uint64_t run_id = 0;
  int64_t max_records = 200'000'000;  // bound of the per-record state (one byte each)
  int progress_every_s = 5;
  // librdkafka's request.timeout.ms: how long a produce request to a broker that stopped answering (a paused
  // zombie) is waited for before the partition's records go to its new leader. It bounds the RTO a client sees.
  int request_timeout_ms = 3000;
  int producers = 1;  // librdkafka producer instances (producers.h), at most `partitions`
  std::string debug;  // librdkafka `debug` contexts for the producers (their lines go to client_log)
};

// Milliseconds since the drill started (the report's clock).
int64_t drill_now_ms();

struct Leadership {
  std::map<int, int> leader_of;  // partition -> leader node id (-1: none)
  std::vector<int> brokers;      // node ids listed by Metadata
  int led_by(int node) const;
};

// Metadata for `topic` from the first of `addresses` ("host:port") that answers within `timeout` each.
Result<Leadership> probe_metadata(const std::vector<std::string>& addresses, const std::string& topic,
                                  std::chrono::milliseconds timeout);

class Load {
 public:
  explicit Load(LoadOptions options);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  Status start();
  // Stops producing, waits (bounded) for outstanding acks, then stops the consumer and the sampler.
  void stop(std::chrono::milliseconds flush_timeout);

  // Pauses every producer instance, waits (bounded) until every produced record is acked or failed, runs `fn`
  // and resumes:
  // a point where the brokers' append counters and the producer's delivered count describe the same records.
  bool quiesce(const std::function<void()>& fn, std::chrono::milliseconds timeout);

  Result<Leadership> metadata(std::chrono::milliseconds timeout);

  // Snapshots for the scenario figures (copied under the lock).
  std::vector<std::vector<int32_t>> ack_times() const;
  // Per partition, which broker acked its records from when (a change of leader shows as a new entry).
  std::vector<std::vector<AckLeader>> ack_leaders() const;
  // The ack latencies of the last kLatencyKeepMs (the baseline before a fault).
  std::vector<LatencySample> recent_latencies() const;
  static constexpr int64_t kLatencyKeepMs = 15000;
  std::vector<LagSample> lag_samples() const;
  std::vector<Second> timeline() const;
  int64_t errors_total() const;
  // How many partitions have an ack at or after `t_ms` (cheap: looks at each partition's last ack).
  int partitions_acked_since(int64_t t_ms) const;
  int64_t delivered_total() const;  // acked + failed
  // Acks attributed (by librdkafka) to broker `node`, at or after `since_ms`.
  void watch_broker(int node);
  int64_t watched_acks_between(int64_t from_ms, int64_t to_ms) const;

  // After stop(): what each sequence number became (every instance's, merged: producers.h).
  const std::vector<SeqState>& states() const { return states_; }
  // The worst producer instance's librdkafka figures in its last statistics interval (producers.h).
  ClientLatency client_latency() const;
  int producer_count() const { return static_cast<int>(producers_.size()); }
  // The idempotent producer's fatal error (e.g. a sequence gap after a failover); empty while it is healthy. After
  // one, every record fails: the drill stops its scenarios.
  std::string fatal_error() const;
  int64_t produced() const { return produced_.load(); }
  int64_t acked() const { return acked_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  friend void on_delivery(rd_kafka_t*, const rd_kafka_message_t*, void*);
  friend int on_stats(rd_kafka_t*, char*, size_t, void*);
  friend void on_error(rd_kafka_t*, int, const char*, void*);

  // One librdkafka producer instance and the partitions it owns.
  struct Producer {
    Load* load = nullptr;
    int index = 0;
    std::vector<int32_t> partitions;  // producer_slice()
    rd_kafka_t* handle = nullptr;
    std::thread thread;
    // This instance's thread only (its callbacks are served by its own rd_kafka_poll).
    std::vector<SeqState> states;                 // by local record index (slice_sequence() gives the seq)
    std::map<std::string, int64_t> stats_errors;  // per broker name, last seen
    ClientLatency latency;                        // last statistics interval; under Load::mu_
  };

  Status start_producer(Producer& p);
  void produce_loop(Producer& p);
  void consume_loop();
  void sample_loop();
  void delivered(Producer& p, const rd_kafka_message_t* m);

  LoadOptions options_;
  std::vector<std::unique_ptr<Producer>> producers_;
  rd_kafka_t* consumer_ = nullptr;
  std::thread consumer_thread_, sampler_thread_;
  std::atomic<bool> stop_producing_{false}, stop_consuming_{false}, stop_sampling_{false};
  std::atomic<bool> consumer_closed_{false};
  std::atomic<int64_t> produced_{0}, acked_{0}, failed_{0}, consumed_distinct_{0};

  // Merged by stop() from the instances' states.
  std::vector<SeqState> states_;
  bool stopped_ = false;
  // Consumer-thread only.
  std::vector<uint8_t> consumed_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pause_requested_ = false;
  int paused_ = 0;  // producer instances flushed and waiting
  std::vector<std::vector<int32_t>> ack_ms_;
  std::vector<std::vector<AckLeader>> ack_leaders_;
  std::deque<LatencySample> recent_latencies_;  // bounded by kLatencyKeepMs (about 150k at 10 MiB/s of 1 KiB)
  std::vector<double> second_latencies_;
  Second current_;
  std::vector<Second> timeline_;
  std::vector<LagSample> lag_;
  int64_t errors_total_ = 0;
  std::string fatal_;
  int watched_broker_ = -1;
  std::vector<int32_t> watched_acks_;
};

// Routes librdkafka's log lines of every handle the drill creates to `path` (appended; empty: discarded).
void set_client_log(const std::string& path);
// Installs the log callback on a configuration (every drill handle).
void use_client_log(rd_kafka_conf_t* conf);

// Creates `topic` with `partitions` partitions (replication factor 1: Floe keeps one copy in shared storage) and
// waits until Metadata lists a leader for every partition.
Status create_topic(const std::string& bootstrap, const std::string& topic, int partitions,
                    std::chrono::milliseconds timeout);

// The final read-back: every partition from the beginning to its end (partition EOF), counting how often each
// sequence number of `run_id` appears. Returns false in *complete when the timeout ended it early.
std::vector<uint8_t> read_back(const std::string& bootstrap, const std::string& topic, int partitions, uint64_t run_id,
                               std::size_t max_seq, std::chrono::milliseconds timeout, bool* complete,
                               std::string* note);

}  // namespace floe::drill
