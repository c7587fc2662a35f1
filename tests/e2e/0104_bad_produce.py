#!/usr/bin/python3
"""Bad produce requests over a raw socket get Kafka's per-partition error codes, leave no data behind, and leave
the broker healthy for other clients (DESIGN §1.6): a record batch v2 with a wrong CRC -> CORRUPT_MESSAGE (2) for
its partition while the other partition of the same request is appended; a truncated batch -> 2 or INVALID_RECORD
(87); a batch over the topic's max.message.bytes -> MESSAGE_TOO_LARGE (10); a magic-1 message set ->
UNSUPPORTED_FOR_MESSAGE_FORMAT (43); acks=5 -> INVALID_REQUIRED_ACKS (21). Batches are built here by hand, CRC-32C
included."""
import struct
import time
import unittest
import uuid
import zlib

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

ERR_CORRUPT_MESSAGE = 2
ERR_MESSAGE_TOO_LARGE = 10
ERR_INVALID_REQUIRED_ACKS = 21
ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
ERR_INVALID_RECORD = 87


# -- record batch v2 ---------------------------------------------------------------------------------------------

crc32c, varint = h.crc32c, h.varint


def varbytes(b):
    return varint(-1) if b is None else varint(len(b)) + b


def record(offset_delta, key, value, headers=(), ts_delta=0):
    body = (b"\x00" + varint(ts_delta) + varint(offset_delta) + varbytes(key) + varbytes(value)
            + varint(len(headers)) + b"".join(varbytes(k.encode()) + varbytes(v) for k, v in headers))
    return varint(len(body)) + body


def record_batch(records, base_ts=None, count=None):
    """records: list of (key, value, headers). count overrides the record count field (for malformed batches)."""
    ts = int(time.time() * 1000) if base_ts is None else base_ts
    recs = b"".join(record(i, k, v, hd) for i, (k, v, hd) in enumerate(records))
    n = len(records) if count is None else count
    after_crc = (struct.pack(">hiqqqhii", 0, len(records) - 1, ts, ts, -1, -1, -1, n) + recs)
    crc = crc32c(after_crc)
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc  # partition leader epoch, magic, crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def with_bad_crc(batch):
    b = bytearray(batch)
    b[17] ^= 0x5A  # inside the CRC field (base offset 8, length 4, leader epoch 4, magic 1, crc 4)
    return bytes(b)


def magic1_message_set(key, value):
    body = struct.pack(">bbq", 1, 0, int(time.time() * 1000)) + struct.pack(">i", len(key)) + key \
        + struct.pack(">i", len(value)) + value
    msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
    return struct.pack(">qi", 0, len(msg)) + msg


# -- Produce v3 / v8 over a raw socket -------------------------------------------------------------------------

def produce_body(topics, acks=-1, timeout_ms=10000):
    """topics: {name: {partition: records bytes}}."""
    w = h.Writer().string(None).i16(acks).i32(timeout_ms).i32(len(topics))
    for name, parts in topics.items():
        w.string(name).i32(len(parts))
        for p, data in parts.items():
            w.i32(p).i32(len(data)).raw(data)
    return w.bytes()


