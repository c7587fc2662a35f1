#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "drill/broker_logs.h"
#include "drill/broker_metrics.h"
#include "drill/options.h"
#include "drill/producers.h"
#include "drill/report.h"
#include "drill/stats.h"
#include "drill/svg_chart.h"
#include "drill/windows.h"

namespace floe::drill {
namespace {

TEST(DrillStats, PercentileIsNearestRank) {
  EXPECT_EQ(percentile({}, 0.5), 0);
  EXPECT_EQ(percentile({7}, 0.99), 7);
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 0.5), 50);
  EXPECT_EQ(percentile(v, 0.99), 99);
  EXPECT_EQ(percentile(v, 1.0), 100);
  EXPECT_EQ(percentile(v, 0.0), 1);
}

// Three partitions written every 100 ms; partition 1 stops acking at the fault (t=1000) and comes back at 1800.
TEST(DrillStats, RecoveryMeasuresFirstAckAfterTheFaultPerPartition) {
  std::vector<std::vector<int32_t>> acks(3);
  for (int t = 0; t <= 3000; t += 100) {
    acks[0].push_back(t + 10);
    acks[2].push_back(t + 50);
    if (t < 1000 || t >= 1800) acks[1].push_back(t + 30);
  }
  const RecoverySummary s = summarize_recovery(acks, 1000, 3000);
  EXPECT_EQ(s.partitions, 3);
  EXPECT_EQ(s.unrecovered, 0);
  EXPECT_EQ(s.rto_max_ms, 830);  // 1830 - 1000
  EXPECT_EQ(s.rto_p50_ms, 50);   // {10, 50, 830}
  EXPECT_EQ(s.gap_max_ms, 830);  // partition 1: from the fault to 1830
  EXPECT_EQ(s.stall_ms, 60);     // acks at x10 and x50 of every 100 ms: gaps of 40 and 60
}

TEST(DrillStats, GracefulMoveShowsAsAWriteGapNotAsRto) {
  // The old leader acks right after the fault, then the partition is unavailable 1100..1400.
  std::vector<std::vector<int32_t>> acks(1);
  for (int t = 900; t <= 1100; t += 100) acks[0].push_back(t);
  for (int t = 1400; t <= 2000; t += 100) acks[0].push_back(t);
  const RecoverySummary s = summarize_recovery(acks, 1000, 2000);
  EXPECT_EQ(s.rto_max_ms, 0);
  EXPECT_EQ(s.gap_max_ms, 300);
  EXPECT_EQ(s.stall_ms, 300);
}

TEST(DrillStats, UnrecoveredPartitionCountsWithTheWholeWindow) {
  std::vector<std::vector<int32_t>> acks = {{100, 200, 1500}, {100, 200}};
  const RecoverySummary s = summarize_recovery(acks, 1000, 4000);
  EXPECT_EQ(s.unrecovered, 1);
  EXPECT_EQ(s.rto_max_ms, 3000);
  EXPECT_EQ(s.gap_max_ms, 3000);
}

// Four partitions written every 100 ms (partition p at t = 100k + 10p), acked 20 ms later by their leader: 0 and 1
// on broker 1, 2 and 3 on broker 2. Broker 1 is killed at t = 1000; partition 0 is acked by broker 3 from 1600,
// partition 1 from 2330; broker 1 restarts at 3000 and partition 1 moves back to it (graceful): last ack by
// broker 3 at 3430, first by broker 1 at 3540.
struct Cluster {
  std::vector<std::vector<int32_t>> acks = std::vector<std::vector<int32_t>>(4);
  std::vector<std::vector<AckLeader>> leaders = std::vector<std::vector<AckLeader>>(4);
  void ack(int p, int32_t t, int32_t broker) {
    acks[p].push_back(t);
    if (leaders[p].empty() || leaders[p].back().broker != broker) leaders[p].push_back({t, broker});
  }
};

Cluster kill9_cluster() {
  Cluster c;
  for (int32_t t = 0; t <= 4000; t += 100) {
    const int32_t a = t + 20;
    if (a < 1000) c.ack(0, a, 1);
    if (a >= 1600) c.ack(0, a, 3);  // first at 1620
    if (a < 1000) c.ack(1, a + 10, 1);
    if (a >= 2300 && a < 3500) c.ack(1, a + 10, 3);
    if (a >= 3500) c.ack(1, a + 20, 1);
    c.ack(2, a + 20, 2);
    c.ack(3, a + 30, 2);
  }
  return c;
}

TEST(DrillWindows, FailoverSplitsTheVictimsPartitionsFromTheRest) {
  const Cluster c = kill9_cluster();
  WindowSpec spec;
  spec.fault_ms = 1000;
  spec.end_ms = 4000;
  spec.timeout_ms = 30000;
  spec.victim = 1;
  spec.victim_back_ms = 3000;
  const MoveSummary m = summarize_moves(c.acks, c.leaders, spec);
  EXPECT_EQ(m.moved.partitions, 2);
  EXPECT_EQ(m.moved.samples, 2);
  EXPECT_EQ(m.moved.p50_ms, 620);   // partition 0: first ack by broker 3 at 1620
  EXPECT_EQ(m.moved.max_ms, 1330);  // partition 1: 2330
  EXPECT_EQ(m.moved.p99_ms, 1330);
  EXPECT_EQ(m.unmoved.partitions, 2);
  EXPECT_EQ(m.unmoved.p50_ms, 40);  // partition 2: 1040; partition 3: 1050
  EXPECT_EQ(m.unmoved.max_ms, 50);
  EXPECT_EQ(m.later_moves.samples, 1);  // partition 1 back to broker 1: 3430 -> 3540
  EXPECT_EQ(m.later_moves.partitions, 1);
  EXPECT_EQ(m.later_moves.max_ms, 110);
  EXPECT_EQ(m.unknown_leader, 0);
}

