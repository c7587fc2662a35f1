#!/usr/bin/python3
"""Compressed batches: a confluent-kafka producer (acks=all) with each compression.type (gzip, snappy, lz4, zstd,
none) writes a topic of its own; a consumer (assign, from the beginning) reads back identical keys, values and
headers at dense offsets. kafka-python 2.0.2 does the same with gzip (KafkaProducer acks='all',
KafkaConsumer assign + seek_to_beginning)."""
import random
import re
import time
import urllib.request
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None
try:
    import kafka
except ImportError:  # pragma: no cover
    kafka = None

CODECS = ("gzip", "snappy", "lz4", "zstd", "none")
COUNT = 2000


def messages(seed):
    rnd = random.Random(seed)
    out = []
    for i in range(COUNT):
        # Compressible text with some random bytes, so every codec has work to do.
        value = (b"message %05d " % i) * rnd.randrange(1, 20) + bytes(rnd.randrange(256) for _ in range(16))
        out.append((b"key-%d" % (i % 11), value, [("i", b"%d" % i), ("codec", b"x")]))
    return out


def consume_all(bootstrap, topic, count, timeout_s=20):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-e2e-0103-unused", "enable.auto.commit": False,
                  "enable.auto.offset.store": False, "socket.timeout.ms": 5000})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError("consume error on %s: %s" % (topic, m.error()))
                out.append((m.offset(), m.key(), m.value(), m.headers() or []))
        return out
    finally:
        c.close()


def fetch_response_bytes(broker):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port(), timeout=5).read().decode()
    m = re.search(r'^floe_kafka_response_bytes_total\{api="Fetch"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class CompressionCodecs(h.BrokerTestCase):

    def produce_and_read_back(self, codec, topic, seed):
        """Produces COUNT messages with confluent-kafka and compression.type=codec, reads them back, checks them;
        returns the Fetch response bytes the broker sent while they were read."""
        msgs = messages(seed)
        for k, v, hd in msgs:
            hd[1] = ("codec", codec.encode())
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "compression.type": codec,
                      "linger.ms": 20, "batch.num.messages": 500, "message.timeout.ms": 15000})
        errors = []
        offsets = []

        def report(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                offsets.append(msg.offset())

        for k, v, hd in msgs:
            p.produce(topic, value=v, key=k, headers=hd, partition=0, on_delivery=report)
            p.poll(0)
        self.assertEqual(p.flush(20), 0)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(offsets), list(range(COUNT)))

        before = fetch_response_bytes(self.broker)
        got = consume_all(self.broker.bootstrap, topic, COUNT)
        fetched = fetch_response_bytes(self.broker) - before
        self.assertEqual([o for o, _, _, _ in got], list(range(COUNT)), codec)
        self.assertTrue([(k, v, hd) for _, k, v, hd in got] == msgs, "%s: content differs" % codec)
        return fetched

    def test_confluent_kafka_each_codec(self):
        fetched = {}
        for n, codec in enumerate(CODECS):
            with self.subTest(codec=codec):
                fetched[codec] = self.produce_and_read_back(codec, "codec-" + codec, 1030 + n)
        print("Fetch response bytes per codec: %s" % fetched)
        uncompressed = sum(len(v) for _, v, _ in messages(0))
        self.assertGreater(fetched["none"], uncompressed // 2)
        # zstd batches are kept as the producer compressed them: far fewer bytes than "none" on the way back.
        self.assertLess(fetched["zstd"], uncompressed // 2)

    # librdkafka < 2.8 (Debian's 2.0.2) enables gzip and snappy only when ApiVersions advertises Produce v0-v2
    # (confluentinc/librdkafka#4956); Floe advertises Produce from v0, as Kafka 4 does (KAFKA-18659), while
    # refusing v0-v2 requests. This checks the batches really arrive compressed.
    def test_librdkafka_compresses_gzip_snappy(self):
        uncompressed = sum(len(v) for _, v, _ in messages(0))
        fetched = {}
        for n, codec in enumerate(("gzip", "snappy")):
            fetched[codec] = self.produce_and_read_back(codec, "compressed-" + codec, 1050 + n)
        print("Fetch response bytes per codec: %s (uncompressed %d)" % (fetched, uncompressed))
        for codec, n in fetched.items():
            self.assertLess(n, uncompressed // 2, "%s batches came back uncompressed" % codec)

    # librdkafka 2.0.2 enables lz4 only when the broker advertises FindCoordinator v0 (its "LZ4" feature dates
    # brokers by that API), which Floe does now that it serves consumer groups.
    def test_librdkafka_compresses_lz4(self):
        uncompressed = sum(len(v) for _, v, _ in messages(0))
        n = self.produce_and_read_back("lz4", "compressed-lz4", 1052)
        self.assertLess(n, uncompressed // 2, "lz4 batches came back uncompressed")

    @unittest.skipIf(kafka is None, "kafka-python is not installed for this python")
    def test_kafka_python_gzip(self):
        topic = "kafka-python-gzip"
        msgs = messages(1039)
        prod = kafka.KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", compression_type="gzip",
                                   linger_ms=10, request_timeout_ms=10000, max_block_ms=10000)
        try:
            futures = [prod.send(topic, value=v, key=k, headers=hd, partition=0) for k, v, hd in msgs]
            prod.flush(timeout=20)
            metas = [f.get(timeout=10) for f in futures]
        finally:
            prod.close(timeout=5)
        self.assertEqual([m.offset for m in metas], list(range(COUNT)))

        cons = kafka.KafkaConsumer(bootstrap_servers=self.broker.bootstrap, group_id=None,
                                   enable_auto_commit=False, consumer_timeout_ms=1000, request_timeout_ms=11000,
                                   session_timeout_ms=10000, fetch_max_wait_ms=200)
        try:
            tp = kafka.TopicPartition(topic, 0)
            cons.assign([tp])
            cons.seek_to_beginning(tp)
            got = []
            deadline = time.monotonic() + 20
            while len(got) < COUNT and time.monotonic() < deadline:
                for recs in cons.poll(timeout_ms=500, max_records=1000).values():
                    got += [(r.offset, r.key, r.value, [(hk, hv) for hk, hv in r.headers]) for r in recs]
        finally:
            cons.close()
        self.assertEqual([o for o, _, _, _ in got], list(range(COUNT)))
        self.assertTrue([(k, v, hd) for _, k, v, hd in got] == [(k, v, hd) for k, v, hd in msgs])

        # The gzip batches kafka-python wrote read back the same through librdkafka.
        got2 = consume_all(self.broker.bootstrap, topic, COUNT)
        self.assertTrue([(k, v, hd) for _, k, v, hd in got2] == [(k, v, hd) for k, v, hd in msgs])
        # kafka-python compresses by itself: the broker keeps the gzip batches, fetching them moves few bytes.
        before = fetch_response_bytes(self.broker)
        consume_all(self.broker.bootstrap, topic, COUNT)
        self.assertLess(fetch_response_bytes(self.broker) - before, sum(len(v) for _, v, _ in msgs) // 2)


if __name__ == "__main__":
    h.main()
