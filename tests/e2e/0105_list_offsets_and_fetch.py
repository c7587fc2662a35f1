#!/usr/bin/python3
"""ListOffsets and long-poll Fetch. Records produced with explicit timestamps (some out of order) by confluent-kafka;
earliest/latest via get_watermark_offsets, by timestamp via Consumer.offsets_for_times, and a raw ListOffsets v7
for -2 (earliest), -1 (latest) and -3 (the offset of the max timestamp). Then a consumer parked in a long poll
(fetch.wait.max.ms=5000) must receive a record produced 300 ms later in well under the 5 s, and an idle consumer's
fetches must really wait (a handful of Fetch requests over a second, not a busy loop)."""
import re
import struct
import threading
import time
import unittest
import urllib.request

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

API_LIST_OFFSETS = 2
T0 = 1_700_000_000_000  # ms; far in the past, so the broker's clock never matters
# offset -> timestamp: 0..9 ascending by 1 s, then one far ahead (the max), then two back in time.
TIMESTAMPS = [T0 + i * 1000 for i in range(10)] + [T0 + 100_000, T0 + 20_000, T0 + 5_500]


def consumer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": "floe-e2e-0105-unused", "enable.auto.commit": False,
            "enable.auto.offset.store": False, "socket.timeout.ms": 10000}
    conf.update(extra)
    return Consumer(conf)


def list_offsets_v7(conn, topic, partition, timestamp):
    """Raw ListOffsets v7 (flexible). Returns (error_code, timestamp, offset)."""
    w = h.Writer().i32(-1).i8(0)  # replica_id, isolation_level
    w.uvarint(2).compact_string(topic).uvarint(2)
    w.i32(partition).i32(-1).raw(struct.pack(">q", timestamp)).tags()  # partition, leader epoch, timestamp
    w.tags().tags()
    corr = conn.next_correlation_id()
    conn.send(h.encode_request(API_LIST_OFFSETS, 7, corr, w.bytes(), header_version=2))
    corr_got, r = h.decode_response_header(conn.recv_frame(timeout=10), 1)
    assert corr_got == corr
    r.i32()  # throttle
    topics = r.array(True, lambda: (r.compact_string(), r.array(True, lambda: (
        r.i32(), r.i16(), r.i64(), r.i64(), r.i32(), r.tags())), r.tags()))
    r.tags()
    r.expect_end()
    (name, parts, _), = topics
    (p, err, ts, off, _epoch, _), = parts
    assert (name, p) == (topic, partition)
    return err, ts, off


