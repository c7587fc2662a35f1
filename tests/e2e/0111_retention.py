#!/usr/bin/python3
"""Topic retention: retention.bytes and retention.ms move the log start past whole committed objects, and objects
that no partition references any more are deleted from the bucket (after the GC grace); a deleted topic's objects
go too."""
import os
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    AdminClient = None

TIMEOUT = 15


def objects_in(data_dir):
    # Not the file:// store's temporary files (.tmp/<pid>-<n>-<hex>.tmp, renamed into place when a PUT completes):
    # seen as a round's new object, the next round was produced before the upload and two rounds shared one block,
    # which retention.bytes then trimmed whole (the log start jumped to the end).
    root = os.path.join(data_dir, "objects")
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                  if not f.startswith(".") and not f.endswith(".tmp"))


@unittest.skipIf(AdminClient is None, "confluent_kafka is not installed for this python")
class Retention(h.BrokerTestCase):
    # No compaction: the rounds count uploaded objects one by one (0193 covers retention's objects after compaction).
    broker_args = ("--upload-ms", "50", "--log-retention-check-interval-ms", "200", "--object-gc-grace-ms", "300",
                   "--compaction-interval-ms", "0")

    def setUp(self):
        self.admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})

    def produce_rounds(self, topic, rounds, per_round=50):
        """Each round becomes its own uploaded object: the next round starts once a new object appeared.

        New by name, not by count: retention may delete an older object while a round uploads (keys are never
        reused, so a name not seen before is this round's upload)."""
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 0})
        for r in range(rounds):
            before = set(objects_in(self.broker.data_dir))
            for i in range(per_round):
                p.produce(topic, value=b"x" * 1000, key=b"%d-%d" % (r, i), partition=0)
            self.assertEqual(p.flush(TIMEOUT), 0)
            h.wait_until(lambda: set(objects_in(self.broker.data_dir)) - before, 10.0, what="round %d uploaded" % r)

    def watermarks(self, topic):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "unused"})
        try:
            return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT)
        finally:
            c.close()

    def test_retention_bytes_trims_and_deletes_objects(self):
        self.admin.create_topics([NewTopic("sized", 1, 1, config={"retention.bytes": "60000"})])["sized"].result(
            TIMEOUT)
        self.produce_rounds("sized", 6)  # ~6 x 50 KB objects
        h.wait_until(lambda: self.watermarks("sized")[0] > 0, 15.0, interval=0.2, what="the log start to move")
        low, high = self.watermarks("sized")
        self.assertEqual(high, 300)
        self.assertGreater(low, 0)
        self.assertLess(low, 300, "retention never trims what is not yet committed")
        # Consumers from the start now begin at the new log start.
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "g-sized",
                      "auto.offset.reset": "earliest"})
        try:
            c.assign([TopicPartition("sized", 0, 0)])
            first = None
            for _ in range(100):
                m = c.poll(0.2)
                if m is not None and not m.error():
                    first = m.offset()
                    break
            self.assertIsNotNone(first)
            self.assertGreaterEqual(first, low)
        finally:
            c.close()

    def test_deleted_topic_objects_are_collected(self):
        self.admin.create_topics([NewTopic("doomed", 1, 1)])["doomed"].result(TIMEOUT)
        before = set(objects_in(self.broker.data_dir))
        self.produce_rounds("doomed", 2)
        h.wait_until(lambda: len(set(objects_in(self.broker.data_dir)) - before) >= 1, 10.0, what="an upload")
        mine = set(objects_in(self.broker.data_dir)) - before
        self.admin.delete_topics(["doomed"])["doomed"].result(TIMEOUT)
        # Objects holding only the deleted topic's data disappear after the grace period.
        h.wait_until(lambda: not (mine & set(objects_in(self.broker.data_dir))), 15.0, interval=0.1,
                     what="the objects to be deleted")


if __name__ == "__main__":
    h.main()
