#!/usr/bin/python3
"""kafkajs admin.describeCluster()/listTopics() against a single floe broker (node script, bounded)."""
import json
import os
import shutil
import unittest

import floe_harness as h

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "kafkajs_describe_cluster.js")
MISSING = ("node is not installed" if NODE is None else
           "kafkajs is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "kafkajs", "package.json")) else None)


@unittest.skipIf(MISSING, MISSING)
class KafkajsDescribeCluster(h.BrokerTestCase):
    broker_node_id = 11

    def test_describe_cluster(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES], timeout=60)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        cluster = out["cluster"]
        self.assertEqual(cluster["brokers"], [{"nodeId": 11, "host": "127.0.0.1", "port": self.broker.port}])
        self.assertEqual(cluster["controller"], 11)
        self.assertRegex(cluster["clusterId"], r"^[A-Za-z0-9_-]{22}$")
        self.assertIn("of cluster %s " % cluster["clusterId"], self.broker.log_text())
        self.assertEqual(out["topics"], [])
        self.assertEqual(out["unknown"]["type"], "UNKNOWN_TOPIC_OR_PARTITION")
        self.assertEqual(out["unknown"]["code"], h.ERR_UNKNOWN_TOPIC_OR_PARTITION)


if __name__ == "__main__":
    h.main()
