#!/usr/bin/python3
"""Compaction on a running broker, for both WAL kinds: many small committed objects (one per produce round) are
merged in the background into few large ones (floe_compaction_* on /metrics), the replaced objects leave the bucket
after the GC grace, and every record reads back at its offset with its bytes, from objects (no log or block cache),
also after a restart."""
import glob
import os
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:  # pragma: no cover
    Consumer = None

TOPIC = "compacted"
PARTITIONS = 2
ROUNDS = 30
PER_ROUND = 20
TIMEOUT = 20


def data_objects(data_dir):
    return [p for p in glob.glob(os.path.join(data_dir, "objects", "data", "**", "*"), recursive=True)
            if os.path.isfile(p)]


def read_all(broker, expected):
    """Every partition from offset 0: {(partition, offset): value} must equal `expected`."""
    got = {}
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "compaction-check",
                  "enable.auto.commit": False, "max.partition.fetch.bytes": 4096})
    try:
        c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + TIMEOUT
        while len(got) < len(expected) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got[(m.partition(), m.offset())] = m.value()
    finally:
        c.close()
    return got


class Compaction(object):
    wal_args = ()

    def test_small_objects_are_merged_and_every_record_reads_back(self):
        args = self.wal_args + ("--num-partitions", str(PARTITIONS), "--compaction-interval-ms", "200",
                                "--compaction-min-objects", "4", "--object-gc-grace-ms", "500",
                                "--log-cache-bytes", "0", "--block-cache-bytes", "0")
        with h.Broker(args=args) as broker:
            p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
            expected = {}

            def delivered(err, msg):
                self.assertIsNone(err)
                expected[(msg.partition(), msg.offset())] = msg.value()

            for r in range(ROUNDS):  # each round's flush is acked once committed: one small object per round or so
                for i in range(PER_ROUND):
                    p.produce(TOPIC, value=b"round %03d record %03d " % (r, i) + os.urandom(64),
                              partition=i % PARTITIONS, on_delivery=delivered)
                self.assertEqual(p.flush(TIMEOUT), 0)
                time.sleep(0.06)  # past upload.ms / wal.flush.ms: the next round is another object
            self.assertEqual(len(expected), ROUNDS * PER_ROUND)
            h.wait_until(lambda: h.metric(broker, "floe_compaction_objects_merged_total") >= ROUNDS, TIMEOUT,
                         interval=0.2, what="compaction to merge the rounds' objects")
            h.wait_until(lambda: h.metric(broker, "floe_compaction_gc_deleted_objects_total") > 0, TIMEOUT,
                         interval=0.2, what="replaced objects deleted after the grace")
            merged = h.metric(broker, "floe_compaction_objects_merged_total")
            written = h.metric(broker, "floe_compaction_objects_written_total")
            committed = h.metric(broker, "floe_compaction_committed_objects")
            print("[figures] %s: %d objects merged into %d, %d committed objects now, %d data files in the bucket"
                  % (self.__class__.__name__, merged, written, committed, len(data_objects(broker.data_dir))))
            self.assertLess(committed, ROUNDS / 2)
            # Once the grace is over, the bucket holds the committed objects and nothing else.
            h.wait_until(lambda: len(data_objects(broker.data_dir)) <=
                         h.metric(broker, "floe_compaction_committed_objects"), TIMEOUT, interval=0.2,
                         what="the bucket to hold only committed objects")
            self.assertEqual(read_all(broker, expected), expected)
            broker.restart()
            self.assertEqual(read_all(broker, expected), expected, "after a restart, from the compacted metadata")


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class CompactionFileWal(Compaction, unittest.TestCase):
    wal_args = ("--upload-ms", "20")


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class CompactionObjectWal(Compaction, unittest.TestCase):
    wal_args = ("--wal", "object", "--wal-flush-ms", "20")


if __name__ == "__main__":
    h.main()
