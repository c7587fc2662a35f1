#!/usr/bin/python3
"""Raw socket: Metadata v0-12 decode exactly (no trailing bytes) with the broker, cluster id and topic errors."""
import re
import uuid

import floe_harness as h


class RawMetadataVersions(h.BrokerTestCase):
    broker_node_id = 9
    broker_args = ("--zone", "az-1", "--auto-create-topics-enable", "false")  # named topics stay unknown

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = re.search(r"of cluster (\S+) listening", cls.broker.log_text())
        cls.cluster_id = m.group(1) if m else None

    def test_all_topics_every_version(self):
        with self.broker.connect() as c:
            for version in range(0, 13):
                with self.subTest(version=version):
                    _, md = c.request(h.API_METADATA, version, h.metadata_body(version))
                    expected_broker = {"node_id": 9, "host": "127.0.0.1", "port": self.broker.port}
                    if version >= 1:
                        expected_broker["rack"] = "az-1"
                        self.assertEqual(md["controller_id"], 9)
                    self.assertEqual(md["brokers"], [expected_broker])
                    if version >= 2:
                        self.assertIsNotNone(self.cluster_id)
                        self.assertEqual(md["cluster_id"], self.cluster_id)
                    if version >= 3:
                        self.assertEqual(md["throttle_time_ms"], 0)
                    self.assertEqual(md["topics"], [])

    def test_named_topics_every_version(self):
        names = ["foo", "a.b_c-d", "x" * 249, "bad name!", "x" * 250, "..", "."]
        expected = [h.ERR_UNKNOWN_TOPIC_OR_PARTITION] * 3 + [h.ERR_INVALID_TOPIC_EXCEPTION] * 4
        with self.broker.connect() as c:
            for version in range(0, 13):
                with self.subTest(version=version):
                    _, md = c.request(h.API_METADATA, version, h.metadata_body(version, topics=names))
                    self.assertEqual([(t["name"], t["error_code"]) for t in md["topics"]],
                                     list(zip(names, expected)))
                    for t in md["topics"]:
                        self.assertEqual(t["partitions"], [])
                        if version >= 1:
                            self.assertFalse(t["is_internal"])
                        if version >= 10:
                            self.assertEqual(t["topic_id"], uuid.UUID(int=0))

    def test_empty_topic_list_means_no_topics_from_v1(self):
        with self.broker.connect() as c:
            for version in range(1, 13):
                with self.subTest(version=version):
                    _, md = c.request(h.API_METADATA, version, h.metadata_body(version, topics=[]))
                    self.assertEqual(md["topics"], [])
                    self.assertEqual(len(md["brokers"]), 1)

    def test_topic_by_id_only_is_unknown_topic_id(self):
        # v12 is the first version in which Kafka accepts a topic asked by id (v10-11 carry the field only).
        tid = uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100")
        with self.broker.connect() as c:
            _, md = c.request(h.API_METADATA, 12, h.metadata_body(12, topics=["foo"], topic_ids=[tid]))
            self.assertEqual([(t["name"], t["topic_id"], t["error_code"]) for t in md["topics"]],
                             [("foo", uuid.UUID(int=0), h.ERR_UNKNOWN_TOPIC_OR_PARTITION),
                              (None, tid, h.ERR_UNKNOWN_TOPIC_ID)])

    def test_null_client_id(self):
        with self.broker.connect() as c:
            c.send(h.encode_request(h.API_METADATA, 12, 77, h.metadata_body(12), client_id=None))
            corr, md = h.decode_response(h.API_METADATA, 12, c.recv_frame())
            self.assertEqual(corr, 77)
            self.assertEqual(len(md["brokers"]), 1)


if __name__ == "__main__":
    h.main()
