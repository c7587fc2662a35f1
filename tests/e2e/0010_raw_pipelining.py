#!/usr/bin/python3
"""Raw socket: several requests written at once come back in order with their own correlation ids."""
import time

import floe_harness as h


def expect_api_versions_ok(test, decoded):
    test.assertEqual(decoded["error_code"], h.ERR_NONE)
    keys = {k["api_key"]: (k["min_version"], k["max_version"]) for k in decoded["api_keys"]}
    test.assertEqual(keys.get(h.API_API_VERSIONS), (0, 4))
    test.assertEqual(keys.get(h.API_METADATA), (0, 12))


class RawPipelining(h.BrokerTestCase):
    broker_node_id = 21

    def test_mixed_requests_in_one_write(self):
        # (api key, version, correlation id): versions cover non-flexible and flexible headers on both APIs, and
        # correlation ids that are neither increasing nor positive.
        plan = [(h.API_API_VERSIONS, 0, 1000), (h.API_METADATA, 1, -5), (h.API_API_VERSIONS, 3, 7),
                (h.API_METADATA, 12, 2**31 - 1), (h.API_METADATA, 0, 0), (h.API_API_VERSIONS, 4, -2**31),
                (h.API_METADATA, 9, 42), (h.API_METADATA, 4, 41), (h.API_API_VERSIONS, 2, 40)]
        frames = []
        for key, version, corr in plan:
            body = h.api_versions_body(version) if key == h.API_API_VERSIONS else h.metadata_body(version)
            frames.append(h.encode_request(key, version, corr, body))
        with self.broker.connect() as c:
            c.send(b"".join(frames))
            for key, version, corr in plan:
                got, decoded = h.decode_response(key, version, c.recv_frame())
                self.assertEqual(got, corr, "response for %s" % ((key, version, corr),))
                if key == h.API_API_VERSIONS:
                    expect_api_versions_ok(self, decoded)
                else:
                    self.assertEqual([b["node_id"] for b in decoded["brokers"]], [21])
                    self.assertEqual(decoded["topics"], [])

    def test_many_pipelined_requests(self):
        n = 500
        frames = []
        for i in range(n):
            if i % 2:
                frames.append(h.encode_request(h.API_METADATA, 12, i, h.metadata_body(12, topics=["t%d" % i])))
            else:
                frames.append(h.encode_request(h.API_API_VERSIONS, 3, i, h.api_versions_body(3)))
        with self.broker.connect(timeout=20) as c:
            c.send(b"".join(frames))
            for i in range(n):
                key, version = (h.API_METADATA, 12) if i % 2 else (h.API_API_VERSIONS, 3)
                got, decoded = h.decode_response(key, version, c.recv_frame())
                self.assertEqual(got, i)
                if key == h.API_METADATA:
                    self.assertEqual([(t["name"], t["error_code"]) for t in decoded["topics"]],
                                     [("t%d" % i, h.ERR_UNKNOWN_TOPIC_OR_PARTITION)])

    def test_request_split_across_writes(self):
        # One frame dribbled a few bytes at a time, then two frames whose boundary falls mid-header.
        a = h.encode_request(h.API_METADATA, 12, 1, h.metadata_body(12, topics=["foo"]))
        b = h.encode_request(h.API_API_VERSIONS, 3, 2, h.api_versions_body(3))
        d = h.encode_request(h.API_METADATA, 2, 3, h.metadata_body(2))
        with self.broker.connect() as c:
            for i in range(0, len(a), 3):
                c.send(a[i:i + 3])
                time.sleep(0.002)  # pacing the writes so they arrive as separate segments, not synchronisation
            got, decoded = h.decode_response(h.API_METADATA, 12, c.recv_frame())
            self.assertEqual(got, 1)
            self.assertEqual(decoded["topics"][0]["name"], "foo")
            both = b + d
            cut = len(b) + 6
            c.send(both[:cut])
            c.send(both[cut:])
            self.assertEqual(h.decode_response(h.API_API_VERSIONS, 3, c.recv_frame())[0], 2)
            got, decoded = h.decode_response(h.API_METADATA, 2, c.recv_frame())
            self.assertEqual(got, 3)
            self.assertRegex(decoded["cluster_id"], r"^[A-Za-z0-9_-]{22}$")

    def test_connections_are_independent(self):
        # Two connections interleaving pipelined requests each get only their own responses.
        with self.broker.connect() as c1, self.broker.connect() as c2:
            for round_ in range(5):
                c1.send(b"".join(h.encode_request(h.API_API_VERSIONS, 0, 100 + round_ * 10 + i) for i in range(3)))
                c2.send(b"".join(h.encode_request(h.API_METADATA, 1, 200 + round_ * 10 + i, h.metadata_body(1))
                                 for i in range(3)))
                for i in range(3):
                    self.assertEqual(h.decode_response(h.API_METADATA, 1, c2.recv_frame())[0], 200 + round_ * 10 + i)
                    self.assertEqual(h.decode_response(h.API_API_VERSIONS, 0, c1.recv_frame())[0],
                                     100 + round_ * 10 + i)


if __name__ == "__main__":
    h.main()
