#!/usr/bin/python3
"""Write unavailability of ONE partition during a graceful move, as a Kafka client sees it (issue 7: p99 at most
200 ms). 3 brokers on etcd and moto with the object WAL, one topic of one partition, an idempotent acks=all
confluent-kafka (librdkafka) producer with librdkafka's default metadata settings producing a record every few ms,
and MOVES reassignments of the partition (AlterPartitionReassignments, to the next broker each time) while it
produces. librdkafka 2.0.2 ignores KIP-951 leader hints: it learns the new leader only from a Metadata response.
  1. Per move: the write unavailability = the longest gap between two consecutive acks from the request until
     writes flow on the new leader. Printed as p50 / p99 / max beside the longest gap of the same load over an
     equal quiet window (this machine's own rhythm), and bounded (MAX_GAP_S: loose, the machine is shared).
  2. Every acked record is read back at its acked offset, no value appears twice (no duplicate), and the leader
     epoch grew by one per move.
  3. The brokers' floe_cluster_partition_handoff_seconds{cause="move"} counts every move, and the new owners
     replayed (almost) no log to load the producer state (floe_cluster_partition_open_replayed_batches_total):
     the old owner snapshots it at the end it released, so an open reads metadata only.
FLOE_MOVES overrides the number of moves. The producer's topic.metadata.refresh.fast.interval.ms and
retry.backoff.ms are CLIENT_FAST_MS (20; FLOE_MOVE_CLIENT_FAST_MS overrides, 0: librdkafka's defaults, 250 and 100):
librdkafka 2.0.2 asks for Metadata only fast.interval after the first NOT_LEADER_OR_FOLLOWER and then retries after
retry.backoff.ms, so with its defaults a move costs the client at least ~250 ms + the rest of a retry backoff + one
ack however fast the brokers hand off (measured: p50 ~340 ms either way); with 20 ms the figure is the brokers'.
"""
import os
import re
import threading
import time
import unittest
import urllib.request

import cluster_harness as ch
import floe_harness as h
from reassign_wire import alter_reassignments

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

TOPIC = "moving"
MOVES = int(os.environ.get("FLOE_MOVES", "12"))
CLIENT_FAST_MS = int(os.environ.get("FLOE_MOVE_CLIENT_FAST_MS", "20"))
SETTLE_S = 0.6           # between moves: the producer is back to its rhythm
PRODUCE_EVERY_S = 0.002  # one record every 2 ms
MAX_GAP_S = 1.5          # loose bound on the worst move's gap (the figures printed are what the issue asks for)
WAIT_S = 15.0            # per move: the new leader shows and acks flow


def metadata(broker):
    """(leader, leader epoch) of TOPIC-0 and the controller id, from a raw Metadata v12."""
    with h.KafkaConn(broker.port) as c:
        _, md = c.request(h.API_METADATA, 12, h.metadata_body(12, [TOPIC]))
    for t in md["topics"]:
        if t["name"] == TOPIC and t["error_code"] == 0:
            for p in t["partitions"]:
                if p["partition_index"] == 0:
                    return (p["leader_id"], p["leader_epoch"]), md["controller_id"]
    return (-1, -1), md["controller_id"]


def handoff_count(broker):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r'^floe_cluster_partition_handoff_seconds_count\{cause="move"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


class SteadyProducer:
    """Produces one record every PRODUCE_EVERY_S to TOPIC-0 and records every ack: (time, offset, value)."""

    def __init__(self, bootstrap):
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                           "linger.ms": 1, "message.timeout.ms": 30000,
                           **({"debug": os.environ["FLOE_RDKAFKA_DEBUG"]} if os.environ.get("FLOE_RDKAFKA_DEBUG") else {}),
                           **({"topic.metadata.refresh.fast.interval.ms": CLIENT_FAST_MS,
                               "retry.backoff.ms": CLIENT_FAST_MS} if CLIENT_FAST_MS > 0 else {})})
        self.lock = threading.Lock()
        self.acks = []  # (monotonic time, offset or None, value)
        self.errors = []
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_delivery(self, err, msg):
        now = time.monotonic()
        if err is not None:
            self.errors.append(str(err))
            return
        off = msg.offset()
        with self.lock:
            self.acks.append((now, off if off is not None and off >= 0 else None, msg.value()))

    def run(self):
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.sent += 1
            try:
                self.p.produce(TOPIC, value=b"v%d" % self.sent, partition=0, on_delivery=self.on_delivery)
            except BufferError:
                pass
            next_at += PRODUCE_EVERY_S
            self.p.poll(max(0.0, next_at - time.monotonic()))

    def ack_times(self):
        with self.lock:
            return [t for t, _, _ in self.acks]

    def acked_after(self, t):
        with self.lock:
            return any(x > t for x, _, _ in self.acks)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=10)
        return self.p.flush(30)


