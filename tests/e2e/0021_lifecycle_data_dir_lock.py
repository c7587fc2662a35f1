#!/usr/bin/python3
"""Lifecycle: a second broker on a data dir in use exits 1 with one line naming data.dir; the first keeps
serving; the lock is released when the first exits. A taken listen port also exits 1 with one line."""
import os
import unittest

import floe_harness as h


class DataDirLock(unittest.TestCase):
    def test_second_broker_on_same_data_dir_exits_1(self):
        with h.Broker() as first:
            other_port = h.free_port()
            r = h.run_floe(["serve", "--listen", "127.0.0.1:%d" % other_port, "--data-dir", first.data_dir])
            self.assertEqual(r.returncode, 1, r.stderr)
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("data.dir", lines[0])
            self.assertIn(first.data_dir, lines[0])
            self.assertIn("in use", lines[0])
            self.assertEqual(r.stdout, "")
            self.assertFalse(h.port_accepts(other_port), "the refused broker must not have listened")
            # The first broker is unharmed.
            self.assertTrue(first.alive())
            with first.connect() as c:
                _, md = c.request(h.API_METADATA, 12)
                self.assertEqual(len(md["brokers"]), 1)
            self.assertEqual(first.stop(), 0)
            # Its exit released the lock: the same dir serves again.
            first.start()
            with first.connect() as c:
                self.assertEqual(c.request(h.API_API_VERSIONS, 3)[1]["error_code"], h.ERR_NONE)

    def test_data_dir_lock_survives_sigkill_of_holder(self):
        # flock is released by the kernel when the holder dies, even without a clean exit.
        with h.Broker() as b:
            self.assertEqual(b.stop(sig=9), -9)
            b.start()
            self.assertTrue(b.alive())

    def test_listen_port_in_use_exits_1(self):
        with h.Broker() as first:
            with self.subTest("same port, other data dir"):
                d = os.path.join(os.path.dirname(first.data_dir), "other-data")
                r = h.run_floe(["serve", "--listen", first.bootstrap, "--data-dir", d])
                self.assertEqual(r.returncode, 1, r.stderr)
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertTrue(lines[0].startswith("floe serve: listen:"), lines[0])
                self.assertIn(first.bootstrap, lines[0])
            self.assertTrue(first.alive())


if __name__ == "__main__":
    h.main()