TEST(DrillWindows, LateAcksOfTheVictimAreNotARecovery) {
  Cluster c;
  // Broker 1's delivery reports for requests it answered before the kill arrive 5 ms after it; broker 2 takes over.
  c.ack(0, 900, 1);
  c.ack(0, 1005, 1);
  c.ack(0, 1700, 2);
  // A partition whose only leader was the victim, never taken over: counts as the timeout.
  c.ack(1, 950, 1);
  c.ack(1, 1010, 1);
  WindowSpec spec;
  spec.fault_ms = 1000;
  spec.end_ms = 9000;
  spec.timeout_ms = 5000;
  spec.victim = 1;
  const MoveSummary m = summarize_moves({c.acks[0], c.acks[1]}, {c.leaders[0], c.leaders[1]}, spec);
  EXPECT_EQ(m.moved.partitions, 2);
  EXPECT_EQ(m.moved.timed_out, 1);
  EXPECT_EQ(m.moved.p50_ms, 700);
  EXPECT_EQ(m.moved.max_ms, 5000);
  // Once the victim is back (restarted with the same id), its acks are a recovery.
  spec.victim_back_ms = 4000;
  c.ack(1, 4100, 1);
  const MoveSummary back = summarize_moves({c.acks[0], c.acks[1]}, {c.leaders[0], c.leaders[1]}, spec);
  EXPECT_EQ(back.moved.timed_out, 0);
  EXPECT_EQ(back.moved.max_ms, 3100);
}

TEST(DrillWindows, GracefulMovesAreMeasuredFromTheOldLeadersLastAck) {
  Cluster c;
  // Partition 0 moves 1 -> 2 (last ack 1450, first 1630) and in a rolling restart back 2 -> 1 (2950 -> 3010).
  for (int32_t t = 950; t <= 4000; t += 100) {
    if (t <= 1450) c.ack(0, t, 1);
    if (t >= 1630 && t <= 2950) c.ack(0, t == 1650 ? 1630 : t, 2);
    if (t >= 3050) c.ack(0, t - 40, 1);
  }
  // Partition 1 stays on broker 3 with one hiccup: nothing acked between 2000 and 2400.
  for (int32_t t = 900; t <= 4000; t += 100) {
    if (t <= 2000 || t >= 2400) c.ack(1, t, 3);
  }
  // Partition 2 moves with its last old-leader ack before the fault (900): the window counts from the fault.
  c.ack(2, 900, 1);
  c.ack(2, 1300, 2);
  c.ack(2, 3990, 2);
  // Partition 3: no ack before the fault at all.
  c.ack(3, 1500, 2);
  WindowSpec spec;
  spec.fault_ms = 1000;
  spec.end_ms = 4000;
  const MoveSummary m = summarize_moves(c.acks, c.leaders, spec);
  EXPECT_EQ(m.moved.partitions, 2);
  EXPECT_EQ(m.moved.samples, 3);
  EXPECT_EQ(m.moved.p50_ms, 180);  // {60, 180, 300}
  EXPECT_EQ(m.moved.max_ms, 300);
  EXPECT_EQ(m.unmoved.partitions, 2);
  EXPECT_EQ(m.unmoved.max_ms, 2500);  // partition 3: 1500 -> 4000 without an ack
  EXPECT_EQ(m.unmoved.p50_ms, 400);   // partition 1: 2000 -> 2400
  EXPECT_EQ(m.unknown_leader, 1);
  EXPECT_EQ(m.later_moves.samples, 0);
  // A partition silent past the timeout counts as the timeout.
  spec.timeout_ms = 1000;
  const MoveSummary t = summarize_moves(c.acks, c.leaders, spec);
  EXPECT_EQ(t.unmoved.timed_out, 1);
  EXPECT_EQ(t.unmoved.max_ms, 1000);
}

TEST(DrillWindows, HistogramBucketQuantilesAreUpperBounds) {
  // 100 observations: 60 at or below 0.1 s, 39 more at or below 0.2 s, one above 0.4 s.
  const std::map<double, double> b = {{0.05, 10}, {0.1, 60}, {0.2, 99}, {0.4, 99}, {INFINITY, 100}};
  const BucketQuantiles q = bucket_quantiles(b);
  EXPECT_EQ(q.count, 100);
  EXPECT_EQ(q.p50, 0.1);
  EXPECT_EQ(q.p99, 0.2);
  EXPECT_TRUE(std::isinf(q.max));
  EXPECT_EQ(bucket_quantiles({}).count, 0);
  EXPECT_EQ(bucket_quantiles({{0.1, 0}, {INFINITY, 0}}).p99, 0);
}

TEST(DrillWindows, AckLatencyBaselineAndLeaseTtl) {
  std::vector<LatencySample> v;
  for (int i = 1; i <= 100; ++i) v.push_back({static_cast<int32_t>(1000 + i), static_cast<float>(i)});
  v.push_back({900, 5000});  // before the window
  v.push_back({1200, 7000});  // at its end (excluded)
  const LatencyBaseline b = summarize_latency(v, 1000, 1200);
  EXPECT_EQ(b.acks, 100);
  EXPECT_EQ(b.p50_ms, 50);
  EXPECT_EQ(b.p99_ms, 99);
  EXPECT_EQ(summarize_latency({}, 0, 10).acks, 0);
  EXPECT_EQ(lease_ttl_ms(3000), 3000);
  EXPECT_EQ(lease_ttl_ms(1500), 2000);
  EXPECT_EQ(lease_ttl_ms(4999), 4000);
}

WindowStats stats(int partitions, int samples, double p50, double p99, double max, int timed_out = 0) {
  WindowStats w;
  w.partitions = partitions;
  w.samples = samples;
  w.p50_ms = p50;
  w.p99_ms = p99;
  w.max_ms = max;
  w.timed_out = timed_out;
  return w;
}

const TargetCheck* find_target(const std::vector<TargetCheck>& v, const std::string& starts) {
  for (const auto& c : v) {
    if (c.what.rfind(starts, 0) == 0) return &c;
  }
  return nullptr;
}

