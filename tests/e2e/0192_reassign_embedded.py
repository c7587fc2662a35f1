#!/usr/bin/python3
"""Reassignment and drain on an embedded (single) broker: it is the controller and leads everything, so a
reassignment to itself is a no-op (NONE, as Kafka answers when the target equals the current replicas), any other
broker is unknown (INVALID_REPLICA_ASSIGNMENT), nothing is ever pending, and a drain is refused (it needs cluster
mode). The `floe cluster` / `floe broker` commands say so in one line."""
import re
import unittest

import floe_harness as h
from reassign_wire import (ERR_INVALID_REPLICA_ASSIGNMENT, ERR_NO_REASSIGNMENT_IN_PROGRESS,
                           ERR_UNKNOWN_TOPIC_OR_PARTITION, alter_reassignments)

TOPIC = "solo"
NODE = 4


class EmbeddedReassign(h.BrokerTestCase):
    broker_node_id = NODE

    def floe(self, *args):
        r = h.run_floe(list(args) + ["--bootstrap", self.broker.bootstrap], timeout=20)
        print("$ floe %s\n%s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def test_reassignments(self):
        self.assertEqual(self.floe("topic", "create", TOPIC, "--partitions", "2").returncode, 0)
        top, res = alter_reassignments(self.broker, [(TOPIC, 0, [NODE]), (TOPIC, 1, [NODE + 1]), (TOPIC, 1, [NODE, 1]),
                                                     (TOPIC, 2, [NODE]), (TOPIC, 0, None)])
        self.assertEqual(top, 0)
        # (TOPIC, 0) and (TOPIC, 1) appear twice in the request: the answers keep the last of each.
        self.assertEqual(res[(TOPIC, 0)][0], ERR_NO_REASSIGNMENT_IN_PROGRESS)
        self.assertEqual(res[(TOPIC, 1)][0], ERR_INVALID_REPLICA_ASSIGNMENT)
        self.assertEqual(res[(TOPIC, 2)][0], ERR_UNKNOWN_TOPIC_OR_PARTITION)
        top, res = alter_reassignments(self.broker, [(TOPIC, 0, [NODE]), (TOPIC, 1, [NODE + 1])])
        self.assertEqual(res[(TOPIC, 0)], (0, None))
        self.assertEqual(res[(TOPIC, 1)][0], ERR_INVALID_REPLICA_ASSIGNMENT)

        r = self.floe("cluster", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Controller: %d  Brokers: 1" % NODE, r.stdout)
        self.assertRegex(r.stdout, r"\n%d\s+127\.0\.0\.1\s+%d\s+-\s+\d+\s+yes" % (NODE, self.broker.port))
        r = self.floe("cluster", "reassign", "--topic", TOPIC, "--partition", "1", "--to", str(NODE))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%s/1 is already led by broker %d" % (TOPIC, NODE), r.stdout)
        r = self.floe("cluster", "reassign", "--topic", TOPIC, "--partition", "1", "--to", "9")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(),
                         "floe cluster: reassign %s/1: INVALID_REPLICA_ASSIGNMENT: broker 9 is not a live broker" % TOPIC)
        r = self.floe("cluster", "reassign", "--topic", TOPIC, "--partition", "7", "--to", str(NODE))
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNKNOWN_TOPIC_OR_PARTITION", r.stderr)
        r = self.floe("cluster", "reassignments")
        self.assertEqual((r.returncode, r.stdout), (0, "no partition moves in progress\n"))

        r = self.floe("broker", "drain", str(NODE))
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^floe broker: drain %d: INVALID_REQUEST: drain needs cluster mode" % NODE)
        r = self.floe("config", "describe", "broker", str(NODE))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("floe.broker.drain", r.stdout)  # a cluster-mode config
        r = self.floe("config", "alter", "broker", str(NODE), "--set", "num.partitions=3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("broker configs are static", r.stderr)

        r = self.floe("cluster", "reassign", "--topic", TOPIC, "--partition", "0")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(re.match(r"floe cluster: reassign: needs --topic T --partition P --to BROKER", r.stderr))


if __name__ == "__main__":
    h.main()
