#!/usr/bin/python3
"""Lifecycle: the cluster id is created once per data dir and survives restarts (clean and SIGKILL); another
data dir gets another id."""
import os
import re
import signal
import unittest

import floe_harness as h

ID_RE = r"^[A-Za-z0-9_-]{22}$"


def cluster_id_over_the_wire(broker, version):
    with broker.connect() as c:
        _, md = c.request(h.API_METADATA, version)
        return md["cluster_id"]


class ClusterIdPersists(unittest.TestCase):
    def test_same_cluster_id_after_restart(self):
        with h.Broker() as b:
            before = {v: cluster_id_over_the_wire(b, v) for v in (2, 9, 12)}
            first = before[12]
            self.assertRegex(first, ID_RE)
            self.assertEqual(set(before.values()), {first})
            with open(os.path.join(b.data_dir, "cluster.id")) as f:
                self.assertEqual(f.read().strip(), first)

            self.assertEqual(b.stop(), 0)
            b.start()  # same data dir, new process (and a new port)
            self.assertEqual(cluster_id_over_the_wire(b, 2), first)
            self.assertEqual(cluster_id_over_the_wire(b, 12), first)

            b.stop(signal.SIGKILL)
            b.start()
            self.assertEqual(cluster_id_over_the_wire(b, 12), first)
            self.assertEqual(len(re.findall(r"of cluster %s listening" % re.escape(first), b.log_text())), 3)

    def test_other_data_dir_other_cluster_id(self):
        with h.Broker() as a, h.Broker() as b:
            self.assertNotEqual(cluster_id_over_the_wire(a, 12), cluster_id_over_the_wire(b, 12))

    def test_corrupt_cluster_id_file_exits_1(self):
        with h.Broker() as b:
            self.assertEqual(b.stop(), 0)
            with open(os.path.join(b.data_dir, "cluster.id"), "w") as f:
                f.write("short\n")
            r = h.run_floe(["serve", "--listen", "127.0.0.1:%d" % h.free_port(), "--data-dir", b.data_dir])
            self.assertEqual(r.returncode, 1, r.stderr)
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("data.dir", lines[0])
            self.assertIn("cluster.id", lines[0])


if __name__ == "__main__":
    h.main()