TEST(DrillTargets, Kill9JudgesTheMovedPartitionsAndAllPartitions) {
  ScenarioResult s;
  s.name = "kill9";
  s.ran = true;
  s.victim = 2;
  s.copied_measured = true;
  s.moves.moved = stats(333, 333, 700, 1500, 1900);
  s.recovery.partitions = 1000;
  s.recovery.rto_p50_ms = 300;
  s.recovery.rto_max_ms = 2600;
  auto t = evaluate_targets(s);
  ASSERT_EQ(t.size(), 3u);
  const TargetCheck* moved = find_target(t, "RTO of the 333 partitions broker 2 led");
  ASSERT_TRUE(moved);
  EXPECT_TRUE(moved->met);
  EXPECT_EQ(moved->figure, "p50 700 ms, p99 1500 ms, max 1900 ms");
  const TargetCheck* all = find_target(t, "RTO of all 1000 partitions");
  ASSERT_TRUE(all);
  EXPECT_FALSE(all->met);  // max 2.6 s > 2 s
  EXPECT_TRUE(find_target(t, "log data copied")->met);
  s.moves.moved = stats(333, 333, 1100, 1500, 1900);  // p50 over 1 s
  EXPECT_FALSE(find_target(evaluate_targets(s), "RTO of the 333")->met);
  s.moves.moved = stats(333, 333, 700, 1500, 1900, 1);  // one partition never came back
  EXPECT_FALSE(find_target(evaluate_targets(s), "RTO of the 333")->met);
  s.moves.moved = stats(0, 0, 0, 0, 0);
  EXPECT_EQ(find_target(evaluate_targets(s), "RTO of the 0")->figure, "no partition moved");
  EXPECT_FALSE(find_target(evaluate_targets(s), "RTO of the 0")->met);
  s.copied_measured = false;
  EXPECT_EQ(find_target(evaluate_targets(s), "log data copied")->figure, "not measured");
  EXPECT_FALSE(find_target(evaluate_targets(s), "log data copied")->met);
  s.ran = false;
  EXPECT_TRUE(evaluate_targets(s).empty());
}

TEST(DrillTargets, SigstopIsJudgedAgainstTheLeaseTtlPlusOneSecond) {
  ScenarioResult s;
  s.name = "sigstop";
  s.ran = true;
  s.victim = 1;
  s.lease_ttl_ms = 3000;
  s.moves.moved = stats(333, 333, 3500, 3900, 3990);  // no p50 bound for sigstop
  const auto t = evaluate_targets(s);
  const TargetCheck* moved = find_target(t, "RTO of the 333");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->limit, "max <= lease TTL 3000 ms + 1 s");
  EXPECT_TRUE(moved->met);
  s.moves.moved = stats(333, 333, 3500, 3900, 4001);
  EXPECT_FALSE(find_target(evaluate_targets(s), "RTO of the 333")->met);
}

TEST(DrillTargets, GracefulMovesAndDrain) {
  ScenarioResult s;
  s.name = "scale-in";
  s.ran = true;
  s.copied_measured = true;
  s.moves.moved = stats(333, 333, 90, 180, 450);
  DrainFigures d;
  d.broker = 3;
  d.led = 333;
  d.to_zero_ms = 2500;
  d.exit_ms = 2700;
  d.exited = true;
  s.drains.push_back(d);
  auto t = evaluate_targets(s);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(find_target(t, "write unavailability per graceful move (333 moves of 333")->met);
  const TargetCheck* drain = find_target(t, "drain of broker 3 leading 333 partitions");
  ASSERT_TRUE(drain);
  EXPECT_TRUE(drain->met);
  EXPECT_EQ(drain->figure, "2500 ms");
  s.moves.moved = stats(333, 333, 90, 201, 450);
  s.drains[0].to_zero_ms.reset();  // the process exited before Metadata showed 0: the exit bounds it
  s.drains[0].exit_ms = 3200;
  t = evaluate_targets(s);
  EXPECT_FALSE(find_target(t, "write unavailability per graceful move")->met);
  EXPECT_FALSE(find_target(t, "drain of broker 3")->met);
  EXPECT_EQ(find_target(t, "drain of broker 3")->figure, "<= 3200 ms (exited before Metadata showed 0)");
  // A failure scenario's balancing moves afterwards are graceful moves too.
  ScenarioResult k;
  k.name = "kill9";
  k.ran = true;
  k.moves.later_moves = stats(300, 310, 100, 150, 400);
  EXPECT_TRUE(find_target(evaluate_targets(k), "write unavailability per balancing move")->met);
}

TEST(DrillLogs, FailedEpochsFromTheControllersLog) {
  const std::string log =
      "2026-11-28T00:00:37.272Z WARN cluster: controller: broker epoch 2/7 failed: its heartbeats stopped\n"
      "2026-11-28T00:00:37.444Z WARN cluster: broker 2 epoch 7 lost: epoch sealed\n"
      "2026-11-28T00:00:38.488Z WARN cluster: controller: broker epoch 2/7 failed: its seal is recorded\n"
      "2026-11-28T00:00:39.000Z WARN cluster: controller: seal of 2/7 failed: timeout\n"
      "2026-11-28T00:00:40.000Z WARN cluster: controller: broker epoch 1/2478 failed: it was the controller before "
      "this election and has not connected since\n"
      "x controller: broker epoch 3/ failed: junk\n"
      "x controller: broker epoch 3/5 gone\n"
      "x controller: broker epoch 4/9 failed: no newline";
  const auto f = parse_failed_epochs(log);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0], (FailedEpoch{2, 7, "its heartbeats stopped"}));
  EXPECT_EQ(f[1], (FailedEpoch{1, 2478, "it was the controller before this election and has not connected since"}));
  EXPECT_EQ(f[2], (FailedEpoch{4, 9, "no newline"}));
  EXPECT_TRUE(parse_failed_epochs("").empty());
  // The logs of several brokers read in any order: the original reason wins over a later controller's "its seal
  // is recorded".
  const auto g = parse_failed_epochs(
      "controller: broker epoch 2/7 failed: its seal is recorded\ncontroller: broker epoch 2/7 failed: its "
      "heartbeats stopped\n");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].why, "its heartbeats stopped");
}

