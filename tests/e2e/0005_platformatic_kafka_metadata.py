#!/usr/bin/python3
"""@platformatic/kafka Admin.metadata() against a single floe broker (node script, bounded)."""
import json
import os
import shutil
import unittest

import floe_harness as h

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "platformatic_metadata.mjs")
MISSING = ("node is not installed" if NODE is None else
           "@platformatic/kafka is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "@platformatic", "kafka", "package.json")) else None)


@unittest.skipIf(MISSING, MISSING)
class PlatformaticMetadata(h.BrokerTestCase):
    broker_node_id = 12
    broker_args = ("--zone", "zone-a")

    def test_metadata(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES], timeout=60)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        md = out["metadata"]
        self.assertEqual(md["brokers"], [{"id": 12, "host": "127.0.0.1", "port": self.broker.port, "rack": "zone-a"}])
        self.assertEqual(md["controllerId"], 12)
        self.assertRegex(md["id"], r"^[A-Za-z0-9_-]{22}$")
        self.assertIn("of cluster %s " % md["id"], self.broker.log_text())
        self.assertEqual(md["topics"], [])
        self.assertIsNotNone(out["unknown"], "metadata for an unknown topic must fail")
        self.assertIn("no-such-topic", out["unknown"]["message"])


if __name__ == "__main__":
    h.main()
