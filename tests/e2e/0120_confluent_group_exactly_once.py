#!/usr/bin/python3
"""A confluent-kafka consumer group on a 6-partition topic processes every record exactly once with respect to
committed offsets, through a member leaving and a member joining, and the group's offsets survive a restart.

Setup: an idempotent acks=all producer writes records in three phases (PHASE records each, record i to partition
i % 6); members 0, 1, 2 subscribe. Each member loops consume(batch) -> synchronous commit of, per partition, the
batch's highest offset + 1. Phase 1: all three consume until the group's commits reach the end offsets. Phase 2:
member 0 consumes one batch, does NOT commit it and close()s (LeaveGroup); members 1 and 2 take its partitions.
Phase 3: member 3 joins; the group drains again. Then every member closes.

Every consume and every commit outcome is stamped from one global sequence (taken after the call returned), so
the log orders them conservatively: a commit is logged after it was acknowledged, a consumption after the record
was handed to the application.

The check, precisely:
  (a) at least once: every produced (partition, offset) was consumed by some member;
  (b) nothing is consumed after a commit covering it: for each consumption of (p, o), no successful commit of
      (p, c) with c > o was logged before it (stamping commits late and consumptions late can only hide a
      violation, never invent one);
  (c) exactly once w.r.t. commits: each record belongs to exactly one *committed* consumption, i.e. a batch whose
      own commit for that partition succeeded. Duplicates therefore exist only for consumptions that were never
      committed (the leaver's last batch, or a batch whose commit failed in a rebalance), and
  (d) the leaver's uncommitted batch is non-empty and every record of it was consumed again by another member;
  (e) the group's committed offsets (OffsetFetch by a non-member) equal the end offsets.
Then the broker is restarted on the same data dir: committed() is unchanged, and a new member of the group
consumes exactly the records produced after the restart, nothing older."""
import itertools
import threading
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

TOPIC = "eo-group"
GROUP = "floe-e2e-0120"
PARTITIONS = 6
PHASE = 1000
BATCH = 25
PHASE_TIMEOUT_S = 25


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.seq = itertools.count()
        self.consumed = []   # (seq, member, batch_id, partition, offset)
        self.commits = []    # (seq, member, batch_id, partition, committed_offset, ok, error)
        self.assigned = {}   # member -> current assignment (set of partitions)
        self.errors = []     # (member, what)
        self.uncommitted_leave = []  # (partition, offset) the leaver consumed and never committed
        self.batch_ids = itertools.count()

    def stamp(self):
        return next(self.seq)

    def committed_max(self):
        """partition -> highest successfully committed offset (from the log)."""
        with self.lock:
            out = {}
            for _, _, _, p, c, ok, _ in self.commits:
                if ok:
                    out[p] = max(out.get(p, 0), c)
            return out


class Member(threading.Thread):
    def __init__(self, member_id, bootstrap, log):
        super().__init__(name="member-%d" % member_id, daemon=True)
        self.member_id = member_id
        self.log = log
        self.stop_flag = threading.Event()
        self.leave_now = threading.Event()
        self.left = threading.Event()
        self.exc = None
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": "floe-e2e-0120-m%d" % member_id,
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 300, "socket.timeout.ms": 10000, "fetch.wait.max.ms": 100,
        })

    def _on_assign(self, consumer, parts):
        with self.log.lock:
            self.log.assigned[self.member_id] = {tp.partition for tp in parts}

    def _on_revoke(self, consumer, parts):
        with self.log.lock:
            self.log.assigned[self.member_id] = set()

    def run(self):
        try:
            self._run()
        except BaseException as e:  # surfaced by the test thread
            self.exc = e
        finally:
            if not self.left.is_set():
                self.consumer.close()
                self.left.set()

    def _run(self):
        log = self.log
        self.consumer.subscribe([TOPIC], on_assign=self._on_assign, on_revoke=self._on_revoke)
        deadline = time.monotonic() + 120
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            msgs = self.consumer.consume(num_messages=BATCH, timeout=0.1)
            good = []
            for m in msgs:
                if m.error() is not None:
                    with log.lock:
                        log.errors.append((self.member_id, str(m.error())))
                    continue
                good.append(m)
            if not good:
                continue
            leaving = self.leave_now.is_set()
            with log.lock:
                bid = next(log.batch_ids)
                s = log.stamp()
                for m in good:
                    log.consumed.append((s, self.member_id, bid, m.partition(), m.offset()))
                if leaving:
                    log.uncommitted_leave.extend((m.partition(), m.offset()) for m in good)
            if leaving:
                # Processed but never committed: another member must get these again.
                self.consumer.close()
                self.left.set()
                return
            tops = {}
            for m in good:
                tops[m.partition()] = max(tops.get(m.partition(), -1), m.offset() + 1)
            offsets = [TopicPartition(TOPIC, p, o) for p, o in sorted(tops.items())]
            try:
                res = self.consumer.commit(offsets=offsets, asynchronous=False)
                outcome = {tp.partition: (tp.error is None, str(tp.error) if tp.error else None) for tp in res}
            except KafkaException as e:
                outcome = {p: (False, str(e)) for p in tops}
            with log.lock:
                s = log.stamp()
                for p, c in tops.items():
                    ok, err = outcome.get(p, (False, "partition missing from the commit result"))
                    log.commits.append((s, self.member_id, bid, p, c, ok, err))


