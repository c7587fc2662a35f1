#!/usr/bin/python3
"""confluent-kafka AdminClient: create, describe, alter and delete topics and configs; grow partitions; delete
records; describe the cluster."""
import struct
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions, NewTopic)
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    AdminClient = None

TIMEOUT = 15
API_DELETE_RECORDS = 21


@unittest.skipIf(AdminClient is None, "confluent_kafka is not installed for this python")
class AdminTopicsConfigs(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")
    broker_node_id = 5

    def setUp(self):
        # One client per test: a future outlives nothing if its client is garbage-collected first.
        self._admin = AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 10000})

    def admin(self):
        return self._admin

    def create(self, name, partitions=1, config=None):
        fs = self.admin().create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                  config=config or {})])
        fs[name].result(TIMEOUT)

    def describe(self, name):
        fs = self.admin().describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)])
        return {k: v for k, v in list(fs.values())[0].result(TIMEOUT).items()}

    def test_create_describe_alter_delete(self):
        self.create("cfg-topic", 2, {"retention.ms": "3600000"})
        md = self.admin().list_topics(topic="cfg-topic", timeout=TIMEOUT)
        self.assertEqual(len(md.topics["cfg-topic"].partitions), 2)
        configs = self.describe("cfg-topic")
        self.assertEqual(configs["retention.ms"].value, "3600000")
        self.assertFalse(configs["retention.ms"].is_default)
        self.assertEqual(configs["cleanup.policy"].value, "delete")
        self.assertTrue(configs["cleanup.policy"].is_default)

        res = ConfigResource(ConfigResource.Type.TOPIC, "cfg-topic", set_config={"max.message.bytes": "2000"})
        list(self.admin().alter_configs([res]).values())[0].result(TIMEOUT)
        configs = self.describe("cfg-topic")
        self.assertEqual(configs["max.message.bytes"].value, "2000")
        # AlterConfigs replaces the overrides: retention.ms is back to its default.
        self.assertTrue(configs["retention.ms"].is_default)

        self.admin().create_partitions([NewPartitions("cfg-topic", 4)])["cfg-topic"].result(TIMEOUT)
        md = self.admin().list_topics(topic="cfg-topic", timeout=TIMEOUT)
        self.assertEqual(len(md.topics["cfg-topic"].partitions), 4)

        self.admin().delete_topics(["cfg-topic"])["cfg-topic"].result(TIMEOUT)
        md = self.admin().list_topics(timeout=TIMEOUT)
        self.assertNotIn("cfg-topic", md.topics)

    def test_invalid_requests_name_the_problem(self):
        fs = self.admin().create_topics([NewTopic("bad-cfg", 1, 1, config={"retention.ms": "soon"})])
        with self.assertRaises(Exception) as e:
            fs["bad-cfg"].result(TIMEOUT)
        self.assertIn("retention.ms", str(e.exception))
        fs = self.admin().create_topics([NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact"})])
        with self.assertRaises(Exception) as e:
            fs["compacted"].result(TIMEOUT)
        self.assertIn("not supported", str(e.exception))
        self.create("twice")
        with self.assertRaises(Exception) as e:
            self.admin().create_topics([NewTopic("twice", 1, 1)])["twice"].result(TIMEOUT)
        self.assertIn("TOPIC_ALREADY_EXISTS", str(e.exception))
        with self.assertRaises(Exception):
            self.admin().create_partitions([NewPartitions("twice", 1)])["twice"].result(TIMEOUT)

    def test_broker_configs_are_readable_and_static(self):
        fs = self.admin().describe_configs([ConfigResource(ConfigResource.Type.BROKER, "5")])
        configs = list(fs.values())[0].result(TIMEOUT)
        self.assertEqual(configs["auto.create.topics.enable"].value, "false")
        self.assertTrue(configs["num.partitions"].is_read_only)
        res = ConfigResource(ConfigResource.Type.BROKER, "5", set_config={"num.partitions": "3"})
        with self.assertRaises(Exception) as e:
            list(self.admin().alter_configs([res]).values())[0].result(TIMEOUT)
        self.assertIn("static", str(e.exception))

    def test_delete_records_moves_the_log_start(self):
        self.create("trimmed")
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all"})
        for i in range(10):
            p.produce("trimmed", value=b"m%d" % i, partition=0)
        self.assertEqual(p.flush(TIMEOUT), 0)
        # confluent-kafka 1.7 has no delete_records: a raw DeleteRecords v0 request.
        body = (h.Writer().i32(1).string("trimmed").i32(1).i32(0).raw(struct.pack(">q", 4)).i32(5000)).bytes()
        conn = h.KafkaConn(self.broker.port)
        try:
            corr = 77
            conn.send(h.encode_request(API_DELETE_RECORDS, 0, corr, body))
            r = h.Reader(conn.recv_frame(TIMEOUT))
            self.assertEqual(r.i32(), corr)
            r.i32()  # throttle
            self.assertEqual(r.i32(), 1)
            self.assertEqual(r.str_(False), "trimmed")
            self.assertEqual(r.i32(), 1)
            self.assertEqual((r.i32(), r.i64(), r.i16()), (0, 4, 0))  # partition, low watermark, no error
        finally:
            conn.close()
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "unused", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        try:
            low, high = c.get_watermark_offsets(TopicPartition("trimmed", 0), timeout=TIMEOUT)
            self.assertEqual((low, high), (4, 10))
            c.assign([TopicPartition("trimmed", 0, 4)])
            values = []
            for _ in range(100):
                m = c.poll(0.2)
                if m is not None and not m.error():
                    values.append(m.value())
                if len(values) == 6:
                    break
            self.assertEqual(values, [b"m%d" % i for i in range(4, 10)])
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
