#!/usr/bin/python3
"""kafkajs (node) consumer groups: admin createTopics/listTopics, a producer sends COUNT messages over 3 partitions,
a group member (eachMessage, autoCommit) reads every one exactly once at the offset it was written, with the same
key, value and headers; while it is a member describeGroups says Stable with that one member and listGroups lists
the group; after it disconnects fetchOffsets gives the end offsets and the group is Empty. A second member of the
same group then reads exactly the MORE messages produced afterwards, nothing older, and its commits move the
offsets to the new ends. The node script is tests/e2e/node/kafkajs_group_0122.js."""
import json
import os
import shutil
import unittest

import floe_harness as h

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "kafkajs_group_0122.js")
MISSING = ("node is not installed" if NODE is None else
           "kafkajs is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "kafkajs", "package.json")) else None)

TOPIC = "kafkajs-group"
GROUP = "floe-e2e-0122"
PARTITIONS = 3
COUNT = 900
MORE = 60


def expected(i):
    return ["key-%d" % (i % 11), "kafkajs group message %d" % i, {"i": str(i)}]


@unittest.skipIf(MISSING, MISSING)
class KafkajsGroup(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")

    def test_kafkajs_group_consume_commit_admin(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES, TOPIC, GROUP, str(PARTITIONS), str(COUNT),
                          str(MORE)], timeout=80)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertIs(out["created"], True)
        self.assertIn(TOPIC, out["topics"])
        per = COUNT // PARTITIONS
        self.assertEqual(sorted(map(tuple, out["ends"])), [(p, per) for p in range(PARTITIONS)])

        # Message i is at partition i % 3, offset i // 3 (one send, in order).
        want_first = {(i % PARTITIONS, i // PARTITIONS): expected(i) for i in range(COUNT)}
        got_first = {}
        for p, o, k, v, hd in out["first"]:
            self.assertNotIn((p, o), got_first, "consumed twice: %s" % ((p, o),))
            got_first[(p, o)] = [k, v, hd]
        self.assertEqual(got_first, want_first)
        for p in range(PARTITIONS):
            offs = [o for pp, o, *_ in out["first"] if pp == p]
            self.assertEqual(offs, sorted(offs), "partition %d consumed out of order" % p)

        [g] = out["during"]["groups"]
        self.assertEqual((g["groupId"], g["state"], g["protocolType"], g["errorCode"]),
                         (GROUP, "Stable", "consumer", 0))
        self.assertEqual(g["members"], [{"clientId": "floe-e2e-0122"}])
        self.assertIn({"groupId": GROUP, "protocolType": "consumer"}, out["during"]["listed"])

        self.assertEqual(sorted(map(tuple, out["offsetsAfterFirst"])), [(TOPIC, p, per) for p in range(PARTITIONS)])
        self.assertEqual(out["afterFirst"], [{"state": "Empty", "members": 0}])

        want_second = {}
        for j in range(MORE):
            i = COUNT + j
            want_second[(i % PARTITIONS, i // PARTITIONS)] = expected(i)
        got_second = {}
        for p, o, k, v, hd in out["second"]:
            self.assertNotIn((p, o), got_second, "consumed twice after resuming: %s" % ((p, o),))
            got_second[(p, o)] = [k, v, hd]
        self.assertEqual(got_second, want_second, "the resumed member read other than the new messages")
        self.assertEqual(sorted(map(tuple, out["offsetsAfterSecond"])),
                         [(TOPIC, p, per + MORE // PARTITIONS) for p in range(PARTITIONS)])


if __name__ == "__main__":
    h.main()