def close_quietly(c):
    try:
        c.close()
    except RuntimeError:  # already closed
        pass


def wait_until(pred, timeout, what):
    return h.wait_until(pred, timeout, interval=0.05, what=what)


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class ConfluentGroupExactlyOnce(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")

    def produce(self, start, count):
        """Records start..start+count-1 (value b"v<i>", partition i % 6); returns {(p, offset): i}."""
        acked, failed = {}, []

        def cb(err, msg):
            if err is not None:
                failed.append(err)
            else:
                acked[(msg.partition(), msg.offset())] = int(msg.value()[1:])

        p = Producer({"bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 15000, "on_delivery": cb})
        for i in range(start, start + count):
            p.produce(TOPIC, value=b"v%d" % i, key=b"k%d" % i, partition=i % PARTITIONS)
            p.poll(0)
        self.assertEqual(p.flush(20), 0, "not every record was delivered")
        self.assertEqual(failed, [])
        self.assertEqual(len(acked), count)
        return acked

    def end_offsets(self, c):
        return {p: c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in range(PARTITIONS)}

    def checker(self, group=GROUP):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                      "socket.timeout.ms": 10000})
        self.addCleanup(close_quietly, c)
        return c

    def committed(self, c):
        res = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=15)
        for tp in res:
            self.assertIsNone(tp.error, tp)
        return {tp.partition: tp.offset for tp in res}

    def test_group_exactly_once_then_restart(self):
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 10000})
        fut = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                                  operation_timeout=10)
        fut[TOPIC].result(timeout=20)

        log = Log()
        members = {i: Member(i, self.broker.bootstrap, log) for i in range(3)}
        produced = {}
        try:
            for m in members.values():
                m.start()
            probe = self.checker("floe-e2e-0120-probe")

            def drained():
                ends = self.end_offsets(probe)
                cm = log.committed_max()
                return all(cm.get(p, 0) == ends[p] for p in range(PARTITIONS))

            # Phase 1: three members, one generation (they join within the initial rebalance delay).
            produced.update(self.produce(0, PHASE))
            wait_until(drained, PHASE_TIMEOUT_S, "phase 1 committed to the end")
            wait_until(lambda: all(len(log.assigned.get(i, ())) == 2 for i in range(3)), PHASE_TIMEOUT_S,
                       "2 partitions per member (%r)" % log.assigned)

            # Phase 2: member 0 takes one more batch without committing it and leaves.
            members[0].leave_now.set()
            produced.update(self.produce(PHASE, PHASE))
            wait_until(members[0].left.is_set, PHASE_TIMEOUT_S, "member 0 to leave")
            members[0].join(10)
            self.assertIsNone(members[0].exc)
            wait_until(drained, PHASE_TIMEOUT_S, "phase 2 committed to the end")
            wait_until(lambda: sorted(len(log.assigned.get(i, ())) for i in (1, 2)) == [3, 3], PHASE_TIMEOUT_S,
                       "members 1, 2 sharing 6 partitions (%r)" % log.assigned)

            # Phase 3: member 3 joins; the group rebalances over three members again.
            members[3] = Member(3, self.broker.bootstrap, log)
            members[3].start()
            wait_until(lambda: all(len(log.assigned.get(i, ())) == 2 for i in (1, 2, 3)), PHASE_TIMEOUT_S,
                       "2 partitions per member after member 3 joined (%r)" % log.assigned)
            produced.update(self.produce(2 * PHASE, PHASE))
            wait_until(drained, PHASE_TIMEOUT_S, "phase 3 committed to the end")
        finally:
            for m in members.values():
                m.stop_flag.set()
            for m in members.values():
                m.join(15)
        for i, m in members.items():
            self.assertFalse(m.is_alive(), "member %d did not stop" % i)
            self.assertIsNone(m.exc, "member %d: %r" % (i, m.exc))
        self.assertEqual(log.errors, [])

        # Produced offsets are dense per partition.
        ends = {p: sum(1 for (pp, _) in produced if pp == p) for p in range(PARTITIONS)}
        self.assertEqual(set(produced), {(p, o) for p in range(PARTITIONS) for o in range(ends[p])})

        consumed = log.consumed
        commits = log.commits
        # (a) at least once.
        seen = {(p, o) for _, _, _, p, o in consumed}
        self.assertEqual(set(produced) - seen, set(), "records never consumed")
        # (b) nothing consumed after a successful commit covering it.
        events = sorted([(s, "commit", p, c) for s, _, _, p, c, ok, _ in commits if ok] +
                        [(s, "consume", p, o) for s, _, _, p, o in consumed])
        high = {}
        violations = []
        for s, kind, p, x in events:
            if kind == "commit":
                high[p] = max(high.get(p, 0), x)
            elif x < high.get(p, 0):
                violations.append((s, p, x, high[p]))
        self.assertEqual(violations, [], "records consumed after a commit covering them (seq, p, offset, committed)")
        # (c) exactly one committed consumption per record.
        ok_commit = {(bid, p) for _, _, bid, p, _, ok, _ in commits if ok}
        committed_count = {}
        for _, member, bid, p, o in consumed:
            if (bid, p) in ok_commit:
                committed_count[(p, o)] = committed_count.get((p, o), 0) + 1
        not_once = {k: committed_count.get(k, 0) for k in produced if committed_count.get(k, 0) != 1}
        self.assertEqual(not_once, {}, "records not committed exactly once: {(p, offset): times}")
        # (d) the leaver's uncommitted batch was redelivered to another member.
        self.assertTrue(log.uncommitted_leave, "member 0 left without an uncommitted batch")
        redelivered = {(p, o) for _, member, _, p, o in consumed if member != 0}
        self.assertEqual(set(log.uncommitted_leave) - redelivered, set())
        self.assertTrue(any(member == 3 for _, member, _, _, _ in consumed), "member 3 consumed nothing")
        dup = len(consumed) - len(seen)
        failed_commits = sum(1 for c in commits if not c[5])
        print("consumed %d records (%d duplicates, leaver's uncommitted batch %d), %d commits, %d failed"
              % (len(consumed), dup, len(log.uncommitted_leave), len(commits), failed_commits), flush=True)
        # (e) the group's committed offsets are the end offsets.
        c = self.checker()
        self.assertEqual(self.end_offsets(c), ends)
        before = self.committed(c)
        self.assertEqual(before, ends)
        self.doCleanups()

        # Restart on the same data dir: the offsets are unchanged, and a new member resumes from them.
        self.broker.restart()
        c = self.checker()
        self.assertEqual(self.committed(c), before)
        newer = self.produce(3 * PHASE, 60)
        self.assertTrue(all(o >= ends[p] for (p, o) in newer), newer)
        resumed = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                            "enable.auto.commit": False, "auto.offset.reset": "earliest",
                            "session.timeout.ms": 10000, "heartbeat.interval.ms": 300, "socket.timeout.ms": 10000})
        got = []
        try:
            resumed.subscribe([TOPIC])
            deadline = time.monotonic() + 30
            while len(got) < len(newer) and time.monotonic() < deadline:
                for m in resumed.consume(num_messages=100, timeout=0.2):
                    self.assertIsNone(m.error())
                    got.append((m.partition(), m.offset()))
            # Anything older would have come first (each partition is read in order); a short extra poll
            # catches stray records all the same.
            extra_deadline = time.monotonic() + 1.0
            while time.monotonic() < extra_deadline:
                for m in resumed.consume(num_messages=100, timeout=0.2):
                    got.append((m.partition(), m.offset()))
        finally:
            resumed.close()
        self.assertEqual(sorted(got), sorted(newer), "after the restart the group consumed other than the new records")


if __name__ == "__main__":
    h.main()