def in_flight(broker):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5).read().decode()
    m = re.search(r"^floe_kafka_requests_in_flight (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def fetch_requests(broker):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5).read().decode()
    return sum(int(n) for n in re.findall(r'^floe_kafka_requests_total\{api="Fetch",[^}]*\} (\d+)', text, re.M))


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class ListOffsetsAndFetch(h.BrokerTestCase):

    def produce(self, topic, records, p=None):
        """records: [(value, timestamp or 0)]; acks=all, one partition; returns the offsets."""
        if p is None:
            p = self.producer()
        offsets = []

        def report(err, msg):
            self.assertIsNone(err)
            offsets.append(msg.offset())

        for value, ts in records:
            p.produce(topic, value=value, partition=0, timestamp=ts, on_delivery=report)
            p.flush(10)  # one record per batch: the by-timestamp lookup has several batches to look through
        self.assertEqual(p.flush(10), 0)
        return offsets

    def producer(self):
        return Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 0,
                         "message.timeout.ms": 10000})

    def test_list_offsets(self):
        topic = "timestamps"
        offsets = self.produce(topic, [(b"r%d" % i, ts) for i, ts in enumerate(TIMESTAMPS)])
        self.assertEqual(offsets, list(range(len(TIMESTAMPS))))
        n = len(TIMESTAMPS)

        c = consumer(self.broker.bootstrap)
        try:
            self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10), (0, n))
            # Kafka: the earliest offset whose timestamp is >= the target; -1 when there is none.
            cases = {
                T0 - 1: 0,
                T0: 0,
                T0 + 3000: 3,
                T0 + 3500: 4,
                T0 + 9000: 9,
                T0 + 9001: 10,        # 10 (T0+100s) comes before 11 (T0+20s)
                T0 + 20_000: 10,
                T0 + 100_000: 10,
                T0 + 100_001: -1,     # past every timestamp
            }
            for ts, want in cases.items():
                tp, = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
                self.assertIsNone(tp.error)
                self.assertEqual(tp.offset, want, "offsets_for_times(%d) (T0%+d)" % (ts, ts - T0))

            # The records read back carry the timestamps they were produced with.
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            seen = []
            deadline = time.monotonic() + 10
            while len(seen) < n and time.monotonic() < deadline:
                for m in c.consume(num_messages=100, timeout=0.3):
                    self.assertIsNone(m.error())
                    seen.append((m.offset(), m.timestamp()[1]))
            self.assertEqual(seen, list(enumerate(TIMESTAMPS)))
        finally:
            c.close()

        with self.broker.connect(timeout=10) as conn:
            self.assertEqual(list_offsets_v7(conn, topic, 0, -2)[::2], (0, 0))
            self.assertEqual(list_offsets_v7(conn, topic, 0, -1)[::2], (0, n))
            self.assertEqual(list_offsets_v7(conn, topic, 0, -3), (0, T0 + 100_000, 10))
            self.assertEqual(list_offsets_v7(conn, topic, 0, T0 + 4200), (0, T0 + 5000, 5))
            self.assertEqual(list_offsets_v7(conn, topic, 0, T0 + 100_001)[::2], (0, -1))

    def test_long_poll_woken_by_produce(self):
        topic = "long-poll"
        p = self.producer()  # connected and warmed up before the measurement
        start = self.produce(topic, [(b"first", 0)], p)[0] + 1
        c = consumer(self.broker.bootstrap, **{"fetch.wait.max.ms": 5000, "fetch.min.bytes": 1})
        try:
            fetches_before = fetch_requests(self.broker)
            wakes_before = h.metric(self.broker, "floe_kafka_fetch_wake_duration_seconds_count")
            c.assign([TopicPartition(topic, 0, start)])
            # The consumer's fetch has reached the broker and is parked there (nothing to return yet).
            stop = threading.Event()
            polled = []

            def poll_loop():
                deadline = time.monotonic() + 20
                while not stop.is_set() and time.monotonic() < deadline:
                    m = c.poll(0.05)
                    if m is not None:
                        polled.append((time.monotonic(), m))
                        return

            t = threading.Thread(target=poll_loop)
            t.start()
            try:
                h.wait_until(lambda: fetch_requests(self.broker) > fetches_before, 10, what="a Fetch request")
                h.wait_until(lambda: in_flight(self.broker) >= 1, 5, what="a parked Fetch")
                fetches_parked = fetch_requests(self.broker)
                time.sleep(0.3)  # the scenario: a record arrives 300 ms into the consumer's wait
                self.assertFalse(polled, "a record arrived before anything was produced")
                # An idle consumer does not spin: its one fetch is still waiting.
                self.assertLessEqual(fetch_requests(self.broker) - fetches_parked, 1)
                produced_at = time.monotonic()
                self.assertEqual(self.produce(topic, [(b"wake up", 0)], p), [start])
                t.join(10)
            finally:
                stop.set()
                t.join(10)
            self.assertEqual(len(polled), 1, "the produced record never arrived")
            got_at, m = polled[0]
            self.assertIsNone(m.error())
            self.assertEqual((m.offset(), m.value()), (start, b"wake up"))
            latency = got_at - produced_at
            print("long poll: record received %.0f ms after it was produced" % (latency * 1000))
            self.assertLess(latency, 1.5, "the parked fetch was not woken by the produce")
            # It was woken by the append becoming durable, and the broker measured that wake.
            self.assertGreaterEqual(h.metric(self.broker, "floe_kafka_fetch_wake_duration_seconds_count"),
                                    wakes_before + 1)
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
