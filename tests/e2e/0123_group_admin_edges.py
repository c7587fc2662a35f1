#!/usr/bin/python3
"""Group admin edges, with confluent-kafka consumers and AdminClient.list_groups (ListGroups + DescribeGroups) and
raw requests where the python client has no API (DeleteGroups v0, ListGroups v4 with a states filter, OffsetFetch
v1/v2), checked against what Kafka answers:
  * two members subscribed: ListGroups lists the group as "consumer", ListGroups v4 says Stable (and the Empty
    filter leaves it out), DescribeGroups says Stable/range with both members, whose assignments split the topic;
  * DeleteGroups of a group with members -> NON_EMPTY_GROUP (68); of a group that never existed ->
    GROUP_ID_NOT_FOUND (69);
  * after both members close (LeaveGroup) the group is Empty and keeps its offsets; DeleteGroups then succeeds,
    the group is no longer listed, DescribeGroups says Dead, and its offsets are gone (-1);
  * OffsetFetch for a group that never existed: no error, no offsets (-1 for named partitions, an empty list
    for all-topics), and committed() says OFFSET_INVALID."""
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

TOPIC = "edges"
PARTITIONS = 4
GROUP = "floe-e2e-0123"

API_OFFSET_FETCH = 9
API_LIST_GROUPS = 16
API_DESCRIBE_GROUPS = 15
API_DELETE_GROUPS = 42
ERR_NON_EMPTY_GROUP = 68
ERR_GROUP_ID_NOT_FOUND = 69


def raw(conn, api_key, version, body, flexible=False):
    """Sends one request; returns a Reader positioned at the response body."""
    corr = conn.next_correlation_id()
    conn.send(h.encode_request(api_key, version, corr, body, header_version=2 if flexible else 1))
    got, r = h.decode_response_header(conn.recv_frame(), 1 if flexible else 0)
    if got != corr:
        raise AssertionError("correlation id %d, expected %d" % (got, corr))
    return r


def delete_groups(conn, groups):
    w = h.Writer().i32(len(groups))
    for g in groups:
        w.string(g)
    r = raw(conn, API_DELETE_GROUPS, 0, w.bytes())
    r.i32()  # throttle_time_ms
    out = dict(r.array(False, lambda: (r.string(), r.i16())))
    r.expect_end()
    return out


def list_groups_v4(conn, states):
    w = h.Writer().uvarint(len(states) + 1)
    for s in states:
        w.compact_string(s)
    w.tags()
    r = raw(conn, API_LIST_GROUPS, 4, w.bytes(), flexible=True)
    r.i32()  # throttle_time_ms
    err = r.i16()

    def group():
        g = (r.compact_string(), r.compact_string(), r.compact_string())
        r.tags()
        return g

    groups = r.array(True, group)
    r.tags()
    r.expect_end()
    return err, {g[0]: (g[1], g[2]) for g in groups}


def describe_groups_v0(conn, groups):
    """{group: (error_code, state, protocol_type, protocol, member count)}."""
    w = h.Writer().i32(len(groups))
    for g in groups:
        w.string(g)
    r = raw(conn, API_DESCRIBE_GROUPS, 0, w.bytes())

    def member():
        r.string(), r.string(), r.string()
        r.take(r.i32()), r.take(r.i32())

    def group():
        err, gid, state, ptype, proto = r.i16(), r.string(), r.string(), r.string(), r.string()
        n = len(r.array(False, member))
        return gid, (err, state, ptype, proto, n)

    out = dict(r.array(False, group))
    r.expect_end()
    return out


def offset_fetch(conn, group, topics, version):
    """topics: None (all, v2+) or {topic: [partitions]}. Returns (error_code, {(topic, p): (offset, error)})."""
    w = h.Writer().string(group)
    if topics is None:
        w.i32(-1)
    else:
        w.i32(len(topics))
        for t, parts in topics.items():
            w.string(t).i32(len(parts))
            for p in parts:
                w.i32(p)
    r = raw(conn, API_OFFSET_FETCH, version, w.bytes())
    out = {}

    def topic():
        name = r.string()

        def part():
            p, off, _meta, err = r.i32(), r.i64(), r.string(), r.i16()
            out[(name, p)] = (off, err)

        r.array(False, part)

    r.array(False, topic)
    err = r.i16() if version >= 2 else 0
    r.expect_end()
    return err, out