TEST(DrillLogs, CursorReadsOnlyWhatWasAppended) {
  const std::string dir = ::testing::TempDir() + "/drill-logs-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const auto append = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::app) << text;
  };
  append("broker-1.log", "old line\n");
  append("etcd.log", "not a broker\n");
  BrokerLogCursor c(dir);
  c.skip_to_end();
  EXPECT_EQ(c.read_new(), "");
  append("broker-1.log", "new 1\n");
  append("broker-2.log", "new 2\n");  // a broker started in the window: read from its start
  append("etcd.log", "more\n");
  const std::string got = c.read_new();
  EXPECT_NE(got.find("new 1\n"), std::string::npos);
  EXPECT_NE(got.find("new 2\n"), std::string::npos);
  EXPECT_EQ(got.find("old line"), std::string::npos);
  EXPECT_EQ(got.find("more"), std::string::npos);
  EXPECT_EQ(c.read_new(), "");
  append("broker-1.log", std::string(100, 'x') + "tail");
  EXPECT_EQ(c.read_new(10), "xxxxxxtail\n");  // bounded: the newest part
  std::filesystem::remove_all(dir);
}

TEST(DrillStats, LagPeakAndCatchUp) {
  std::vector<LagSample> lag;
  const int64_t values[] = {10, 12, 9, 11, 10, 300, 900, 400, 30, 11, 10};
  for (int i = 0; i < 11; ++i) lag.push_back({1000 * (i + 1), values[i]});
  const LagSummary s = summarize_lag(lag, 5500, 11000, 5000);
  EXPECT_EQ(s.baseline, 12);
  EXPECT_EQ(s.peak, 900);
  ASSERT_TRUE(s.catch_up_ms);
  EXPECT_EQ(*s.catch_up_ms, 10000 - 5500);  // the sample at t=10000 is back at 11 <= 12
  const LagSummary never = summarize_lag(lag, 5500, 8500, 5000);
  EXPECT_FALSE(never.catch_up_ms);
  const LagSummary flat = summarize_lag({{1000, 5}, {2000, 5}, {3000, 4}}, 1500, 3000);
  ASSERT_TRUE(flat.catch_up_ms);
  EXPECT_EQ(*flat.catch_up_ms, 0);
}

TEST(DrillStats, VerifyFindsLostAndDuplicatedRecords) {
  using S = SeqState;
  const std::vector<SeqState> states = {S::acked, S::acked, S::failed, S::acked, S::pending, S::failed};
  const std::vector<uint8_t> seen = {1, 0, 1, 3};
  const VerifySummary v = verify_sequences(states, seen);
  EXPECT_EQ(v.acked, 3);
  EXPECT_EQ(v.acked_lost, 1);
  EXPECT_EQ(v.first_lost_seq, 1);
  EXPECT_EQ(v.duplicates, 2);
  EXPECT_EQ(v.failed_but_present, 1);
}

TEST(DrillStats, CounterIncreaseAcrossARestart) {
  EXPECT_EQ(counter_increase(10, 25), 15);
  EXPECT_EQ(counter_increase(100, 7), 7);  // a new process
}

TEST(DrillStats, ProducerErrorsFromLibrdkafkaStatistics) {
  const std::string json =
      R"({"name":"rdkafka#producer-1","client_id":"floe-drill","txerrs":99,"brokers":{)"
      R"("127.0.0.1:1/1":{"name":"127.0.0.1:1/1","nodeid":1,"txerrs":2,"txretries":3,"req_timeouts":1,)"
      R"("toppars":{"t-0":{"topic":"t","partition":0}}},)"
      R"("127.0.0.1:2/2":{"name":"127.0.0.1:2/2","nodeid":2,"txerrs":0,"txretries":0,"req_timeouts":0}},)"
      R"("topics":{"t":{"topic":"t","txerrs":50}}})";
  const auto b = producer_errors_from_stats(json);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].name, "127.0.0.1:1/1");
  EXPECT_EQ(b[0].errors, 6);
  EXPECT_EQ(b[1].errors, 0);
  EXPECT_TRUE(producer_errors_from_stats("{}").empty());
}

TEST(DrillProducers, DefaultCountKeepsEachInstanceAtMostAHundredPartitions) {
  EXPECT_EQ(default_producer_count(1000), 10);
  EXPECT_EQ(default_producer_count(1001), 11);
  EXPECT_EQ(default_producer_count(100), 1);
  EXPECT_EQ(default_producer_count(12), 1);
  EXPECT_EQ(default_producer_count(1), 1);
  EXPECT_EQ(default_producer_count(5000), kMaxDefaultProducers);  // capped: 313 partitions each
}

TEST(DrillProducers, SlicesAreDisjointStridedAndCoverEveryPartition) {
  for (const auto& [partitions, producers] : std::vector<std::pair<int, int>>{{1000, 10}, {7, 3}, {6, 1}, {3, 5}}) {
    std::vector<int> owner(static_cast<std::size_t>(partitions), -1);
    std::size_t smallest = SIZE_MAX, largest = 0;
    for (int k = 0; k < producers; ++k) {
      const auto slice = producer_slice(partitions, producers, k);
      if (k < partitions) {
        smallest = std::min(smallest, slice.size());
        largest = std::max(largest, slice.size());
      } else {
        EXPECT_TRUE(slice.empty());
      }
      for (std::size_t i = 0; i < slice.size(); ++i) {
        EXPECT_EQ(slice[i] % producers, k);  // strided: spread over brokers whatever the assignment's pattern
        ASSERT_EQ(owner[static_cast<std::size_t>(slice[i])], -1) << "partition " << slice[i] << " owned twice";
        owner[static_cast<std::size_t>(slice[i])] = k;
      }
    }
    for (int p = 0; p < partitions; ++p) EXPECT_NE(owner[static_cast<std::size_t>(p)], -1) << p;
    EXPECT_LE(largest - smallest, 1u);
  }
  EXPECT_EQ(producer_slice(7, 3, 1), (std::vector<int32_t>{1, 4}));
  EXPECT_TRUE(producer_slice(7, 3, 3).empty());
}

