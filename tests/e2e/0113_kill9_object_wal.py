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
                k9.produce_then_kill(self, broker, acks, rnd, round_id, FIRST_BATCH)
                broker.start()
                self.assertTrue(broker.log_lines_with("sealed WAL epoch"), "the restart sealed no epoch")
                k9.check_acked_records(self, broker, acks, round_id)
            k9.check_takes_new_produce(self, broker, acks)
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
