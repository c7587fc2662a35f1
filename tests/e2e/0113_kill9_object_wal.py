#!/usr/bin/python3
"""No acknowledged record is lost across kill -9 with the object WAL (DESIGN §1.1, §4): `floe serve --wal object`
acks a produce once its WAL object is in the (file://) object store; the broker is SIGKILLed at a random (seeded)
moment while a confluent-kafka acks=all producer is sending, restarted on the same data dir (the restart seals the
killed epoch and recovers what it acked), and every acked record must be readable at its offset with identical bytes;
offsets stay dense, and the restarted broker takes new produces. Three rounds, the acked set accumulating. The record
helpers are those of 0102 (the file WAL's kill -9 test)."""
import importlib.util
import os
import random
import signal
import threading
import time
import unittest

import floe_harness as h

_spec = importlib.util.spec_from_file_location(
    "kill9_file_wal", os.path.join(os.path.dirname(os.path.abspath(__file__)), "0102_kill9_restart.py"))
k9 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(k9)

ROUNDS = 3
FIRST_BATCH = 200
SEED = 112
BROKER_ARGS = ("--num-partitions", str(k9.PARTITIONS), "--wal", "object", "--wal-flush-ms", "20")


@unittest.skipIf(k9.Consumer is None, "confluent_kafka is not installed for this python")
class Kill9ObjectWal(unittest.TestCase):
    def test_acked_records_survive_kill9(self):
        rnd = random.Random(SEED)
        broker = h.Broker(args=BROKER_ARGS)
        acks = k9.Acks()
        try:
            broker.start()
            for round_id in range(ROUNDS):
                p = k9.producer(broker.bootstrap, acks)
                before = acks.count()
                for i in range(FIRST_BATCH):
                    k, v, hd = k9.payload(rnd, round_id, i)
                    k9.send(p, acks, k, v, hd, i % k9.PARTITIONS)
                    p.poll(0)
                self.assertEqual(p.flush(20), 0, "round %d: first batch not flushed" % round_id)
                self.assertEqual(acks.count(), before + FIRST_BATCH, "round %d: first batch not all acked" % round_id)

                kill_after = rnd.uniform(0.05, 0.6)
                killed = threading.Event()

                def kill():
                    broker.stop(sig=signal.SIGKILL)
                    killed.set()

                timer = threading.Timer(kill_after, kill)
                at_kill_start = acks.count()
                timer.start()
                i = FIRST_BATCH
                deadline = time.monotonic() + 10
                try:
                    while not killed.is_set() and time.monotonic() < deadline:
                        k, v, hd = k9.payload(rnd, round_id, i)
                        try:
                            k9.send(p, acks, k, v, hd, i % k9.PARTITIONS)
                            i += 1
                        except BufferError:
                            pass
                        p.poll(0.001)
                finally:
                    timer.join(15)
                self.assertTrue(killed.is_set(), "the kill timer did not fire")
                self.assertNotEqual(broker.returncode, 0)
                p.poll(0)
                p.purge()
                p.flush(5)
                del p
                print("round %d: kill after %.3fs, %d produced in batch 2, %d of them acked"
                      % (round_id, kill_after, i - FIRST_BATCH, acks.count() - at_kill_start), flush=True)

                broker.start()
                self.assertTrue(broker.log_lines_with("sealed WAL epoch"), "the restart sealed no epoch")
                got, ends = k9.read_all(broker.bootstrap)
                for p_ in range(k9.PARTITIONS):
                    offs = sorted(o for (pp, o) in got if pp == p_)
                    self.assertEqual(offs, list(range(ends[p_])), "round %d: partition %d not dense" % (round_id, p_))
                with acks.lock:
                    acked = dict(acks.acked)
                missing = [k for k in acked if k not in got]
                self.assertEqual(missing, [], "round %d: acked records missing after kill -9: %s"
                                 % (round_id, sorted(missing)[:20]))
                wrong = [k for k, rec in acked.items() if got[k] != rec]
                self.assertEqual(wrong, [], "round %d: acked records changed after kill -9: %s"
                                 % (round_id, sorted(wrong)[:20]))

            p = k9.producer(broker.bootstrap, acks)
            ends_before = k9.read_all(broker.bootstrap)[1]
            k9.send(p, acks, b"final", b"after the last restart", [("last", b"1")], 0)
            self.assertEqual(p.flush(15), 0)
            with acks.lock:
                final = [k for k, rec in acks.acked.items() if rec[0] == b"final"]
            self.assertEqual(final, [(0, ends_before[0])])
            objects = os.path.join(broker.data_dir, "objects")
            wal_objects = [f for _, _, files in os.walk(objects) for f in files]
            self.assertTrue(wal_objects, "no objects written")
        except BaseException:
            import sys
            sys.stderr.write("---- floe log (%s) ----\n%s---- end of floe log ----\n"
                             % (broker.log_path, broker.log_text()[-20000:]))
            raise
        finally:
            broker.stop()
            broker.cleanup()


if __name__ == "__main__":
    h.main()
