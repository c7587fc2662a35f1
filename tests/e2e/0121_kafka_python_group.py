#!/usr/bin/python3
"""kafka-python 2.0.2 with consumer groups: KafkaAdminClient creates a 3-partition topic and lists it; a
KafkaProducer (acks='all', gzip) sends keyed records; a KafkaConsumer in a group (enable_auto_commit=False) reads
every one of them byte for byte and commits synchronously; the group's committed offsets are the end offsets;
list_consumer_groups / describe_consumer_groups show the group (with its member while it is subscribed) and
list_consumer_group_offsets the commits; a second consumer of the same group later reads only newer records."""
import time
import unittest

import floe_harness as h

try:
    import kafka
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    kafka = None

TOPIC = "kp-group"
GROUP = "floe-e2e-0121"
PARTITIONS = 3
COUNT = 600


def record(i):
    return b"key-%d" % (i % 7), b"kafka-python gzip record %d " % i + b"z" * (i % 40)


@unittest.skipIf(kafka is None, "kafka-python is not installed for this python")
class KafkaPythonGroup(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")

    def admin(self):
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, client_id="floe-e2e-0121-admin",
                             request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
        self.addCleanup(a.close)
        return a

    def consumer(self):
        c = KafkaConsumer(TOPIC, bootstrap_servers=self.broker.bootstrap, group_id=GROUP,
                          client_id="floe-e2e-0121-consumer", enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=30000, session_timeout_ms=10000,
                          heartbeat_interval_ms=500, api_version_auto_timeout_ms=10000)
        self.addCleanup(c.close)
        return c

    def produce(self, start, count):
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", compression_type="gzip",
                          linger_ms=5, request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
        try:
            futures = [(i, p.send(TOPIC, key=record(i)[0], value=record(i)[1], partition=i % PARTITIONS))
                       for i in range(start, start + count)]
            p.flush(timeout=20)
            out = {}
            for i, f in futures:
                md = f.get(timeout=10)
                out[(md.partition, md.offset)] = record(i)
            return out
        finally:
            p.close(timeout=10)

    def poll_until(self, c, n, timeout_s=30):
        got = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < n and time.monotonic() < deadline:
            for tp, msgs in c.poll(timeout_ms=200, max_records=200).items():
                for m in msgs:
                    self.assertNotIn((m.partition, m.offset), got, "read twice")
                    got[(m.partition, m.offset)] = (m.key, m.value)
        return got

    def test_group_consume_commit_and_admin(self):
        a = self.admin()
        a.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)], timeout_ms=10000)
        self.assertIn(TOPIC, a.list_topics())

        produced = self.produce(0, COUNT)
        self.assertEqual(len(produced), COUNT)
        ends = {p: COUNT // PARTITIONS for p in range(PARTITIONS)}
        self.assertEqual(set(produced), {(p, o) for p in range(PARTITIONS) for o in range(ends[p])})

        c = self.consumer()
        got = self.poll_until(c, COUNT)
        self.assertEqual(got, produced)
        c.commit()
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        self.assertEqual(c.end_offsets(tps), {TopicPartition(TOPIC, p): ends[p] for p in range(PARTITIONS)})
        self.assertEqual({tp.partition: c.committed(tp) for tp in tps}, ends)
        self.assertEqual(c.assignment(), set(tps))

        # While the consumer is a member: the group is listed, Stable, with one member that owns all partitions.
        groups = a.list_consumer_groups()
        self.assertIn((GROUP, "consumer"), groups)
        [info] = a.describe_consumer_groups([GROUP])
        self.assertEqual((info.error_code, info.group, info.state, info.protocol_type),
                         (0, GROUP, "Stable", "consumer"))
        self.assertEqual(info.protocol, "range")
        self.assertEqual(len(info.members), 1, info.members)
        member = info.members[0]
        self.assertEqual(member.client_id, "floe-e2e-0121-consumer")
        self.assertEqual(sorted(member.member_assignment.partitions()), tps)
        self.assertEqual(list(member.member_metadata.subscription), [TOPIC])
        offsets = a.list_consumer_group_offsets(GROUP)
        self.assertEqual({tp.partition: om.offset for tp, om in offsets.items() if tp.topic == TOPIC}, ends)

        c.close()
        [info] = a.describe_consumer_groups([GROUP])
        self.assertEqual((info.error_code, info.state, info.members), (0, "Empty", []))

        # A new member resumes from the commits: only the newer records.
        newer = self.produce(COUNT, 90)
        self.assertTrue(all(o >= ends[p] for (p, o) in newer))
        c2 = self.consumer()
        got2 = self.poll_until(c2, len(newer))
        got2.update(self.poll_until(c2, 1, timeout_s=1.0))  # nothing else arrives
        self.assertEqual(got2, newer)
        c2.commit()
        self.assertEqual({tp.partition: c2.committed(tp) for tp in tps}, {p: ends[p] + 30 for p in range(PARTITIONS)})


if __name__ == "__main__":
    h.main()
