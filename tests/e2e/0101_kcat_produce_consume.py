#!/usr/bin/python3
"""kcat produces 100,000 keyed messages with headers to a 3-partition topic (created with confluent-kafka's
AdminClient) and consumes each partition back with kcat -C -e: the content is byte-identical, every partition's
offsets are dense from 0, and each partition holds its keys' messages in the order they were produced."""
import os
import random
import shutil
import tempfile
import unittest

import floe_harness as h

try:
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    AdminClient = None

KCAT = shutil.which("kcat")
MISSING = ("kcat is not installed" if KCAT is None else
           "confluent_kafka is not installed for this python" if AdminClient is None else None)

TOPIC = "kcat-data"
PARTITIONS = 3
COUNT = 100_000
HEADERS = [("trace", "abc-123"), ("k", "v"), ("empty", "")]
SEP = "\x1f"  # unit separator: in no key, header or value below


def make_messages(seed=101):
    """(key, value) pairs: printable, no ':' (kcat's key delimiter), no newline, no SEP; every value unique."""
    rnd = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_=+.,;!?/"
    out = []
    for i in range(COUNT):
        key = "key-%d" % rnd.randrange(500)
        filler = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 120)))
        out.append((key, "v%06d|%s" % (i, filler)))
    return out


@unittest.skipIf(MISSING, MISSING)
class KcatProduceConsume(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")

    def test_produce_and_consume_100k(self):
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 10000})
        fut = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                                  operation_timeout=10)[TOPIC]
        fut.result(timeout=15)
        md = admin.list_topics(topic=TOPIC, timeout=15)
        self.assertEqual(sorted(md.topics[TOPIC].partitions), list(range(PARTITIONS)))

        messages = make_messages()
        tmp = tempfile.mkdtemp(prefix="floe-e2e-0101-")
        try:
            path = os.path.join(tmp, "input.txt")
            with open(path, "w") as f:
                for k, v in messages:
                    f.write("%s:%s\n" % (k, v))
            cmd = [KCAT, "-P", "-b", self.broker.bootstrap, "-t", TOPIC, "-K:", "-X", "acks=all",
                   "-X", "linger.ms=20"]
            for hk, hv in HEADERS:
                cmd += ["-H", "%s=%s" % (hk, hv)]
            r = h.run_client(cmd + ["-l", path], timeout=40)
            self.assertEqual(r.returncode, 0, "kcat -P failed:\n%s" % r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

        fmt = SEP.join(["%k", "%h", "%s", "%p", "%o"]) + "\n"
        expected_headers = ",".join("%s=%s" % hv for hv in HEADERS)
        seen = {}  # key -> partition
        got_by_partition = {}
        for p in range(PARTITIONS):
            r = h.run_client([KCAT, "-C", "-b", self.broker.bootstrap, "-t", TOPIC, "-p", str(p), "-o", "beginning",
                              "-e", "-q", "-f", fmt], timeout=40)
            self.assertEqual(r.returncode, 0, "kcat -C -p %d failed:\n%s" % (p, r.stderr))
            rows = []
            for line in r.stdout.split("\n")[:-1]:
                fields = line.split(SEP)
                self.assertEqual(len(fields), 5, repr(line))
                key, hdrs, value, part, off = fields
                self.assertEqual(hdrs, expected_headers, repr(line))
                self.assertEqual(int(part), p)
                rows.append((int(off), key, value))
                # librdkafka's partitioner is by key: one key never shows up in two partitions.
                self.assertEqual(seen.setdefault(key, p), p, "key %s in partitions %d and %d" % (key, seen[key], p))
            self.assertEqual([o for o, _, _ in rows], list(range(len(rows))), "offsets of partition %d not dense" % p)
            got_by_partition[p] = [(k, v) for _, k, v in rows]

        self.assertEqual(sum(len(v) for v in got_by_partition.values()), COUNT)
        for p, got in got_by_partition.items():
            self.assertGreater(len(got), 0, "partition %d got nothing" % p)
            want = [(k, v) for k, v in messages if seen.get(k) == p]
            self.assertEqual(len(got), len(want), "partition %d" % p)
            if got != want:
                i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
                self.fail("partition %d: content or order differs at offset %d: got %r, want %r"
                          % (p, i, got[i], want[i]))


if __name__ == "__main__":
    h.main()
