#!/usr/bin/python3
"""Lifecycle: `floe serve --help` exits 0 and lists every setting with its flag, env var and key; `floe` with no
command exits 2, an unknown command exits 2."""
import unittest

import floe_harness as h

SETTINGS = ["node.id", "listen", "advertise", "zone", "data.dir", "log.level", "socket.request.max.bytes",
            "connections.max.idle.ms", "io.threads", "shutdown.drain.ms"]


class Help(unittest.TestCase):
    def test_serve_help(self):
        for flag in ("--help", "-h"):
            with self.subTest(flag=flag):
                r = h.run_floe(["serve", flag])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("usage: floe serve"), r.stdout)
                for key in SETTINGS:
                    flag_name = "--" + key.replace(".", "-")
                    env = "FLOE_" + key.replace(".", "_").upper()
                    self.assertIn("%s  (%s, key %s, default" % (flag_name, env, key), r.stdout)
                self.assertIn("FLOE_CONFIG", r.stdout)

    def test_help_wins_over_bad_settings(self):
        r = h.run_floe(["serve", "--node-id", "abc", "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_top_level(self):
        r = h.run_floe(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("serve", r.stderr + r.stdout)
        r = h.run_floe([])
        self.assertEqual(r.returncode, 2)
        r = h.run_floe(["frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)


if __name__ == "__main__":
    h.main()
