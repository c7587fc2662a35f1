#!/usr/bin/python3
"""DescribeLogDirs: @platformatic/kafka's Admin.describeLogDirs (v4; neither confluent-kafka 1.7 nor kafka-python 2.0.2
has it), then every version v0-v4 at the byte level. The broker reports one log dir (the shared storage), every
partition asked with its log's bytes (checked against the bytes a Fetch returns for the whole log), offset lag 0,
not future; total/usable bytes (v4) -1; null topics = every topic; unknown topics and partitions left out."""
import importlib.util
import json
import os
import shutil
import unittest

import floe_harness as h

try:
    from confluent_kafka import Producer
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Producer = None

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "platformatic_fetch_sessions.mjs")
MISSING = ("node is not installed" if NODE is None else
           "@platformatic/kafka is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "@platformatic", "kafka", "package.json")) else None)

_spec = importlib.util.spec_from_file_location("raw_fetch", os.path.join(h.HERE, "0141_raw_fetch_sessions.py"))
raw_fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(raw_fetch)

API_DESCRIBE_LOG_DIRS = 35
TOPIC = "log-dirs"


def describe_log_dirs(conn, version, topics):
    """topics: None (every topic) or [(name, [partitions])]. Returns (top error or None, [result dicts])."""
    flexible = version >= 2
    w = h.Writer()

    def count(n):
        if flexible:
            w.uvarint(n + 1)
        else:
            w.i32(n)

    if topics is None:
        w.uvarint(0) if flexible else w.i32(-1)
    else:
        count(len(topics))
        for name, parts in topics:
            w.compact_string(name) if flexible else w.string(name)
            count(len(parts))
            for p in parts:
                w.i32(p)
            if flexible:
                w.tags()
    if flexible:
        w.tags()
    corr = conn.next_correlation_id()
    conn.send(h.encode_request(API_DESCRIBE_LOG_DIRS, version, corr, w.bytes(), header_version=2 if flexible else 1))
    got, r = h.decode_response_header(conn.recv_frame(timeout=10), 1 if flexible else 0)
    assert got == corr
    assert r.i32() == 0  # throttle
    top_error = r.i16() if version >= 3 else None

    def partition():
        p = {"partition": r.i32(), "size": r.i64(), "offset_lag": r.i64(), "is_future": r.boolean()}
        if flexible:
            r.tags()
        return p

    def topic():
        t = {"name": r.str_(flexible), "partitions": r.array(flexible, partition)}
        if flexible:
            r.tags()
        return t

    def result():
        res = {"error": r.i16(), "log_dir": r.str_(flexible), "topics": r.array(flexible, topic)}
        if version >= 4:
            res["total_bytes"] = r.i64()
            res["usable_bytes"] = r.i64()
        if flexible:
            r.tags()
        return res

    results = r.array(flexible, result)
    if flexible:
        r.tags()
    r.expect_end()
    return top_error, results


class DescribeLogDirs(h.BrokerTestCase):

    def log_bytes(self, conn, topic, partition):
        """Bytes of the partition's whole log, as a sessionless Fetch from offset 0 returns them."""
        out = raw_fetch.fetch(conn, 12, 0, -1, [(topic, [(partition, 0)])])
        p = out["partitions"][(topic, partition)]
        self.assertEqual(p["error"], 0)
        return p["bytes"]

    @unittest.skipIf(MISSING, MISSING)
    def test_platformatic_admin(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES, TOPIC, "logdirs"], timeout=60)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertNotIn("failure", out)
        with self.broker.connect(timeout=10) as conn:
            sizes = [self.log_bytes(conn, TOPIC, p) for p in (0, 1)]
        self.assertTrue(all(s > 0 for s in sizes), sizes)
        (broker,) = out["logDirs"]
        (result,) = broker["results"]
        self.assertEqual((result["logDir"], result["totalBytes"], result["usableBytes"]), ("objects", -1, -1))
        self.assertEqual(result["topics"], [{"name": TOPIC, "partitions": [
            {"partition": 0, "size": sizes[0], "offsetLag": 0, "isFuture": False},
            {"partition": 1, "size": sizes[1], "offsetLag": 0, "isFuture": False}]}])

    @unittest.skipIf(Producer is None, "confluent_kafka is not installed for this python")
    def test_raw_every_version(self):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 0,
                      "message.timeout.ms": 10000})
        for i in range(5):
            p.produce("raw-log-dirs", value=b"x" * (100 + i), partition=0)
            p.flush(10)
        self.assertEqual(p.flush(10), 0)
        with self.broker.connect(timeout=10) as conn:
            size = self.log_bytes(conn, "raw-log-dirs", 0)
            for version in range(0, 5):
                with self.subTest(version=version):
                    top, results = describe_log_dirs(conn, version, [("raw-log-dirs", [0, 7]), ("no-such-topic", [0])])
                    self.assertEqual(top, 0 if version >= 3 else None)
                    (res,) = results
                    self.assertEqual((res["error"], res["log_dir"]), (0, "objects"))
                    # Partition 7 and the unknown topic are not here, so they are left out.
                    self.assertEqual(res["topics"], [{"name": "raw-log-dirs", "partitions": [
                        {"partition": 0, "size": size, "offset_lag": 0, "is_future": False}]}])
                    if version >= 4:
                        self.assertEqual((res["total_bytes"], res["usable_bytes"]), (-1, -1))
                    # Null topics: every topic, every partition.
                    _, (every,) = describe_log_dirs(conn, version, None)
                    names = [t["name"] for t in every["topics"]]
                    self.assertIn("raw-log-dirs", names)
                    self.assertEqual(names, sorted(names))
                    # An empty list asks for nothing.
                    _, (none,) = describe_log_dirs(conn, version, [])
                    self.assertEqual(none["topics"], [])
            # The size follows the log.
            p.produce("raw-log-dirs", value=b"y" * 1000, partition=0)
            self.assertEqual(p.flush(10), 0)
            grown = self.log_bytes(conn, "raw-log-dirs", 0)
            self.assertGreater(grown, size + 1000)
            _, (res,) = describe_log_dirs(conn, 4, [("raw-log-dirs", [0])])
            self.assertEqual(res["topics"][0]["partitions"][0]["size"], grown)

    @unittest.skipIf(Producer is None, "confluent_kafka is not installed for this python")
    def test_log_larger_than_the_sample(self):
        """A log bigger than what the broker reads to size it (1 MiB) is sized by extrapolation: with batches of
        one size, to within 1% of the real bytes."""
        topic = "big-log-dirs"
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 0,
                      "message.timeout.ms": 20000})
        for i in range(24):
            p.produce(topic, value=bytes([i]) * 100_000, partition=0)
            self.assertEqual(p.flush(20), 0)
        with self.broker.connect(timeout=10) as conn:
            real, offset, hw = 0, 0, None
            for _ in range(100):  # bounded: each fetch returns at least one batch
                out = raw_fetch.fetch(conn, 12, 0, -1, [(topic, [(0, offset)])])
                part = out["partitions"][(topic, 0)]
                hw = part["hw"]
                if offset >= hw:
                    break
                real += part["bytes"]
                offset = part["batches"][-1][1] + 1
            self.assertEqual((offset, hw), (24, 24))
            self.assertGreater(real, 2 * 1024 * 1024)
            _, (res,) = describe_log_dirs(conn, 4, [(topic, [0])])
            size = res["topics"][0]["partitions"][0]["size"]
            self.assertLess(abs(size - real), real / 100, "estimated %d bytes, the log holds %d" % (size, real))


if __name__ == "__main__":
    h.main()
