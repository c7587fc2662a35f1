#!/usr/bin/python3
"""Incremental fetch sessions (KIP-227) at the byte level, Fetch v12 (topics by name) and v13 (by id).

No client on this machine drives incremental fetches (librdkafka 2.0.2, kafkajs and kafka-python 2.0.2 send
session 0 / epoch -1; @platformatic/kafka sends 0 / 0 on every fetch and ignores the session it gets), so the
protocol is spoken here by hand: a full fetch creates a session -> an incremental fetch with no changes answers no
partitions -> records produced to one partition -> the next incremental fetch answers that partition only, with
the new records -> a replayed epoch gets INVALID_FETCH_SESSION_EPOCH -> the session goes on over another
connection -> a v13 request in a v12 session gets FETCH_SESSION_TOPIC_ID_ERROR -> an incremental fetch parked in a
long poll is woken by a produce -> epoch -1 closes the session (then FETCH_SESSION_ID_NOT_FOUND). Then a v13
session by topic id, closed by forgetting its only partition."""
import struct
import unittest

import floe_harness as h

try:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Producer = None

API_FETCH = 1
ERR_FETCH_SESSION_ID_NOT_FOUND = 70
ERR_INVALID_FETCH_SESSION_EPOCH = 71
ERR_FETCH_SESSION_TOPIC_ID_ERROR = 106
TOPIC = "sessions"


def fetch_body(version, session_id, epoch, topics, forgotten=(), max_wait_ms=0, min_bytes=1):
    """topics: [(name or uuid, [(partition, fetch_offset)])]; forgotten: [(name or uuid, [partitions])].
    v12 names topics, v13+ gives their ids."""
    w = h.Writer().i32(-1).i32(max_wait_ms).i32(min_bytes).i32(1 << 20).i8(0).i32(session_id).i32(epoch)

    def topic_ref(t):
        if version >= 13:
            w.uuid(t)
        else:
            w.compact_string(t)

    w.uvarint(len(topics) + 1)
    for t, parts in topics:
        topic_ref(t)
        w.uvarint(len(parts) + 1)
        for p, offset in parts:
            # partition, current leader epoch, fetch offset, last fetched epoch, log start offset, max bytes
            w.i32(p).i32(-1).raw(struct.pack(">q", offset)).i32(-1).raw(struct.pack(">q", -1)).i32(1 << 20).tags()
        w.tags()
    w.uvarint(len(forgotten) + 1)
    for t, parts in forgotten:
        topic_ref(t)
        w.uvarint(len(parts) + 1)
        for p in parts:
            w.i32(p)
        w.tags()
    w.compact_string("")  # rack id
    w.tags()
    return w.bytes()


def batches_of(records):
    """[(first offset, last offset)] of the record batches in a records blob."""
    out, pos = [], 0
    while pos + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        (last_delta,) = struct.unpack_from(">i", records, pos + 23)
        out.append((base, base + last_delta))
        pos += 12 + length
    return out


def fetch(conn, version, session_id, epoch, topics, forgotten=(), max_wait_ms=0, timeout=10):
    """One raw Fetch. Returns {"error", "session_id", "partitions": {(topic, p): {...}}} in response order."""
    corr = conn.next_correlation_id()
    body = fetch_body(version, session_id, epoch, topics, forgotten, max_wait_ms)
    conn.send(h.encode_request(API_FETCH, version, corr, body, header_version=2))
    got, r = h.decode_response_header(conn.recv_frame(timeout=timeout), 1)
    assert got == corr, (got, corr)
    r.i32()  # throttle
    out = {"error": r.i16(), "session_id": r.i32(), "partitions": {}, "order": []}

    def aborted():
        txn = (r.i64(), r.i64())
        r.tags()
        return txn

    for _ in range(r.uvarint() - 1):
        t = r.uuid() if version >= 13 else r.compact_string()
        for _ in range(r.uvarint() - 1):
            p = {"partition": r.i32(), "error": r.i16(), "hw": r.i64(), "lso": r.i64(), "log_start": r.i64()}
            r.array(True, aborted)
            r.i32()  # preferred read replica
            n = r.uvarint()
            records = r.take(n - 1) if n else b""
            r.tags()
            p["batches"] = batches_of(records)
            p["bytes"] = len(records)
            out["partitions"][(t, p["partition"])] = p
            out["order"].append((t, p["partition"]))
        r.tags()
    r.tags()
    r.expect_end()
    return out