def parse_assignment(data):
    """ConsumerProtocolAssignment v0+: {topic: [partitions]}."""
    r = h.Reader(data)
    r.i16()
    return dict(r.array(False, lambda: (r.string(), r.array(False, r.i32))))


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class GroupAdminEdges(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false", "--offsets-topic-num-partitions", "5")

    def admin(self):
        return AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 10000})

    def describe(self, admin, group):
        found = [g for g in admin.list_groups(group=group, timeout=15) if g.id == group]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_group_lifecycle_edges(self):
        admin = self.admin()
        admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                            operation_timeout=10)[TOPIC].result(timeout=20)
        members = [Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                             "client.id": "edge-%d" % i, "enable.auto.commit": False,
                             "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
                             "socket.timeout.ms": 10000}) for i in range(2)]
        closed = [False, False]
        conn = self.broker.connect(timeout=10)
        self.addCleanup(conn.close)
        try:
            for c in members:
                c.subscribe([TOPIC])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for c in members:
                    c.consume(num_messages=10, timeout=0.1)
                if all(c.assignment() for c in members) and \
                        sum(len(c.assignment()) for c in members) == PARTITIONS:
                    break
            self.assertTrue(all(c.assignment() for c in members), "both members assigned")
            owned = {i: sorted(tp.partition for tp in c.assignment()) for i, c in enumerate(members)}
            self.assertEqual(sorted(owned[0] + owned[1]), list(range(PARTITIONS)))
            # Each member commits offset 10 + p for its partitions.
            for i, c in enumerate(members):
                res = c.commit(offsets=[TopicPartition(TOPIC, p, 10 + p) for p in owned[i]], asynchronous=False)
                self.assertTrue(all(tp.error is None for tp in res), res)

            # ListGroups (v0 through librdkafka, and v4 with states) and DescribeGroups.
            listed = {g.id: g for g in admin.list_groups(timeout=15)}
            self.assertIn(GROUP, listed)
            self.assertEqual(listed[GROUP].protocol_type, "consumer")
            err, by_state = list_groups_v4(conn, ["Stable"])
            self.assertEqual((err, by_state.get(GROUP)), (0, ("consumer", "Stable")))
            err, by_state = list_groups_v4(conn, ["Empty"])
            self.assertEqual(err, 0)
            self.assertNotIn(GROUP, by_state)
            err, everything = list_groups_v4(conn, [])
            self.assertEqual((err, everything.get(GROUP)), (0, ("consumer", "Stable")))

            g = self.describe(admin, GROUP)
            self.assertIsNone(g.error)
            self.assertEqual((g.state, g.protocol_type, g.protocol), ("Stable", "consumer", "range"))
            self.assertEqual(sorted(m.client_id for m in g.members), ["edge-0", "edge-1"])
            self.assertEqual(len({m.id for m in g.members}), 2)
            split = sorted(sorted(parse_assignment(m.assignment).get(TOPIC, [])) for m in g.members)
            self.assertEqual(split, sorted(owned.values()))

            # Non-empty group: not deleted. Unknown group: not found.
            self.assertEqual(delete_groups(conn, [GROUP]), {GROUP: ERR_NON_EMPTY_GROUP})
            self.assertEqual(delete_groups(conn, ["floe-e2e-0123-never"]),
                             {"floe-e2e-0123-never": ERR_GROUP_ID_NOT_FOUND})
            self.assertEqual(self.describe(admin, GROUP).state, "Stable")

            # Both leave: Empty, offsets kept.
            for i, c in enumerate(members):
                c.close()
                closed[i] = True
            h.wait_until(lambda: self.describe(admin, GROUP).state == "Empty", 10, what="the group to be Empty")
            self.assertEqual(self.describe(admin, GROUP).members, [])
            err, by_state = list_groups_v4(conn, ["Empty"])
            self.assertEqual(by_state.get(GROUP), ("consumer", "Empty"))
            want = {(TOPIC, p): (10 + p, 0) for p in range(PARTITIONS)}
            self.assertEqual(offset_fetch(conn, GROUP, None, 2), (0, want))

            # Now it can be deleted: gone from ListGroups, Dead, offsets gone.
            self.assertEqual(delete_groups(conn, [GROUP]), {GROUP: 0})
            self.assertNotIn(GROUP, {g.id for g in admin.list_groups(timeout=15)})
            self.assertNotIn(GROUP, list_groups_v4(conn, [])[1])
            # Kafka describes a group it does not have as Dead, with no error (librdkafka's list_groups then
            # leaves it out, hence the raw request).
            self.assertEqual(describe_groups_v0(conn, [GROUP]), {GROUP: (0, "Dead", "", "", 0)})
            self.assertEqual(offset_fetch(conn, GROUP, None, 2), (0, {}))
            self.assertEqual(offset_fetch(conn, GROUP, {TOPIC: list(range(PARTITIONS))}, 1),
                             (0, {(TOPIC, p): (-1, 0) for p in range(PARTITIONS)}))
            self.assertEqual(delete_groups(conn, [GROUP]), {GROUP: ERR_GROUP_ID_NOT_FOUND})
        finally:
            for i, c in enumerate(members):
                if not closed[i]:
                    c.close()

    def test_offset_fetch_unknown_group(self):
        admin = self.admin()
        admin.create_topics([NewTopic("edges-unknown", num_partitions=2, replication_factor=1)],
                            operation_timeout=10)["edges-unknown"].result(timeout=20)
        with self.broker.connect(timeout=10) as conn:
            self.assertEqual(offset_fetch(conn, "floe-e2e-0123-nobody", None, 2), (0, {}))
            self.assertEqual(offset_fetch(conn, "floe-e2e-0123-nobody", {"edges-unknown": [0, 1]}, 1),
                             (0, {("edges-unknown", 0): (-1, 0), ("edges-unknown", 1): (-1, 0)}))
            self.assertEqual(offset_fetch(conn, "floe-e2e-0123-nobody", {"edges-unknown": [0, 1]}, 2),
                             (0, {("edges-unknown", 0): (-1, 0), ("edges-unknown", 1): (-1, 0)}))
            self.assertEqual(describe_groups_v0(conn, ["floe-e2e-0123-nobody"]),
                             {"floe-e2e-0123-nobody": (0, "Dead", "", "", 0)})
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "floe-e2e-0123-nobody",
                      "enable.auto.commit": False, "socket.timeout.ms": 10000})
        try:
            res = c.committed([TopicPartition("edges-unknown", p) for p in range(2)], timeout=15)
        finally:
            c.close()
        self.assertEqual([(tp.partition, tp.offset, tp.error) for tp in res],
                         [(0, OFFSET_INVALID, None), (1, OFFSET_INVALID, None)])
        # Asking created no group.
        self.assertNotIn("floe-e2e-0123-nobody", {g.id for g in admin.list_groups(timeout=15)})


if __name__ == "__main__":
    h.main()
