"""AlterPartitionReassignments v0 (flexible) as raw bytes: the Debian Kafka clients (confluent-kafka 1.7,
kafka-python 2.0) have no admin call for it. Stdlib only; runs under /usr/bin/python3."""

import floe_harness as h

API_ALTER_REASSIGNMENTS = 45
ERR_NOT_CONTROLLER = 41
ERR_INVALID_REPLICA_ASSIGNMENT = 39
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_INVALID_REQUEST = 42
ERR_NO_REASSIGNMENT_IN_PROGRESS = 85


def alter_reassignments(broker, moves):
    """Raw AlterPartitionReassignments v0 (flexible). moves: [(topic, partition, replicas or None)].
    Returns (top error, {(topic, partition): (error, message)})."""
    w = h.Writer().i32(10000)
    by_topic = {}
    for t, p, replicas in moves:
        by_topic.setdefault(t, []).append((p, replicas))
    w.uvarint(len(by_topic) + 1)
    for t, parts in by_topic.items():
        w.compact_string(t)
        w.uvarint(len(parts) + 1)
        for p, replicas in parts:
            w.i32(p)
            if replicas is None:
                w.uvarint(0)
            else:
                w.uvarint(len(replicas) + 1)
                for r in replicas:
                    w.i32(r)
            w.tags()
        w.tags()
    w.tags()
    with h.KafkaConn(broker.port) as c:
        corr = c.next_correlation_id()
        c.send(h.encode_request(API_ALTER_REASSIGNMENTS, 0, corr, w.bytes(), header_version=2))
        got, r = h.decode_response_header(c.recv_frame(), 1)
    assert got == corr
    r.i32()  # throttle
    top = r.i16()
    r.compact_string()
    out = {}

    def partition(topic):
        idx, err, msg = r.i32(), r.i16(), r.compact_string()
        r.tags()
        out[(topic, idx)] = (err, msg)

    def topic():
        name = r.compact_string()
        r.array(True, lambda: partition(name))
        r.tags()

    r.array(True, topic)
    r.tags()
    r.expect_end()
    return top, out
