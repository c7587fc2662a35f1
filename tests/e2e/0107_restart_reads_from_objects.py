#!/usr/bin/python3
"""Committed data is read back from object storage: produce to 2 partitions, wait (bounded) until the last record
of every partition is in a segment object under <data-dir>/objects/data/, stop the broker, restart it on the same
data dir with --log-cache-bytes 0 (no tail cache), and read everything back, from the beginning and from the
middle, byte-identical at the same offsets; then produce and read more on top. /metrics shows those reads served
from objects, through the block cache (hits once blocks are read again)."""
import glob
import os
import random
import shutil
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

TOPIC = "from-objects"
PARTITIONS = 2
COUNT = 4000


def records(seed):
    rnd = random.Random(seed)
    return [(b"k%d" % (i % 17), b"objects record %06d " % i + bytes(rnd.randrange(256) for _ in range(rnd.randrange(200))),
             [("n", b"%d" % i)]) for i in range(COUNT)]


def produce(bootstrap, recs, first_index=0):
    """Record i to partition i % PARTITIONS, acks=all. Returns {(partition, offset): record}."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "message.timeout.ms": 15000})
    acked = {}
    errors = []
    by_value = {}

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[(msg.partition(), msg.offset())] = by_value[msg.value()]

    for i, rec in enumerate(recs, first_index):
        by_value[rec[1]] = rec
        p.produce(TOPIC, key=rec[0], value=rec[1], headers=rec[2], partition=i % PARTITIONS, on_delivery=report)
        p.poll(0)
    assert p.flush(20) == 0, "not flushed"
    assert not errors, errors[:5]
    return acked


def read(bootstrap, starts, ends, timeout_s=20):
    """{(p, offset): (key, value, headers)} for offsets starts[p] <= offset < ends[p]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-e2e-0107-unused", "enable.auto.commit": False,
                  "enable.auto.offset.store": False, "socket.timeout.ms": 10000})
    try:
        c.assign([TopicPartition(TOPIC, p, starts[p]) for p in starts])
        need = sum(ends[p] - starts[p] for p in starts)
        out = {}
        deadline = time.monotonic() + timeout_s
        while len(out) < need and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError("consume error: %s" % m.error())
                if m.offset() < ends[m.partition()]:
                    out[(m.partition(), m.offset())] = (m.key(), m.value(), m.headers() or [])
        return out
    finally:
        c.close()


def in_objects(data_dir, needles):
    """True when every needle occurs in some object file under objects/data/."""
    left = set(needles)
    for path in glob.glob(os.path.join(data_dir, "objects", "data", "**", "*"), recursive=True):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            continue
        left = {n for n in left if n not in blob}
        if not left:
            return True
    return False


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class RestartReadsFromObjects(unittest.TestCase):
    def test_restart_without_log_cache_reads_objects(self):
        first = h.Broker(args=("--num-partitions", str(PARTITIONS), "--upload-ms", "100"))
        second = None
        try:
            first.start()
            recs = records(107)
            acked = produce(first.bootstrap, recs)
            self.assertEqual(len(acked), COUNT)
            last = {p: recs[max(i for i in range(COUNT) if i % PARTITIONS == p)][1] for p in range(PARTITIONS)}
            h.wait_until(lambda: in_objects(first.data_dir, list(last.values())), 20,
                         interval=0.1, what="the last record of every partition in objects/data/")
            self.assertEqual(first.stop(), 0)

            second = h.Broker(args=("--log-cache-bytes", "0"), data_dir=first.data_dir)
            second.start()
            ends = {p: COUNT // PARTITIONS for p in range(PARTITIONS)}
            got = read(second.bootstrap, {p: 0 for p in range(PARTITIONS)}, ends)
            self.assertEqual(sorted(got), sorted(acked), "offsets read back differ from those acked")
            bad = [k for k in acked if got[k] != acked[k]]
            self.assertEqual(bad, [], "records differ at %s" % bad[:10])
            # From the middle of the objects too.
            mid = {p: COUNT // PARTITIONS // 2 + 7 for p in range(PARTITIONS)}
            got_mid = read(second.bootstrap, mid, ends)
            self.assertEqual(got_mid, {k: v for k, v in acked.items() if k[1] >= mid[k[0]]})
            # Those reads came from objects (no log cache), and the second pass over the same blocks from the
            # block cache, which stays within its bound.
            self.assertGreater(h.metric(second, "floe_log_reads_total", source="objects"), 0)
            self.assertGreater(h.metric(second, "floe_block_cache_lookups_total", result="hit"), 0)
            cached = h.metric(second, "floe_block_cache_bytes")
            self.assertGreater(cached, 0)
            self.assertLessEqual(cached, h.metric(second, "floe_block_cache_limit_bytes"))

            # New data lands after the old, and both read back together.
            more = records(1107)[:200]
            more = [(k, b"after restart " + v, hd) for k, v, hd in more]
            acked2 = produce(second.bootstrap, more)
            self.assertEqual(sorted(acked2), sorted((p, ends[p] + j) for p in range(PARTITIONS) for j in range(100)))
            got_all = read(second.bootstrap, {p: 0 for p in range(PARTITIONS)}, {p: ends[p] + 100 for p in ends})
            self.assertEqual(got_all, {**acked, **acked2})
            self.assertTrue(second.alive())
        except BaseException:
            import sys
            for b in (first, second):
                if b is not None:
                    sys.stderr.write("---- floe log (%s) ----\n%s---- end ----\n" % (b.log_path, b.log_text()[-20000:]))
            raise
        finally:
            for b in (second, first):
                if b is not None:
                    b.stop()
            if second is not None:
                second.cleanup()
            first.cleanup()


if __name__ == "__main__":
    h.main()
