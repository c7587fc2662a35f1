#!/usr/bin/python3
"""kafkajs (node) creates a 3-partition topic with admin.createTopics, sees it in listTopics, and produces keyed
messages with headers (acks -1); consuming with kafkajs needs consumer groups, so the data is read back with
confluent-kafka (assign, from the beginning): every message at the offset kafkajs was told, identical bytes."""
import json
import os
import shutil
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "kafkajs_produce.js")
MISSING = ("node is not installed" if NODE is None else
           "kafkajs is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "kafkajs", "package.json")) else
           "confluent_kafka is not installed for this python" if Consumer is None else None)

TOPIC = "kafkajs-data"
PARTITIONS = 3
COUNT = 3000


def expected(i):
    return (b"key-%d" % (i % 13), b"kafkajs message %d " % i + b"x" * (i % 50),
            [("i", b"%d" % i), ("source", b"kafkajs")])


@unittest.skipIf(MISSING, MISSING)
class KafkajsProduceConsume(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")

    def test_produce_then_read_with_librdkafka(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES, TOPIC, str(PARTITIONS), str(COUNT)],
                         timeout=60)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertIs(out["created"], True)
        self.assertIn(TOPIC, out["topics"])
        self.assertTrue(all(err == 0 for _, _, err in out["acks"]), out["acks"])

        # Message i went to partition i % 3 in send order, so partition p holds i = p, p+3, ... at offsets 0, 1, ...
        want = {p: [expected(i) for i in range(p, COUNT, PARTITIONS)] for p in range(PARTITIONS)}
        # kafkajs reported each batch's base offset: they are where the batches start, in order.
        bases = {p: [b for pp, b, _ in out["acks"] if pp == p] for p in range(PARTITIONS)}
        for p in range(PARTITIONS):
            self.assertEqual(bases[p], [len(range(p, start, PARTITIONS)) for start in range(0, COUNT, 100)],
                             "partition %d base offsets" % p)

        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "floe-e2e-0106-unused",
                      "enable.auto.commit": False, "enable.auto.offset.store": False, "socket.timeout.ms": 10000})
        try:
            for p in range(PARTITIONS):
                self.assertEqual(c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10), (0, len(want[p])))
            c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            got = {p: [] for p in range(PARTITIONS)}
            deadline = time.monotonic() + 20
            while sum(map(len, got.values())) < COUNT and time.monotonic() < deadline:
                for m in c.consume(num_messages=1000, timeout=0.5):
                    self.assertIsNone(m.error())
                    got[m.partition()].append((m.offset(), m.key(), m.value(), m.headers() or []))
        finally:
            c.close()
        for p in range(PARTITIONS):
            self.assertEqual([g[0] for g in got[p]], list(range(len(want[p]))), "partition %d offsets" % p)
            self.assertTrue([g[1:] for g in got[p]] == want[p], "partition %d content differs" % p)


if __name__ == "__main__":
    h.main()
