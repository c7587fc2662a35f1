#!/usr/bin/python3
"""A graceful drain of many partitions, timed per partition (issue 7: write unavailability of one partition during a
graceful move p99 <= 200 ms; drain of a broker leading 333 partitions <= 3 s). 3 brokers on etcd and moto with the
object WAL, one topic of PARTITIONS partitions (999 by default: ~333 per broker), an idempotent acks=all
confluent-kafka producer keeping one record in flight per partition (the next is sent when the previous is acked, so
the gap between two acks of a partition is one ack latency, and a longer one is time the partition was not writable;
a producer writing as fast as it can would queue records and hide the handoff in its own queueing):
  1. `floe broker drain 2`: every partition leaves broker 2; the CLI's time is printed and bounded.
  2. Per moved partition, the write unavailability the producer saw: the longest gap between two acks of that
     partition during the drain, printed as p50 / p99 / max next to the same partitions' longest gap over an equal
     window just before the drain (the load's own rhythm on this machine, the same run's baseline).
  3. The new owners' floe_cluster_partition_handoff_seconds{cause="move"} (move requested -> serving there, per
     partition) gives the same from the brokers' side: its count covers every moved partition; p50 / p99 printed.
  4. No acked record lost: every acked record is read back at its acked offset (by a consumer from the start).
The bounds asserted are loose (a shared 2-core machine, where one ack of 999 partitions' worth of records can take
seconds: compare the gaps with the baseline printed beside them); the figures are what the issue asks for.
FLOE_DRAIN_PARTITIONS overrides the partition count.
"""
import os
import re
import time
import unittest
import urllib.request

import cluster_harness as ch
import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

TOPIC = "drained"
PARTITIONS = int(os.environ.get("FLOE_DRAIN_PARTITIONS", "999"))
DRAIN_LIMIT_MS = 20000   # loose: the figure printed is what counts
GAP_LIMIT_S = 10.0       # no moved partition unwritable this much longer than its longest gap before the drain


def metadata_leaders(broker):
    """{partition: leader} of TOPIC from a raw Metadata v12."""
    with h.KafkaConn(broker.port) as c:
        _, md = c.request(h.API_METADATA, 12, h.metadata_body(12, [TOPIC]))
    for t in md["topics"]:
        if t["name"] == TOPIC and t["error_code"] == 0:
            return {p["partition_index"]: p["leader_id"] for p in t["partitions"]}
    return {}


def handoff_buckets(broker):
    """floe_cluster_partition_handoff_seconds{cause="move"}: [(le, cumulative count)] and the count."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5) as resp:
        text = resp.read().decode()
    buckets, count = [], 0.0
    for line in text.splitlines():
        m = re.match(r'floe_cluster_partition_handoff_seconds_bucket\{(.*)\} (\S+)$', line)
        if m and 'cause="move"' in m.group(1):
            le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
            buckets.append((float("inf") if le == "+Inf" else float(le), float(m.group(2))))
        m = re.match(r'floe_cluster_partition_handoff_seconds_count\{cause="move"\} (\S+)$', line)
        if m:
            count = float(m.group(1))
    return sorted(buckets), count


def meta_txns(broker):
    """floe_meta_requests_total{op="txn"}: metadata txns this broker has sent."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r'^floe_meta_requests_total\{op="txn"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def quantile_from_buckets(per_broker, q):
    """The upper bound of the bucket holding quantile q of the summed histograms."""
    total = {}
    for buckets, _ in per_broker:
        for le, c in buckets:
            total[le] = total.get(le, 0.0) + c
    if not total:
        return None
    n = max(total.values())
    for le in sorted(total):
        if total[le] >= q * n:
            return le
    return None


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else 0.0


def longest_gap(times, start, end):
    """The longest interval between consecutive acks in [start, end], counting from the last ack before `start`
    and up to the first ack after `end`."""
    before = [t for t in times if t <= start]
    inside = [t for t in times if start < t <= end]
    after = [t for t in times if t > end]
    seq = ([before[-1]] if before else [start]) + inside + ([after[0]] if after else [end])
    return max((b - a for a, b in zip(seq, seq[1:])), default=end - start)


class ProbeLoad(ch.PartitionLoad):
    """One record in flight per partition: produced again as soon as the previous one is acked (or failed).
    Acks, ack times and the loss check are PartitionLoad's."""

    def __init__(self, bootstrap, topic, partitions):
        super().__init__(bootstrap, topic, partitions,
                         producer_config={"linger.ms": 1, "request.timeout.ms": 10000, "retry.backoff.ms": 20})
        self.ready = set(range(partitions))  # partitions with nothing in flight

    def on_delivery(self, err, msg):
        self.ready.add(msg.partition())
        super().on_delivery(err, msg)

    def run(self):
        while not self.stop.is_set():
            todo, self.ready = self.ready, set()
            for p in todo:
                self.seq += 1
                self.p.produce(self.topic, value=b"p%d-%d" % (p, self.seq), partition=p, on_delivery=self.on_delivery)
            self.p.poll(0.005)


