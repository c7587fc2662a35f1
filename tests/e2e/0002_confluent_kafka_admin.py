#!/usr/bin/python3
"""confluent-kafka (librdkafka) AdminClient.list_topics() against a single floe broker."""
import re
import unittest

import floe_harness as h

try:
    from confluent_kafka.admin import AdminClient
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    AdminClient = None


@unittest.skipIf(AdminClient is None, "confluent_kafka is not installed for this python")
class ConfluentKafkaAdmin(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")  # unknown topics stay unknown
    broker_node_id = 3

    def admin(self):
        return AdminClient({"bootstrap.servers": self.broker.bootstrap, "client.id": "floe-e2e-0002",
                            "socket.timeout.ms": 10000})

    def test_list_topics_returns_broker_and_cluster_id(self):
        md = self.admin().list_topics(timeout=15)
        self.assertEqual(set(md.brokers), {3})
        b = md.brokers[3]
        self.assertEqual((b.id, b.host, b.port), (3, "127.0.0.1", self.broker.port))
        self.assertEqual(md.controller_id, 3)
        self.assertEqual(md.orig_broker_id, 3)
        self.assertRegex(md.cluster_id, r"^[A-Za-z0-9_-]{22}$")
        self.assertEqual(md.topics, {})
        # The same cluster id the broker logged at start.
        m = re.search(r"of cluster (\S+) listening", self.broker.log_text())
        self.assertIsNotNone(m, self.broker.log_text())
        self.assertEqual(md.cluster_id, m.group(1))

    def test_unknown_topic(self):
        md = self.admin().list_topics(topic="no-such-topic", timeout=15)
        t = md.topics["no-such-topic"]
        self.assertIsNotNone(t.error)
        self.assertEqual(t.error.name(), "UNKNOWN_TOPIC_OR_PART")
        self.assertEqual(t.partitions, {})

    def test_cluster_id_is_stable_across_clients(self):
        a = self.admin().list_topics(timeout=15).cluster_id
        b = self.admin().list_topics(timeout=15).cluster_id
        self.assertEqual(a, b)


if __name__ == "__main__":
    h.main()
