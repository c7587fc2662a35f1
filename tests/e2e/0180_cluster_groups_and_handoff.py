#!/usr/bin/python3
"""Cluster mode (issue 7): graceful handoff and the group coordinator moving with its partition.
  1. A consumer group (confluent-kafka, 2 members, a synchronous commit every 10 records) consumes while its coordinator's broker is
     killed with kill -9: the group carries on from its committed offsets on the coordinator's new broker (every
     record consumed, few redelivered).
  2. Rolling restart: each broker in turn gets SIGTERM (it hands its partitions off: WAL committed, released) and
     starts again, under an idempotent acks=all producer: nothing fails, nothing acked is lost.
  3. Scale-out: a fourth broker joins and gets a share of the partitions.
"""
import signal
import threading
import time
import unittest

import cluster_harness as ch
import floe_harness as h

try:
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

TOPIC = "jobs"
PARTITIONS = 6
GROUP = "workers"


def led_by(admin, broker_id):
    """Partitions of every topic (__consumer_offsets included) whose leader is `broker_id`."""
    md = admin.list_topics(timeout=10)
    return sum(1 for t in md.topics.values() for pm in t.partitions.values() if pm.leader == broker_id)


def coordinator_of(admin, group, offsets_partitions=50):
    """The broker leading the group's __consumer_offsets partition (Kafka: abs(java hashCode) % partitions)."""
    hc = 0
    for ch_ in group:
        hc = (31 * hc + ord(ch_)) & 0xFFFFFFFF
    partition = (hc & 0x7FFFFFFF) % offsets_partitions
    md = admin.list_topics(topic="__consumer_offsets", timeout=10)
    return md.topics["__consumer_offsets"].partitions[partition].leader


def produce_all(bootstrap, values, errors):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                  "request.timeout.ms": 3000, "socket.timeout.ms": 3000, "message.timeout.ms": 60000})
    acked = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append((msg.partition(), msg.offset(), msg.value()))

    for v in values:
        while True:
            try:
                p.produce(TOPIC, value=v, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    remaining = p.flush(60)
    return acked, remaining


def high_watermark(consumer, p, timeout=30):
    """Retried while the partition is between owners (NOT_LEADER_OR_FOLLOWER until the new leader opened it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
        except Exception:
            if time.monotonic() > deadline:
                pm = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[p]
                print("partition %d: no leader serving it; metadata: leader %s error %s" % (p, pm.leader, pm.error))
                raise
            time.sleep(0.2)


class Member(threading.Thread):
    def __init__(self, bootstrap, seen, stop):
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False,
                           "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                           "heartbeat.interval.ms": 500, "topic.metadata.refresh.interval.ms": 500})
        self.seen = seen
        self.stop = stop
        self.commit_errors = 0

    def run(self):
        self.c.subscribe([TOPIC])
        try:
            while not self.stop.is_set():
                m = self.c.poll(0.2)
                if m is None or m.error() is not None:
                    continue
                self.seen.append(m.value())
                if len(self.seen) % 10:
                    continue  # a synchronous commit every 10 records (each waits for a durable WAL object)
                for _ in range(50):  # synchronous commit, retried while the coordinator moves (bounded)
                    try:
                        self.c.commit(message=m, asynchronous=False)
                        break
                    except Exception:
                        self.commit_errors += 1
                        time.sleep(0.1)
        finally:
            self.c.close()


class ClusterHandoffTest(unittest.TestCase):
    def test_groups_rolling_restart_scale_out(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        with ch.Cluster(brokers=3, session_timeout_ms=2000) as cluster:
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(20)
            h.wait_until(lambda: len(ch.leaders(admin, TOPIC)) == PARTITIONS, 20, interval=0.2, what="leaders")

            # 1. The group's coordinator dies.
            errors = []
            first = [b"a-%d" % i for i in range(2000)]
            acked, remaining = produce_all(cluster.bootstrap(), first, errors)
            self.assertEqual((remaining, errors), (0, []))
            seen, stop = [], threading.Event()
            members = [Member(cluster.bootstrap(), seen, stop) for _ in range(2)]
            for m in members:
                m.start()
            try:
                h.wait_until(lambda: len(seen) >= 500, 60, interval=0.1, what="the group consuming")
                coordinator = cluster.brokers[coordinator_of(admin, GROUP)]
                coordinator.stop(signal.SIGKILL)
                killed_at = time.monotonic()
                h.wait_until(lambda: len(set(seen)) >= len(first), 90, interval=0.2,
                             what="every record consumed across the coordinator's failover")
                print("group: consumed %d distinct of %d, %d deliveries, %d commit retries, done %.1f s after kill"
                      % (len(set(seen)), len(first), len(seen), sum(m.commit_errors for m in members),
                         time.monotonic() - killed_at))
            finally:
                stop.set()
                for m in members:
                    m.join(20)
            # Committed offsets carried on: at most what was in flight around the failover is redelivered.
            self.assertLess(len(seen) - len(set(seen)), 500)
            coordinator.start(timeout=30.0)

            # 2. Rolling restart under load.
            values = [b"r-%d" % i for i in range(100000)]
            result = {}
            producer = threading.Thread(
                target=lambda: result.update(zip(("acked", "remaining"),
                                                 produce_all(cluster.bootstrap(), values[:6000], errors))))
            producer.start()
            for node_id, b in sorted(cluster.brokers.items()):
                time.sleep(1.0)
                self.assertEqual(b.stop(signal.SIGTERM), 0, "broker %d did not exit cleanly" % node_id)
                self.assertIn("released", b.log_text())
                b.start(timeout=30.0)
                h.wait_until(lambda: len(ch.leaders(admin, TOPIC)) == PARTITIONS, 20, interval=0.2, what="leaders")
            producer.join(120)
            self.assertEqual(result.get("remaining"), 0)
            self.assertEqual(errors, [])
            rolled = result["acked"]

            # 3. Scale-out: broker 4 takes a share.
            cluster.add_broker(4)
            h.wait_until(lambda: led_by(admin, 4) >= 10, 30, interval=0.2, what="broker 4 leads a share of the partitions")
            print("scale-out: broker 4 leads %d partitions" % led_by(admin, 4))

            # Everything acked in the rolling restart is there.
            consumer = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "verify",
                                 "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 500})
            try:
                ends = {p: high_watermark(consumer, p) for p in range(PARTITIONS)}
                consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
                got = {}
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and len(got) < sum(ends.values()):
                    for m in consumer.consume(1000, timeout=1.0):
                        if m.error() is None:
                            got[(m.partition(), m.offset())] = m.value()
            finally:
                consumer.close()
            lost = [a for a in rolled + acked if got.get((a[0], a[1])) != a[2]]
            print("rolling restart: %d acked, %d read back, %d lost" % (len(rolled), len(got), len(lost)))
            self.assertEqual(lost[:5], [])


if __name__ == "__main__":
    h.main()