class ClusterDrainTimingTest(unittest.TestCase):
    def test_drain_timed_per_partition(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        with ch.Cluster(brokers=3, session_timeout_ms=2000) as cluster:
            b1 = cluster.brokers[1]
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            futures = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])
            futures[TOPIC].result(timeout=60)
            h.wait_until(lambda: len(metadata_leaders(b1)) == PARTITIONS and
                         all(l >= 0 for l in metadata_leaders(b1).values()), 120, interval=0.2,
                         what="every partition has a leader")
            load = ProbeLoad(cluster.bootstrap(), TOPIC, PARTITIONS).start()
            try:
                h.wait_until(lambda: load.all_acked_after(0.0), 120, interval=0.2, what="first acks everywhere")
                time.sleep(2.0)  # a steady rhythm before the baseline window
                on_two = sorted(p for p, l in metadata_leaders(b1).items() if l == 2)
                self.assertGreater(len(on_two), 0)
                handoffs_before = sum(handoff_buckets(b)[1] for i, b in cluster.brokers.items() if i != 2)
                txns_before = meta_txns(cluster.brokers[2])
                started = time.monotonic()
                wall_started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
                r = h.run_floe(["broker", "drain", "2", "--bootstrap", b1.bootstrap, "--timeout-ms", "60000"],
                               timeout=90)
                print("$ floe broker drain 2\n%s%s" % (r.stdout, r.stderr))
                self.assertEqual(r.returncode, 0, r.stderr)
                took_ms = int(re.search(r"in (\d+) ms", r.stdout).group(1))
                drained = time.monotonic()
                txns = meta_txns(cluster.brokers[2]) - txns_before
                self.assertFalse([p for p, l in metadata_leaders(b1).items() if l == 2])
                h.wait_until(lambda: all(load.last_ack[p] > drained for p in on_two), 60, interval=0.05,
                             what="every moved partition acked after the drain")
                time.sleep(0.5)
                window = drained - started
                gaps = [longest_gap(load.ack_times[p], started, drained) for p in on_two]
                base = [longest_gap(load.ack_times[p], started - window - 0.5, started - 0.5) for p in on_two]
                per_broker = [handoff_buckets(b) for i, b in cluster.brokers.items() if i != 2]
                handoffs = sum(c for _, c in per_broker) - handoffs_before
                print("drain of broker 2 leading %d of %d partitions: %d ms by the CLI (target <= 3000); broker 2 "
                      "sent %d metadata txns meanwhile" % (len(on_two), PARTITIONS, took_ms, txns))
                print("write unavailability per moved partition (longest gap between acks during the drain): "
                      "p50 %.0f ms, p99 %.0f ms, max %.0f ms (target p99 <= 200); same partitions just before the "
                      "drain (the load's rhythm): p50 %.0f ms, p99 %.0f ms, max %.0f ms" %
                      (pct(gaps, 0.5) * 1000, pct(gaps, 0.99) * 1000, max(gaps) * 1000,
                       pct(base, 0.5) * 1000, pct(base, 0.99) * 1000, max(base) * 1000))
                p50, p99 = quantile_from_buckets(per_broker, 0.5), quantile_from_buckets(per_broker, 0.99)
                print("handoff per partition on the new owners (move requested -> serving; log2 buckets, upper "
                      "bounds): %d partitions, p50 <= %s s, p99 <= %s s" % (handoffs, p50, p99))
                for i, b in cluster.brokers.items():  # the brokers' own account of the handoff
                    for line in b.log_text().splitlines():
                        if line.split(" ", 1)[0] >= wall_started and re.search(
                                r"released \d+ partition|opened \d+ partition|requested \d+ partition moves", line):
                            print("broker %d: %s" % (i, line))
                self.assertLess(took_ms, DRAIN_LIMIT_MS)
                self.assertLess(max(gaps), max(base) + GAP_LIMIT_S)
                self.assertGreaterEqual(handoffs, len(on_two))
            finally:
                unacked = load.finish(60)
            self.assertEqual(unacked, 0, "records still unacknowledged after flush")
            self.assertEqual(load.errors, [])

            # 4. Every acked record read back at its acked offset.
            consumer = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "drain-check",
                                 "auto.offset.reset": "earliest", "enable.auto.commit": False})
            consumer.subscribe([TOPIC])
            seen = {}
            deadline = time.monotonic() + 120
            want = load.acked_count()
            while len(seen) < want and time.monotonic() < deadline:
                for m in consumer.consume(num_messages=10000, timeout=0.5):
                    if m.error() is None:
                        seen[(m.partition(), m.offset())] = m.value()
            consumer.close()
            self.assertEqual(load.lost(seen), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