def topic_id(conn, name):
    corr = conn.next_correlation_id()
    conn.send(h.encode_request(h.API_METADATA, 12, corr, h.metadata_body(12, [name])))
    _, md = h.decode_response(h.API_METADATA, 12, conn.recv_frame(timeout=10))
    (t,) = md["topics"]
    assert t["error_code"] == 0, t
    return t["topic_id"]


@unittest.skipIf(Producer is None, "confluent_kafka is not installed for this python")
class RawFetchSessions(h.BrokerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap, "socket.timeout.ms": 10000})
        for name, future in admin.create_topics([NewTopic(TOPIC, 2, 1), NewTopic(TOPIC + "-ids", 1, 1)]).items():
            future.result(15)
        cls.producer = Producer({"bootstrap.servers": cls.broker.bootstrap, "acks": "all", "linger.ms": 0,
                                 "message.timeout.ms": 10000})

    def produce(self, topic, partition, n):
        errors = []
        for i in range(n):
            self.producer.produce(topic, value=b"v%d" % i, partition=partition,
                                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        self.assertEqual(self.producer.flush(10), 0)
        self.assertEqual(errors, [])

    def test_session_by_name(self):
        self.produce(TOPIC, 0, 3)
        with self.broker.connect(timeout=10) as conn:
            # Full fetch that creates a session: every partition is answered.
            full = fetch(conn, 12, 0, 0, [(TOPIC, [(0, 0), (1, 0)])])
            self.assertEqual(full["error"], 0)
            sid = full["session_id"]
            self.assertNotEqual(sid, 0, "a full fetch with epoch 0 must create a session")
            self.assertEqual(full["order"], [(TOPIC, 0), (TOPIC, 1)])
            p0 = full["partitions"][(TOPIC, 0)]
            self.assertEqual((p0["error"], p0["hw"]), (0, 3))
            self.assertEqual(p0["batches"][-1][1], 2)

            # The client moves partition 0 to offset 3: nothing is new, so no partition is answered.
            inc = fetch(conn, 12, sid, 1, [(TOPIC, [(0, 3)])])
            self.assertEqual((inc["error"], inc["session_id"], inc["order"]), (0, sid, []))
            inc = fetch(conn, 12, sid, 2, [])
            self.assertEqual((inc["error"], inc["session_id"], inc["order"]), (0, sid, []))

            # Records on partition 1 only: the incremental fetch answers partition 1, from offset 0 (the offset the
            # session remembers), with the new records.
            self.produce(TOPIC, 1, 2)
            inc = fetch(conn, 12, sid, 3, [])
            self.assertEqual((inc["error"], inc["session_id"]), (0, sid))
            self.assertEqual(inc["order"], [(TOPIC, 1)])
            p1 = inc["partitions"][(TOPIC, 1)]
            self.assertEqual((p1["error"], p1["hw"], p1["lso"], p1["log_start"]), (0, 2, 2, 0))
            self.assertEqual([b[0] for b in p1["batches"]][:1], [0])
            self.assertEqual(p1["batches"][-1][1], 1)

            # A replayed epoch is refused, and does not use up the next one.
            bad = fetch(conn, 12, sid, 3, [])
            self.assertEqual((bad["error"], bad["session_id"], bad["order"]), (ERR_INVALID_FETCH_SESSION_EPOCH, 0, []))
            bad = fetch(conn, 12, sid, 99, [])
            self.assertEqual(bad["error"], ERR_INVALID_FETCH_SESSION_EPOCH)

        # Sessions belong to the broker, not to a connection.
        with self.broker.connect(timeout=10) as conn:
            inc = fetch(conn, 12, sid, 4, [(TOPIC, [(1, 2)])])
            self.assertEqual((inc["error"], inc["session_id"], inc["order"]), (0, sid, []))
            # The same session asked by id (v13) is refused: it was made by name.
            bad = fetch(conn, 13, sid, 5, [])
            self.assertEqual(bad["error"], ERR_FETCH_SESSION_TOPIC_ID_ERROR)

            # An incremental fetch parks in a long poll and is woken by a produce to a session partition.
            corr = conn.next_correlation_id()
            conn.send(h.encode_request(API_FETCH, 12, corr, fetch_body(12, sid, 5, [], max_wait_ms=5000),
                                       header_version=2))
            self.produce(TOPIC, 0, 1)
            got, r = h.decode_response_header(conn.recv_frame(timeout=10), 1)
            self.assertEqual(got, corr)
            r.i32()
            self.assertEqual((r.i16(), r.i32()), (0, sid))
            self.assertEqual(r.uvarint() - 1, 1)  # one topic
            self.assertEqual(r.compact_string(), TOPIC)
            self.assertEqual(r.uvarint() - 1, 1)  # one partition: 0, which got the record
            self.assertEqual(r.i32(), 0)

            # Epoch -1 closes the session; the request itself is answered in full, without a session.
            close = fetch(conn, 12, sid, -1, [(TOPIC, [(0, 3)])])
            self.assertEqual((close["error"], close["session_id"]), (0, 0))
            self.assertEqual(close["partitions"][(TOPIC, 0)]["batches"][0][0], 3)
            gone = fetch(conn, 12, sid, 6, [])
            self.assertEqual((gone["error"], gone["session_id"]), (ERR_FETCH_SESSION_ID_NOT_FOUND, 0))
            # An incremental fetch without a session id is refused the same way.
            self.assertEqual(fetch(conn, 12, 0, 1, [])["error"], ERR_FETCH_SESSION_ID_NOT_FOUND)
            # Sessionless fetches (0, -1) go on as before.
            plain = fetch(conn, 12, 0, -1, [(TOPIC, [(1, 0)])])
            self.assertEqual((plain["error"], plain["session_id"]), (0, 0))
            self.assertEqual(plain["partitions"][(TOPIC, 1)]["hw"], 2)

    def test_session_by_topic_id(self):
        name = TOPIC + "-ids"
        self.produce(name, 0, 2)
        with self.broker.connect(timeout=10) as conn:
            tid = topic_id(conn, name)
            full = fetch(conn, 13, 0, 0, [(tid, [(0, 0)])])
            self.assertEqual(full["error"], 0)
            sid = full["session_id"]
            self.assertNotEqual(sid, 0)
            self.assertEqual(full["order"], [(tid, 0)])
            self.assertEqual(full["partitions"][(tid, 0)]["hw"], 2)
            inc = fetch(conn, 13, sid, 1, [(tid, [(0, 2)])])
            self.assertEqual((inc["error"], inc["session_id"], inc["order"]), (0, sid, []))
            self.produce(name, 0, 1)
            inc = fetch(conn, 13, sid, 2, [])
            self.assertEqual(inc["order"], [(tid, 0)])
            self.assertEqual(inc["partitions"][(tid, 0)]["batches"][0][0], 2)
            # The v12 form of the same session is refused.
            self.assertEqual(fetch(conn, 12, sid, 3, [])["error"], ERR_FETCH_SESSION_TOPIC_ID_ERROR)
            # Forgetting its only partition (by id) ends the session.
            last = fetch(conn, 13, sid, 3, [], forgotten=[(tid, [0])])
            self.assertEqual((last["error"], last["session_id"], last["order"]), (0, 0, []))
            self.assertEqual(fetch(conn, 13, sid, 4, [])["error"], ERR_FETCH_SESSION_ID_NOT_FOUND)


if __name__ == "__main__":
    h.main()