TEST(DrillProducers, SequenceNumbersAreUniqueAcrossInstancesAndNameTheirPartition) {
  constexpr int kPartitions = 7, kProducers = 3;
  std::set<int64_t> seen;
  for (int k = 0; k < kProducers; ++k) {
    const auto slice = producer_slice(kPartitions, kProducers, k);
    for (int64_t local = 0; local < 50; ++local) {
      const int64_t seq = slice_sequence(slice, kPartitions, local);
      EXPECT_EQ(seq % kPartitions, slice[static_cast<std::size_t>(local) % slice.size()]);
      EXPECT_TRUE(seen.insert(seq).second) << "seq " << seq << " twice";
    }
  }
  // One instance owning everything numbers its records 0, 1, 2... as the single producer always did.
  const auto all = producer_slice(5, 1, 0);
  for (int64_t local = 0; local < 12; ++local) EXPECT_EQ(slice_sequence(all, 5, local), local);
}

TEST(DrillProducers, MergedStatesFeedTheLossAndDuplicateCheck) {
  using S = SeqState;
  // 5 partitions over 2 instances: {0, 2, 4} and {1, 3}. Instance 0 wrote 2 rounds (6 records), instance 1 one
  // round and a half (3 records: partitions 1, 3, then 1 again).
  const std::vector<std::vector<int32_t>> slices = {producer_slice(5, 2, 0), producer_slice(5, 2, 1)};
  const std::vector<std::vector<SeqState>> states = {{S::acked, S::acked, S::failed, S::acked, S::acked, S::pending},
                                                     {S::acked, S::acked, S::acked}};
  const auto merged = merge_producer_states(slices, states, 5);
  // seqs: instance 0 -> 0, 2, 4, 5, 7, 9; instance 1 -> 1, 3, 6. Never produced: 8.
  const std::vector<SeqState> expected = {S::acked, S::acked, S::acked, S::acked, S::failed,
                                          S::acked, S::acked, S::acked, S::not_produced, S::pending};
  EXPECT_EQ(merged, expected);
  // The read-back saw everything once, but seq 6 (instance 1's third record) twice and missed seq 7 (acked, by
  // instance 0); 8 was never produced and never seen; 4 failed and was not seen.
  std::vector<uint8_t> seen = {1, 1, 1, 1, 0, 1, 2, 0, 0, 0};
  VerifySummary v = verify_sequences(merged, seen);
  EXPECT_EQ(v.acked, 7);
  EXPECT_EQ(v.acked_lost, 1);
  EXPECT_EQ(v.first_lost_seq, 7);
  EXPECT_EQ(v.duplicates, 1);
  EXPECT_EQ(v.failed_but_present, 0);
  EXPECT_TRUE(merge_producer_states({producer_slice(3, 2, 0), producer_slice(3, 2, 1)}, {{}, {}}, 3).empty());
}

TEST(DrillProducers, ClientLatencyFromLibrdkafkaStatistics) {
  const std::string json =
      R"({"name":"rdkafka#producer-1","client_id":"floe-drill-p0","msg_cnt":420,"brokers":{)"
      R"("127.0.0.1:1/bootstrap":{"name":"127.0.0.1:1/bootstrap","nodeid":-1,"waitresp_cnt":9,)"
      R"("int_latency":{"min":0,"max":1,"p50":900000000,"p99":900000000,"p99_99":1},"rtt":{"p50":1,"p99":1}},)"
      R"("127.0.0.1:1/1":{"name":"127.0.0.1:1/1","nodeid":1,"waitresp_cnt":5,)"
      R"("int_latency":{"min":10,"max":9000000,"avg":5,"p50":3500000,"p75":1,"p99":8200000,"p99_99":9000000},)"
      R"("outbuf_latency":{"p50":20,"p99":400},"rtt":{"min":1,"p50":52000,"p99":98000,"p99_99":120000},)"
      R"("toppars":{"t-0":{"topic":"t","partition":0}}},)"
      R"("127.0.0.1:2/2":{"name":"127.0.0.1:2/2","nodeid":2,"waitresp_cnt":4,)"
      R"("int_latency":{"p50":4000000,"p99":6000000},"outbuf_latency":{"p50":1,"p99":100},)"
      R"("rtt":{"p50":60000,"p99":70000}}},)"
      R"("topics":{"t":{"topic":"t"}}})";
  const ClientLatency c = client_latency_from_stats(json);
  ASSERT_TRUE(c.present);
  EXPECT_DOUBLE_EQ(c.int_latency_p50_ms, 4000);  // worst broker connection; the bootstrap entry is skipped
  EXPECT_DOUBLE_EQ(c.int_latency_p99_ms, 8200);
  EXPECT_DOUBLE_EQ(c.outbuf_latency_p99_ms, 0.4);
  EXPECT_DOUBLE_EQ(c.rtt_p50_ms, 60);
  EXPECT_DOUBLE_EQ(c.rtt_p99_ms, 98);
  EXPECT_EQ(c.in_flight, 9);
  EXPECT_EQ(c.queued, 420);
  EXPECT_FALSE(client_latency_from_stats("{}").present);

  ClientLatency other;
  other.present = true;
  other.int_latency_p99_ms = 9000;
  other.rtt_p99_ms = 10;
  const ClientLatency w = worst_client_latency({c, other, ClientLatency{}});
  EXPECT_DOUBLE_EQ(w.int_latency_p99_ms, 9000);
  EXPECT_DOUBLE_EQ(w.rtt_p99_ms, 98);
  EXPECT_EQ(w.in_flight, 9);
  EXPECT_FALSE(worst_client_latency({}).present);
}

