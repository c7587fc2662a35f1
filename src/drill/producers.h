// How the drill's load is split over several librdkafka producer instances, and the client-side latency figures
// read from their statistics. Pure functions (unit-tested); load.cc runs the instances.
//
// Why several instances: librdkafka (2.0) puts one partition in a ProduceRequest (its issue #1700) and an
// idempotent producer keeps at most 5 requests in flight per broker connection. A broker acks a Produce when the
// object WAL's flush is durable (~50 ms: wal.flush.ms + one PUT), so one producer writing P/B partitions per
// broker cycles through them 5 at a time: 333 partitions / 5 x ~55 ms = ~3.7 s per round, and every record waits
// that long in the client's queue before anything reaches the broker. A fault's window would then measure the
// producer's queue, not the failover. Several instances, each with its own connections, each owning a disjoint
// slice of the partitions, divide that round; a platform team with 1000 partitions runs many producer processes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "drill/stats.h"

namespace floe::drill {

// At most this many partitions per producer instance by default, and at most kMaxDefaultProducers instances.
constexpr int kPartitionsPerProducer = 100;
constexpr int kMaxDefaultProducers = 16;
// ceil(partitions / kPartitionsPerProducer), in [1, kMaxDefaultProducers].
int default_producer_count(int partitions);

// The partitions instance `index` of `producers` writes: every producers-th partition from `index` (strided, so
// each instance's slice spreads over the brokers whatever pattern the assignment follows). Slices are disjoint and
// together cover [0, partitions); sizes differ by at most one. An index >= partitions gets an empty slice.
std::vector<int32_t> producer_slice(int partitions, int producers, int index);

// The sequence number of an instance's `local`-th record: it writes its slice round-robin, so that record goes to
// slice[local % size] in round local / size, and its sequence number is round * partitions + partition. Every
// sequence number's partition is seq % partitions, and two instances never share one (disjoint slices).
int64_t slice_sequence(const std::vector<int32_t>& slice, int partitions, int64_t local);

// The instances' per-record states (states[k][local]) merged into one vector indexed by sequence number, for
// verify_sequences. A sequence number no instance produced (an instance that wrote fewer rounds than another)
// is SeqState::not_produced.
std::vector<SeqState> merge_producer_states(const std::vector<std::vector<int32_t>>& slices,
                                            const std::vector<std::vector<SeqState>>& states, int partitions);

// One producer instance's view of its brokers, from librdkafka's statistics JSON (one statistics interval), in
// milliseconds; the worst broker connection for each figure. int_latency: a record's wait in the client's
// partition queue before it is put in a request (the queue the one-partition-per-request limit builds);
// outbuf_latency: a request's wait to be sent; rtt: request -> response (the broker's own Produce latency plus
// the network). in_flight: requests awaiting a response (all connections); queued: records not yet in a request.
struct ClientLatency {
  bool present = false;
  double int_latency_p50_ms = 0, int_latency_p99_ms = 0;
  double outbuf_latency_p99_ms = 0;
  double rtt_p50_ms = 0, rtt_p99_ms = 0;
  int64_t in_flight = 0, queued = 0;
};
// Brokers with nodeid < 0 (bootstrap entries) are skipped.
ClientLatency client_latency_from_stats(std::string_view stats_json);
// Several instances' figures as one: the worst of each (the figure a reader compares a window with).
ClientLatency worst_client_latency(const std::vector<ClientLatency>& per_producer);

}  // namespace floe::drill
