#!/usr/bin/python3
"""Lifecycle: settings from a config file, FLOE_* environment variables and flags take effect, flags over
environment over file, as seen by a client (Metadata node id and rack)."""
import os
import shutil
import tempfile
import unittest

import floe_harness as h


def node_and_rack(broker):
    with broker.connect() as c:
        _, md = c.request(h.API_METADATA, 12)
    [b] = md["brokers"]
    return b["node_id"], b["rack"]


class ConfigSources(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="floe-e2e-sources-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.conf = os.path.join(self.tmp, "floe.conf")
        with open(self.conf, "w") as f:
            f.write("# from the file\nnode.id = 4\nzone = file-zone\n\n")

    def test_file_only(self):
        with h.Broker(args=["--config", self.conf]) as b:
            self.assertEqual(node_and_rack(b), (4, "file-zone"))

    def test_env_over_file(self):
        with h.Broker(args=["--config", self.conf], env={"FLOE_NODE_ID": "5"}) as b:
            self.assertEqual(node_and_rack(b), (5, "file-zone"))

    def test_flag_over_env_over_file(self):
        env = {"FLOE_NODE_ID": "5", "FLOE_ZONE": "env-zone"}
        with h.Broker(args=["--config", self.conf, "--node-id=6"], env=env) as b:
            self.assertEqual(node_and_rack(b), (6, "env-zone"))

    def test_config_file_named_by_env(self):
        with h.Broker(env={"FLOE_CONFIG": self.conf}) as b:
            self.assertEqual(node_and_rack(b), (4, "file-zone"))

    def test_advertise(self):
        with h.Broker(args=["--advertise", "broker.example:19092"]) as b:
            with b.connect() as c:
                _, md = c.request(h.API_METADATA, 1)
            self.assertEqual([(x["host"], x["port"]) for x in md["brokers"]], [("broker.example", 19092)])


if __name__ == "__main__":
    h.main()