TEST(DrillProducers, OptionsAndTheReasonsTheReportGives) {
  DrillOptions o;
  std::string e;
  ASSERT_TRUE(parse_drill_options({"--brokers", "3", "--partitions", "1000", "--rate", "10"}, &o, &e)) << e;
  EXPECT_EQ(effective_producers(o), 10);
  EXPECT_EQ(effective_request_timeout_ms(o), 3000);  // follows the session timeout (the lease)
  const std::string why = producers_reason(o);
  EXPECT_NE(why.find("10 idempotent acks=all producer instances"), std::string::npos) << why;
  EXPECT_NE(why.find("up to 100 partitions each (~34 per broker)"), std::string::npos) << why;
  EXPECT_NE(why.find("one partition per ProduceRequest"), std::string::npos) << why;
  EXPECT_NE(why.find("~334/5 x 55 ms = ~3.7 s"), std::string::npos) << why;
  EXPECT_NE(request_timeout_reason(o).find("request.timeout.ms 3000 (= --session-timeout-ms"), std::string::npos);

  DrillOptions one;
  ASSERT_TRUE(parse_drill_options({"--partitions", "1000", "--producers", "1", "--session-timeout-ms", "5000",
                                   "--request-timeout-ms", "9000"},
                                  &one, &e))
      << e;
  EXPECT_EQ(effective_producers(one), 1);
  EXPECT_NE(producers_reason(one).find("1 idempotent acks=all producer instance (--producers)"), std::string::npos);
  EXPECT_EQ(effective_request_timeout_ms(one), 9000);
  EXPECT_NE(request_timeout_reason(one).find("ABOVE the sigstop target"), std::string::npos);
  DrillOptions few;
  ASSERT_TRUE(parse_drill_options({"--partitions", "3", "--producers", "8"}, &few, &e)) << e;
  EXPECT_EQ(effective_producers(few), 3);  // never more instances than partitions
  ASSERT_TRUE(parse_drill_options({"--client-debug", "metadata,broker"}, &few, &e)) << e;
  EXPECT_EQ(few.client_debug, "metadata,broker");
  EXPECT_FALSE(parse_drill_options({"--producers", "0"}, &few, &e));
  EXPECT_NE(e.find("--producers"), std::string::npos);
}

std::string metrics_text(double in_bytes, double in_records, double out_bytes, double get_bytes, double puts) {
  std::ostringstream m;
  m << "# TYPE floe_topic_bytes_in_total counter\n"
    << "floe_topic_bytes_in_total{topic=\"t\"} " << in_bytes << "\n"
    << "floe_topic_bytes_in_total{topic=\"__consumer_offsets\"} 999\n"
    << "floe_topic_records_in_total{topic=\"t\"} " << in_records << "\n"
    << "floe_topic_bytes_out_total{topic=\"t\"} " << out_bytes << "\n"
    << "floe_objstore_received_bytes_total{op=\"get\"} " << get_bytes << "\n"
    << "floe_objstore_received_bytes_total{op=\"list\"} 5000\n"
    << "floe_objstore_requests_total{op=\"put\"} " << puts << "\n"
    << "floe_objstore_requests_total{op=\"get\"} 2\n"
    << "floe_cluster_partition_handoff_seconds_bucket{cause=\"move\",le=\"0.1\"} " << puts << "\n"
    << "floe_cluster_partition_handoff_seconds_bucket{cause=\"move\",le=\"0.2\"} " << 2 * puts << "\n"
    << "floe_cluster_partition_handoff_seconds_bucket{cause=\"move\",le=\"+Inf\"} " << 2 * puts << "\n";
  return m.str();
}

TEST(DrillMetrics, LedgerSumsBrokersAndSurvivesRestarts) {
  MetricsLedger ledger("t");
  ASSERT_TRUE(ledger.add_scrape(1, 1, metrics_text(1000, 10, 500, 0, 4)));
  ASSERT_TRUE(ledger.add_scrape(2, 1, metrics_text(2000, 20, 0, 100, 6)));
  const StorageFigures a = ledger.totals();
  EXPECT_EQ(a.appended_bytes, 3000);
  EXPECT_EQ(a.appended_records, 30);
  EXPECT_EQ(a.served_bytes, 500);
  EXPECT_EQ(a.objstore_read_bytes, 100);
  EXPECT_TRUE(a.objstore_metrics);
  EXPECT_EQ(a.objstore_request_total(), 14);
  // Broker 1 grows; broker 2 re-executed itself (same instance, counters dropped); broker 1's second process.
  ASSERT_TRUE(ledger.add_scrape(1, 1, metrics_text(1500, 15, 700, 0, 5)));
  ASSERT_TRUE(ledger.add_scrape(2, 1, metrics_text(2500, 5, 0, 0, 1)));  // in_bytes grew, records dropped: new
  ASSERT_TRUE(ledger.add_scrape(1, 2, metrics_text(100, 1, 0, 0, 1)));
  const StorageFigures b = ledger.totals();
  EXPECT_EQ(b.appended_bytes, 1500 + 2000 + 2500 + 100);
  EXPECT_EQ(b.appended_records, 15 + 20 + 5 + 1);
  const StorageFigures d = difference(a, b);
  EXPECT_EQ(d.appended_records, 11);
  EXPECT_EQ(d.served_bytes, 200);
  EXPECT_EQ(d.objstore_requests.at("put"), 1 + 1 + 1);
  // The handoff histogram's buckets are counters like the rest (le 0.1 = puts): broker 1 at 5, broker 2's 6 plus
  // its new process's 1, broker 1's second process 1.
  EXPECT_EQ(b.handoff_buckets.at("move").at(0.1), 5 + (6 + 1) + 1);
  EXPECT_EQ(d.handoff_buckets.at("move").at(0.1), 1 + 1 + 1);
  EXPECT_EQ(d.handoff_buckets.at("move").at(0.2), 2 + 2 + 2);
  EXPECT_TRUE(std::isinf(d.handoff_buckets.at("move").rbegin()->first));
  EXPECT_FALSE(ledger.add_scrape(3, 1, "not{ a metric"));
}