def longest_gap(times, start, end):
    """The longest interval between consecutive acks that overlaps [start, end]: (length, its first ack)."""
    best, at = 0.0, start
    for a, b in zip(times, times[1:]):
        if b >= start and a <= end and b - a > best:
            best, at = b - a, a
    return best, at


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else 0.0


class ClusterMoveWindowTest(unittest.TestCase):
    def test_move_window(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        with ch.Cluster(brokers=3, session_timeout_ms=2000) as cluster:
            b1 = cluster.brokers[1]
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])[TOPIC].result(timeout=20)
            h.wait_until(lambda: metadata(b1)[0][0] >= 0, 20, interval=0.05, what="the partition has a leader")
            load = SteadyProducer(cluster.bootstrap())
            load.thread.start()
            try:
                h.wait_until(lambda: len(load.ack_times()) > 200, 20, interval=0.05, what="the producer acks")
                quiet_start = time.monotonic()
                time.sleep(SETTLE_S)
                baseline, _ = longest_gap(load.ack_times(), quiet_start, time.monotonic())
                gaps = []
                (leader, epoch), _ = metadata(b1)
                first_epoch = epoch
                for i in range(MOVES):
                    target = leader % 3 + 1
                    (_, _), controller = metadata(b1)
                    requested = time.monotonic()
                    top, res = alter_reassignments(cluster.brokers[controller], [(TOPIC, 0, [target])])
                    self.assertEqual((top, res[(TOPIC, 0)][0]), (0, 0), res)
                    h.wait_until(lambda: metadata(b1)[0][0] == target, WAIT_S, interval=0.01,
                                 what="move %d: broker %d leads" % (i, target))
                    seen_at = time.monotonic()
                    h.wait_until(lambda: load.acked_after(seen_at), WAIT_S, interval=0.01,
                                 what="move %d: acks after the move" % i)
                    time.sleep(SETTLE_S)
                    gap, gap_from = longest_gap(load.ack_times(), requested, seen_at)
                    gaps.append(gap)
                    print("move %d: %d -> %d: longest gap between acks %.0f ms, from +%.0f ms to +%.0f ms after the "
                          "request (Metadata named the new leader at +%.0f ms)" %
                          (i, leader, target, gap * 1000, (gap_from - requested) * 1000,
                           (gap_from + gap - requested) * 1000, (seen_at - requested) * 1000), flush=True)
                    leader = target
                (_, last_epoch), _ = metadata(b1)
            finally:
                unacked = load.finish()
            self.assertEqual(unacked, 0)
            self.assertEqual(load.errors, [])
            self.assertEqual(last_epoch, first_epoch + MOVES)
            print("[ MOVE WINDOW ] %d moves of one partition: client-side write unavailability p50 %.0f ms, "
                  "p99 %.0f ms, max %.0f ms (longest gap of the same load when quiet: %.0f ms); %d records acked; "
                  "librdkafka fast.interval / retry.backoff: %s" %
                  (MOVES, pct(gaps, 0.5) * 1000, pct(gaps, 0.99) * 1000, max(gaps) * 1000, baseline * 1000,
                   len(load.acks), "%d ms" % CLIENT_FAST_MS if CLIENT_FAST_MS > 0 else "defaults (250 / 100 ms)"),
                  flush=True)
            moves_seen = sum(handoff_count(b) for b in cluster.brokers.values())
            self.assertGreaterEqual(moves_seen, MOVES)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % b1.http_port(), timeout=5) as resp:
                exported = "floe_cluster_partition_open_replayed_batches_total" in resp.read().decode()
            self.assertTrue(exported, "floe_cluster_partition_open_replayed_batches_total is not exported")
            replayed = sum(h.metric(b, "floe_cluster_partition_open_replayed_batches_total")
                           for b in cluster.brokers.values())
            print("batches replayed by the opens of %d moves: %d" % (MOVES, replayed), flush=True)
            self.assertLessEqual(replayed, MOVES, "the opens replayed the log: no producer snapshot at the release")

            # Every acked record read back at its offset; no value twice.
            seen = {}
            values = []
            c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "check", "enable.auto.commit": False,
                          "auto.offset.reset": "earliest"})
            c.assign([TopicPartition(TOPIC, 0, 0)])
            deadline = time.monotonic() + 60
            want = len(load.acks)
            while len(values) < want and time.monotonic() < deadline:
                for m in c.consume(1000, 1.0):
                    if m.error() is None:
                        seen[m.offset()] = m.value()
                        values.append(m.value())
            c.close()
            lost = [(o, v) for _, o, v in load.acks if (seen.get(o) != v if o is not None else v not in set(values))]
            self.assertEqual(lost, [], "acked records lost")
            self.assertEqual(len(values), len(set(values)), "duplicated records")
            self.assertLessEqual(max(gaps), MAX_GAP_S + baseline)


if __name__ == "__main__":
    h.main()
