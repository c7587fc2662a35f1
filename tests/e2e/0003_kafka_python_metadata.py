#!/usr/bin/python3
"""kafka-python 2.0.2: KafkaAdminClient and KafkaClient bootstrap see the floe broker."""
import unittest

import floe_harness as h

try:
    import kafka
    from kafka import KafkaAdminClient, KafkaClient
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    kafka = None


@unittest.skipIf(kafka is None, "kafka-python is not installed for this python")
class KafkaPythonMetadata(h.BrokerTestCase):
    broker_node_id = 5

    def admin(self):
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, client_id="floe-e2e-0003",
                             request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
        self.addCleanup(a.close)
        return a

    def test_admin_describe_cluster(self):
        c = self.admin().describe_cluster()
        self.assertEqual(c["brokers"], [{"node_id": 5, "host": "127.0.0.1", "port": self.broker.port, "rack": None}])
        self.assertEqual(c["controller_id"], 5)
        self.assertRegex(c["cluster_id"], r"^[A-Za-z0-9_-]{22}$")

    def test_admin_lists_no_topics_and_unknown_topic(self):
        a = self.admin()
        self.assertEqual(a.list_topics(), [])
        [t] = a.describe_topics(["foo"])
        self.assertEqual((t["topic"], t["error_code"], t["partitions"]), ("foo", h.ERR_UNKNOWN_TOPIC_OR_PARTITION, []))

    def test_client_bootstrap_cluster_metadata(self):
        client = KafkaClient(bootstrap_servers=self.broker.bootstrap, client_id="floe-e2e-0003-client",
                             request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
        self.addCleanup(client.close)
        # The bootstrap already fetched metadata; ask once more and poll (bounded) until it lands.
        future = client.cluster.request_update()
        deadline_polls = 100
        for _ in range(deadline_polls):
            if future.is_done:
                break
            client.poll(timeout_ms=100)
        self.assertTrue(future.is_done and future.succeeded(), "metadata update: %r" % (future.exception,))
        brokers = client.cluster.brokers()
        self.assertEqual(len(brokers), 1, brokers)
        b = next(iter(brokers))
        self.assertEqual((b.nodeId, b.host, b.port), (5, "127.0.0.1", self.broker.port))
        self.assertEqual(client.cluster.controller.nodeId, 5)
        self.assertEqual(client.cluster.topics(), set())


if __name__ == "__main__":
    h.main()