Report sample_report() {
  Report r;
  r.config = RunConfig{"cluster", 3, 6, 1, 1024, "s3", 3000, "t", "/tmp/x"};
  r.timeline = {{1000, 1024, 1000, 0, 990, 10, 2, 9, 12}, {2000, 1024, 600, 3, 700, 310, 2, 450, 900}};
  r.events = {{1500, "kill -9 broker 2"}, {1900, "restart <broker> 2"}};
  ScenarioResult s;
  s.name = "kill9";
  s.what = "SIGKILL broker 2 \"x\"";
  s.ran = true;
  s.fault_ms = 1500;
  s.end_ms = 2000;
  s.recovery.rto_p50_ms = 120;
  s.recovery.rto_max_ms = 800;
  s.recovery.partitions = 6;
  s.client_before.present = true;
  s.client_before.int_latency_p50_ms = 3;
  s.client_before.int_latency_p99_ms = 7.5;
  s.storage.objstore_metrics = true;
  s.storage.objstore_requests = {{"put", 40}, {"get", 2}};
  s.lag.catch_up_ms = 300.0;
  s.copied_measured = true;
  s.victim = 2;
  s.moves.moved = stats(2, 2, 450, 800, 800);
  s.moves.unmoved = stats(4, 4, 20, 60, 60);
  s.ack_latency_before = LatencyBaseline{500, 1500, 40, 8, 35};
  s.storage.handoff_buckets["move"] = {{0.1, 30}, {0.2, 35}, {0.4, 40}, {INFINITY, 40}};
  s.failed_epochs = {{2, 7, "it was the controller before this election"}};
  s.failed_epoch_planned = {true};
  r.scenarios.push_back(s);
  ScenarioResult skipped;
  skipped.name = "scale-in";
  skipped.skipped = "needs cluster mode";
  r.scenarios.push_back(skipped);
  r.verify_complete = true;
  r.verify.acked = 1600;
  return r;
}

TEST(DrillReport, JsonCarriesEveryFigure) {
  std::ostringstream out;
  write_json(out, sample_report());
  const std::string j = out.str();
  EXPECT_NE(j.find("\"rto_ms\": {\"p50\": 120, \"p99\": 0, \"max\": 800, \"partitions\": 6"), std::string::npos) << j;
  EXPECT_NE(j.find("\"bytes_copied_between_brokers\": 0"), std::string::npos);
  EXPECT_NE(j.find("\"objstore_requests\": {\"get\": 2, \"put\": 40}, \"objstore_requests_total\": 42"),
            std::string::npos);
  EXPECT_NE(j.find("\"what\": \"SIGKILL broker 2 \\\"x\\\"\""), std::string::npos);
  EXPECT_NE(j.find("\"name\": \"scale-in\", \"ran\": false, \"skipped\": \"needs cluster mode\"}"), std::string::npos);
  EXPECT_NE(j.find("\"acked_lost\": 0"), std::string::npos);
  EXPECT_NE(j.find("\"catch_up_ms\": 300"), std::string::npos);
  EXPECT_NE(j.find("\"zombie_acks\": null"), std::string::npos);
  EXPECT_NE(j.find("\"passed\": false"), std::string::npos);  // a skipped scenario is not a pass
  EXPECT_NE(j.find("\"moved_ms\": {\"partitions\": 2, \"samples\": 2, \"timed_out\": 0, \"p50\": 450"),
            std::string::npos) << j;
  EXPECT_NE(j.find("\"ack_latency_before_ms\": {\"from_ms\": 500, \"to_ms\": 1500, \"acks\": 40, \"p50\": 8"),
            std::string::npos);
  EXPECT_NE(j.find("{\"what\": \"RTO of the 2 partitions broker 2 led"), std::string::npos);
  EXPECT_NE(j.find("\"met\": true}"), std::string::npos);
  EXPECT_NE(j.find("\"failed_epochs\": [{\"broker\": 2, \"epoch\": 7, \"why\": \"it was the controller before "
                   "this election\", \"planned\": true}]"),
            std::string::npos);
  EXPECT_NE(j.find("\"handoff_s\": {\"move\": {\"count\": 40, \"p50_le\": 0.100, \"p99_le\": 0.400"),
            std::string::npos);
  EXPECT_NE(j.find("\"producers\": 1, \"producers_reason\": \"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"client_before_ms\": {\"queue_p50\": 3, \"queue_p99\": 7.500"), std::string::npos) << j;
  EXPECT_NE(j.find("\"producers\": 1, \"producers_reason\": \"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"client_before_ms\": {\"queue_p50\": 3, \"queue_p99\": 7.500"), std::string::npos) << j;
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(DrillReport, SummaryTableAndVerdict) {
  Report r = sample_report();
  r.scenarios.pop_back();
  EXPECT_TRUE(r.passed());
  std::ostringstream out;
  print_summary(out, r);
  const std::string t = out.str();
  EXPECT_NE(t.find("scenario"), std::string::npos);
  EXPECT_NE(t.find("kill9"), std::string::npos);
  EXPECT_NE(t.find("800 ms"), std::string::npos);
  EXPECT_NE(t.find("verdict: PASS"), std::string::npos);
  EXPECT_NE(t.find("450 / 800 / 800"), std::string::npos) << t;  // moved
  EXPECT_NE(t.find("20 / 60 / 60"), std::string::npos);          // not moved
  EXPECT_NE(t.find("8 / 35 (p50 / p99)"), std::string::npos);    // the client's own ack latency
  EXPECT_NE(t.find("RTO of the 2 partitions broker 2 led"), std::string::npos);
  EXPECT_NE(t.find("targets: 3 of 3 met"), std::string::npos);
  EXPECT_NE(t.find("controller failed broker 2 epoch 7 (it was the controller before this election): the drill's "
                   "fault"),
            std::string::npos);
  EXPECT_NE(t.find("broker-side handoff (change of owner -> serving, every topic; bucket bounds): move: 40 opened, "
                   "p50 <= 100 ms, p99 <= 400 ms, max <= 400 ms"),
            std::string::npos);
  EXPECT_NE(t.find("librdkafka before the fault (worst instance, last second): queue p50 3 / p99 8 ms"),
            std::string::npos) << t;
  EXPECT_EQ(t.find("NOT MET"), std::string::npos);
  r.verify.acked_lost = 1;
  EXPECT_FALSE(r.passed());
  r.verify_complete = false;
  r.verify_note = "3 of 6 partitions read to their end before the timeout";
  std::ostringstream partial;
  print_summary(partial, r);
  EXPECT_NE(partial.str().find("read-back INCOMPLETE (3 of 6"), std::string::npos) << partial.str();
  EXPECT_NE(partial.str().find("no loss verdict"), std::string::npos);
  EXPECT_EQ(partial.str().find(" lost"), std::string::npos);
  r.verify_complete = true;
  r.verify.acked_lost = 0;
  r.scenarios[0].copied_bytes = 1024;
  EXPECT_FALSE(r.passed());
  r.scenarios[0].copied_bytes = 0;
  EXPECT_TRUE(r.passed());
  r.failed_epochs_after = {{3, 10, "its heartbeats stopped"}};
  EXPECT_FALSE(r.passed());
  std::ostringstream after;
  print_summary(after, r);
  EXPECT_NE(after.str().find("PROBLEM: after the scenarios (load stop, read-back) the controller failed broker 3 "
                             "epoch 10 (its heartbeats stopped)"),
            std::string::npos);
  std::ostringstream j;
  write_json(j, r);
  EXPECT_NE(j.str().find("\"failed_epochs_after_scenarios\": [{\"broker\": 3, \"epoch\": 10"), std::string::npos);
}

TEST(DrillChart, SvgHasSeriesAndLabelledFaultLines) {
  const Report r = sample_report();
  std::ostringstream out;
  write_svg(out, r.timeline, r.events, 1024);
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("<svg ", 0), 0u);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n') > 10, true);
  std::size_t polylines = 0;
  for (std::size_t p = s.find("<polyline"); p != std::string::npos; p = s.find("<polyline", p + 1)) ++polylines;
  EXPECT_EQ(polylines, 3u);  // acked, consumed, p99
  EXPECT_NE(s.find("kill -9 broker 2"), std::string::npos);
  EXPECT_NE(s.find("restart &lt;broker&gt; 2"), std::string::npos);  // escaped
  std::size_t dashed = 0;
  for (std::size_t p = s.find("stroke-dasharray"); p != std::string::npos; p = s.find("stroke-dasharray", p + 1)) {
    ++dashed;
  }
  EXPECT_EQ(dashed, 2u);
}

