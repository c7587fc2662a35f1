#!/usr/bin/python3
"""Compaction in cluster mode: 3 brokers on etcd and moto with the object WAL. Only the controller compacts (the
other brokers' floe_compaction_objects_merged_total stay 0); it merges the small WAL objects every broker committed
into few large ones, the replaced objects are deleted after the GC grace, and every acked record reads back at its
offset from every partition's leader, whose block maps went stale (no log or block cache: each read GETs; a 404
re-reads the committed ranges from etcd, floe_compaction_stale_reads_total)."""
import time
import unittest

import cluster_harness as ch
import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

TOPIC = "cluster-compacted"
PARTITIONS = 6
ROUNDS = 25
TIMEOUT = 30


class ClusterCompactionTest(unittest.TestCase):
    def test_the_controller_compacts_and_every_leader_reads_back(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        extra = ("--compaction-interval-ms", "300", "--compaction-min-objects", "4", "--object-gc-grace-ms", "1000",
                 "--log-cache-bytes", "0", "--block-cache-bytes", "0")
        with ch.Cluster(brokers=3, session_timeout_ms=2000, extra_args=extra) as cluster:
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(20)
            p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 0,
                          "enable.idempotence": True})
            expected = {}

            def delivered(err, msg):
                self.assertIsNone(err)
                expected[(msg.partition(), msg.offset())] = msg.value()

            for r in range(ROUNDS):
                for part in range(PARTITIONS):
                    p.produce(TOPIC, value=b"r%03d p%d " % (r, part) + b"x" * 200, partition=part,
                              on_delivery=delivered)
                self.assertEqual(p.flush(TIMEOUT), 0)
                time.sleep(0.06)
            self.assertEqual(len(expected), ROUNDS * PARTITIONS)

            brokers = list(cluster.brokers.values())
            total = lambda name: sum(h.metric(b, name) for b in brokers)
            h.wait_until(lambda: total("floe_compaction_objects_merged_total") >= ROUNDS, TIMEOUT, interval=0.3,
                         what="the controller to merge the WAL objects")
            h.wait_until(lambda: total("floe_compaction_gc_deleted_objects_total") > 0, TIMEOUT, interval=0.3,
                         what="replaced objects deleted after the grace")
            compacting = [b.node_id for b in brokers if h.metric(b, "floe_compaction_objects_merged_total") > 0]
            self.assertEqual(len(compacting), 1, "one compactor (the controller): %s" % compacting)

            got = {}
            c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "check", "enable.auto.commit": False,
                          "max.partition.fetch.bytes": 2048})
            try:
                c.assign([TopicPartition(TOPIC, part, 0) for part in range(PARTITIONS)])
                deadline = time.monotonic() + TIMEOUT
                while len(got) < len(expected) and time.monotonic() < deadline:
                    m = c.poll(0.2)
                    if m is not None and not m.error():
                        got[(m.partition(), m.offset())] = m.value()
            finally:
                c.close()
            self.assertEqual(got, expected)
            print("[figures] controller %s: %d objects merged into %d, %d committed objects now; stale reads "
                  "re-read by the leaders: %d" % (compacting[0], total("floe_compaction_objects_merged_total"),
                                                  total("floe_compaction_objects_written_total"),
                                                  total("floe_compaction_committed_objects"),
                                                  total("floe_compaction_stale_reads_total")))


if __name__ == "__main__":
    h.main()