def produce(conn, version, topics, acks=-1):
    """Returns {(topic, partition): (error_code, base_offset)}."""
    corr = conn.next_correlation_id()
    conn.send(h.encode_request(h.API_PRODUCE, version, corr, produce_body(topics, acks), header_version=1))
    r = h.Reader(conn.recv_frame(timeout=15))
    if r.i32() != corr:
        raise h.DecodeError("correlation id mismatch")
    out = {}
    for _ in range(r.i32()):
        name = r.string()
        for _ in range(r.i32()):
            p, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time_ms
            if version >= 5:
                r.i64()  # log_start_offset
            if version >= 8:
                for _ in range(r.i32()):  # record_errors
                    r.i32()
                    r.string()
                r.string()  # error_message
            out[(name, p)] = (err, base)
    r.i32()  # throttle_time_ms
    r.expect_end()
    return out


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class BadProduce(h.BrokerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap, "socket.timeout.ms": 10000})
        futs = admin.create_topics([NewTopic("two", num_partitions=2, replication_factor=1),
                                    NewTopic("small", num_partitions=1, replication_factor=1,
                                             config={"max.message.bytes": "1000"}),
                                    NewTopic("healthy", num_partitions=1, replication_factor=1)],
                                   operation_timeout=10)
        for f in futs.values():
            f.result(timeout=15)

    def conn(self):
        c = self.broker.connect(timeout=10)
        self.addCleanup(c.close)
        return c

    def end_offset(self, topic, partition):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "floe-e2e-0104-unused",
                      "enable.auto.commit": False, "socket.timeout.ms": 5000})
        try:
            return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        finally:
            c.close()

    def read(self, topic, partition, count, timeout_s=10):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "floe-e2e-0104-unused",
                      "enable.auto.commit": False, "enable.auto.offset.store": False, "socket.timeout.ms": 5000})
        try:
            c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            out = []
            deadline = time.monotonic() + timeout_s
            while len(out) < count and time.monotonic() < deadline:
                for m in c.consume(num_messages=100, timeout=0.3):
                    self.assertIsNone(m.error())
                    out.append((m.offset(), m.key(), m.value(), m.headers() or []))
            return out
        finally:
            c.close()

    def assert_healthy(self):
        """Another client's normal produce and consume still work."""
        self.assertTrue(self.broker.alive(), "the broker died")
        value = uuid.uuid4().hex.encode()
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "message.timeout.ms": 10000})
        acked = []
        p.produce("healthy", value=value, partition=0,
                  on_delivery=lambda err, msg: acked.append((err, msg.offset())))
        self.assertEqual(p.flush(15), 0)
        self.assertEqual(len(acked), 1)
        self.assertIsNone(acked[0][0])
        got = self.read("healthy", 0, acked[0][1] + 1)
        self.assertEqual(got[-1][:3], (acked[0][1], None, value))

    def test_good_batch_by_hand(self):
        """The hand-built batch itself is right: accepted, and read back by librdkafka."""
        with self.conn() as c:
            res = produce(c, 8, {"two": {0: record_batch([(b"k", b"by hand", [("h", b"1")])])}})
        err, base = res[("two", 0)]
        self.assertEqual(err, 0)
        got = self.read("two", 0, base + 1)
        self.assertEqual(got[base], (base, b"k", b"by hand", [("h", b"1")]))

    def test_bad_crc_fails_only_its_partition(self):
        for version in (3, 8):
            with self.subTest(version=version):
                before = (self.end_offset("two", 0), self.end_offset("two", 1))
                good = record_batch([(b"a", b"good v%d" % version, []), (b"b", b"good too", [])])
                bad = with_bad_crc(record_batch([(b"c", b"bad crc v%d" % version, [])]))
                with self.conn() as c:
                    res = produce(c, version, {"two": {0: good, 1: bad}})
                self.assertEqual(res[("two", 1)][0], ERR_CORRUPT_MESSAGE, res)
                self.assertEqual(res[("two", 0)], (0, before[0]), res)
                self.assertEqual(self.end_offset("two", 0), before[0] + 2)
                self.assertEqual(self.end_offset("two", 1), before[1])
                got = self.read("two", 0, before[0] + 2)
                self.assertEqual([g[2] for g in got[before[0]:]], [b"good v%d" % version, b"good too"])
                self.assert_healthy()

    def test_truncated_batch(self):
        batch = record_batch([(b"k%d" % i, b"value %d" % i * 10, []) for i in range(5)])
        before = self.end_offset("two", 1)
        cases = {
            "cut in the middle": batch[:len(batch) // 2],
            "cut inside the header": batch[:30],
            # Length and CRC right, but the record count says 6 where 5 records follow.
            "record count too high": record_batch([(b"k%d" % i, b"v", []) for i in range(5)], count=6),
            # The last record cut short (batch length and CRC recomputed over the shortened records).
            "last record cut": self._last_record_cut(),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                with self.conn() as c:
                    res = produce(c, 8, {"two": {1: data}})
                self.assertIn(res[("two", 1)][0], (ERR_CORRUPT_MESSAGE, ERR_INVALID_RECORD), res)
                self.assertEqual(self.end_offset("two", 1), before)
                self.assert_healthy()

    @staticmethod
    def _last_record_cut():
        ts = int(time.time() * 1000)
        recs = record(0, b"k", b"complete", ()) + record(1, b"k", b"this one is cut short", ())[:-6]
        after_crc = struct.pack(">hiqqqhii", 0, 1, ts, ts, -1, -1, -1, 2) + recs
        after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
        return struct.pack(">qi", 0, len(after_length)) + after_length

    def test_batch_over_max_message_bytes(self):
        with self.conn() as c:
            res = produce(c, 8, {"small": {0: record_batch([(None, b"x" * 2000, [])])}})
            self.assertEqual(res[("small", 0)][0], ERR_MESSAGE_TOO_LARGE, res)
            self.assertEqual(self.end_offset("small", 0), 0)
            res = produce(c, 8, {"small": {0: record_batch([(None, b"x" * 100, [])])}})
            self.assertEqual(res[("small", 0)], (0, 0), res)  # the same topic takes a small batch
        self.assertEqual(self.end_offset("small", 0), 1)
        self.assert_healthy()

    def test_magic1_message_set(self):
        before = self.end_offset("two", 0)
        with self.conn() as c:
            res = produce(c, 3, {"two": {0: magic1_message_set(b"k", b"an old message")}})
        self.assertEqual(res[("two", 0)][0], ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, res)
        self.assertEqual(self.end_offset("two", 0), before)
        self.assert_healthy()

    def test_invalid_required_acks(self):
        before = self.end_offset("two", 0)
        with self.conn() as c:
            res = produce(c, 8, {"two": {0: record_batch([(None, b"acks five", [])]),
                                         1: record_batch([(None, b"acks five", [])])}}, acks=5)
        self.assertEqual(res, {("two", 0): (ERR_INVALID_REQUIRED_ACKS, -1), ("two", 1): (ERR_INVALID_REQUIRED_ACKS, -1)})
        self.assertEqual(self.end_offset("two", 0), before)
        self.assert_healthy()


if __name__ == "__main__":
    h.main()