TEST(DrillChart, NiceCeiling) {
  EXPECT_EQ(nice_ceiling(0), 1);
  EXPECT_EQ(nice_ceiling(0.7), 1);
  EXPECT_EQ(nice_ceiling(1), 1);
  EXPECT_EQ(nice_ceiling(1.2), 2);
  EXPECT_EQ(nice_ceiling(3), 5);
  EXPECT_EQ(nice_ceiling(870), 1000);
}

TEST(DrillOptions, ParsesAndRejects) {
  DrillOptions o;
  std::string e;
  ASSERT_TRUE(parse_drill_options({"--brokers", "3", "--partitions", "1000", "--rate", "10", "--scenarios",
                                   "kill9,rolling", "--store", "file", "--broker-arg", "--x", "--broker-arg", "1"},
                                  &o, &e))
      << e;
  EXPECT_EQ(o.partitions, 1000);
  EXPECT_EQ(o.rate_mib, 10);
  EXPECT_EQ(o.scenarios, (std::vector<std::string>{"kill9", "rolling"}));
  EXPECT_EQ(o.broker_args, (std::vector<std::string>{"--x", "1"}));
  DrillOptions d;
  ASSERT_TRUE(parse_drill_options({}, &d, &e));
  EXPECT_EQ(d.scenarios, all_scenarios());
  EXPECT_FALSE(parse_drill_options({"--scenarios", "kill9,boom"}, &d, &e));
  EXPECT_NE(e.find("boom"), std::string::npos);
  EXPECT_FALSE(parse_drill_options({"--rate", "fast"}, &d, &e));
  EXPECT_NE(e.find("--rate"), std::string::npos);
  EXPECT_FALSE(parse_drill_options({"--brokers"}, &d, &e));
  EXPECT_FALSE(parse_drill_options({"--store", "gcs"}, &d, &e));
  EXPECT_FALSE(parse_drill_options({"--bogus", "1"}, &d, &e));
  EXPECT_FALSE(parse_drill_options({"--broker", "1=200"}, &d, &e));  // needs --bootstrap
  EXPECT_FALSE(parse_drill_options({"--bootstrap", "h:1", "--embedded"}, &d, &e));
  EXPECT_FALSE(parse_drill_options({"--wal", "file"}, &d, &e));  // cluster mode is object-WAL only
  DrillOptions x;
  ASSERT_TRUE(parse_drill_options({"--bootstrap", "h:1", "--broker", "2=300@127.0.0.1:9644"}, &x, &e)) << e;
  int id = 0, pid = 0;
  std::string http;
  ASSERT_TRUE(parse_broker_spec("2=300@127.0.0.1:9644", &id, &pid, &http));
  EXPECT_EQ(id, 2);
  EXPECT_EQ(pid, 300);
  EXPECT_EQ(http, "127.0.0.1:9644");
  ASSERT_TRUE(parse_broker_spec("7=42", &id, &pid, &http));
  EXPECT_EQ(http, "");
  EXPECT_FALSE(parse_broker_spec("7", &id, &pid, &http));
  EXPECT_FALSE(parse_broker_spec("7=x", &id, &pid, &http));
  EXPECT_FALSE(parse_broker_spec("7=42@nohostport", &id, &pid, &http));
}

}  // namespace
}  // namespace floe::drill
