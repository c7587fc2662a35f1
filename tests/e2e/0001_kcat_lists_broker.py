#!/usr/bin/python3
"""kcat -L against a single floe broker: the broker list and unknown/invalid topics."""
import json
import shutil
import unittest

import floe_harness as h

KCAT = shutil.which("kcat")


@unittest.skipIf(KCAT is None, "kcat is not installed")
class KcatListsBroker(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")  # unknown topics stay unknown
    broker_node_id = 7

    def kcat(self, *args):
        r = h.run_client([KCAT, "-b", self.broker.bootstrap, "-m", "10"] + list(args), timeout=30)
        self.assertEqual(r.returncode, 0, "kcat failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        return r.stdout

    def test_lists_broker_as_controller(self):
        out = self.kcat("-L")
        self.assertIn("1 brokers:", out)
        self.assertIn("broker 7 at %s (controller)" % self.broker.bootstrap, out)
        self.assertIn("0 topics:", out)

    def test_unknown_topic(self):
        out = self.kcat("-L", "-t", "foo")
        self.assertIn('topic "foo" with 0 partitions: Broker: Unknown topic or partition', out)
        self.assertIn("broker 7 at %s (controller)" % self.broker.bootstrap, out)

    def test_json_metadata(self):
        meta = json.loads(self.kcat("-L", "-J"))
        self.assertEqual(meta["controllerid"], 7)
        self.assertEqual(meta["brokers"], [{"id": 7, "name": self.broker.bootstrap}])
        self.assertEqual(meta["topics"], [])

    def test_invalid_topic_name(self):
        meta = json.loads(self.kcat("-L", "-J", "-t", "bad name!"))
        self.assertEqual(len(meta["topics"]), 1)
        self.assertEqual(meta["topics"][0]["topic"], "bad name!")
        self.assertEqual(meta["topics"][0]["error"], "Broker: Invalid topic")


if __name__ == "__main__":
    h.main()
