#!/usr/bin/python3
"""Idempotent producer state survives broker restarts through its snapshot (DESIGN §8), at the byte level (librdkafka
takes a new producer id after a restart, so only a raw Produce can retry the same batch): a producer's batches are
removed by retention, the broker restarts, and a retry of its last batch is still answered as a duplicate with the
original offset; a gap is refused (the producer is known); the next sequence is appended. Then after a kill -9:
the snapshot plus the log above it (from the WAL) still know all five batches of the window."""
import signal
import struct
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    AdminClient = None

TIMEOUT = 15
TOPIC = "idem"
PID, EPOCH = 4242, 0
ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45


crc32c, varint = h.crc32c, h.varint


def idempotent_batch(seq, value, ts):
    """A one-record batch v2 of producer PID/EPOCH at base sequence `seq`."""
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    rec = varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, ts, ts, PID, EPOCH, seq, 1) + rec
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def produce(broker, batch):
    """Produce v8, acks=all, one batch to partition 0: (error_code, base_offset, log_start_offset)."""
    w = h.Writer().string(None).i16(-1).i32(10000).i32(1).string(TOPIC).i32(1).i32(0).i32(len(batch)).raw(batch)
    conn = broker.connect(timeout=10)
    try:
        corr = conn.next_correlation_id()
        conn.send(h.encode_request(h.API_PRODUCE, 8, corr, w.bytes(), header_version=1))
        r = h.Reader(conn.recv_frame(timeout=TIMEOUT))
        assert r.i32() == corr
        assert r.i32() == 1 and r.string() == TOPIC and r.i32() == 1
        partition, err, base = r.i32(), r.i16(), r.i64()
        r.i64()  # log_append_time_ms
        start = r.i64()
        for _ in range(r.i32()):  # record_errors
            r.i32()
            r.string()
        r.string()  # error_message
        r.i32()  # throttle
        r.expect_end()
        assert partition == 0
        return err, base, start
    finally:
        conn.close()


@unittest.skipIf(AdminClient is None, "confluent_kafka is not installed for this python")
class IdempotentStateRestart(unittest.TestCase):
    def log_start(self, broker):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "socket.timeout.ms": 5000})
        try:
            return c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=TIMEOUT)[0]
        finally:
            c.close()

    def test_a_retry_after_restart_is_a_duplicate_though_its_batch_was_removed(self):
        args = ("--upload-ms", "50", "--log-retention-check-interval-ms", "200",
                "--producer-snapshot-interval-ms", "100")
        with h.Broker(args=args) as broker:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic(TOPIC, 1, 1, config={"retention.ms": "600000"})])[TOPIC].result(TIMEOUT)
            old = int(time.time() * 1000) - 3600 * 1000  # an hour old: retention removes these batches
            for seq in range(3):
                self.assertEqual(produce(broker, idempotent_batch(seq, b"v%d" % seq, old))[:2], (0, seq))
            h.wait_until(lambda: self.log_start(broker) == 3, 15.0, interval=0.2, what="retention to trim 0-2")

            broker.restart()  # a clean stop: its last snapshot pass covers everything committed
            self.assertEqual(produce(broker, idempotent_batch(2, b"v2", old)), (0, 2, 3), "a duplicate")
            err, _, _ = produce(broker, idempotent_batch(5, b"gap", old))
            self.assertEqual(err, ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)
            now = int(time.time() * 1000)
            self.assertEqual(produce(broker, idempotent_batch(3, b"v3", now))[:2], (0, 3))

            # kill -9: the last snapshot loads, and the log above it is replayed (from the WAL where not uploaded).
            self.assertEqual(produce(broker, idempotent_batch(4, b"v4", now))[:2], (0, 4))
            broker.stop(signal.SIGKILL)
            broker.start()
            self.assertEqual(produce(broker, idempotent_batch(4, b"v4", now))[:2], (0, 4), "a duplicate")
            self.assertEqual(produce(broker, idempotent_batch(2, b"v2", old))[:2], (0, 2), "still in the window")
            self.assertEqual(produce(broker, idempotent_batch(5, b"v5", now))[:2], (0, 5))


if __name__ == "__main__":
    h.main()
