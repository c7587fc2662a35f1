#!/usr/bin/python3
"""Lifecycle: bad settings (flag, FLOE_* environment variable or config file) exit 2 with one stderr line that
names the key, before touching the data dir or the network."""
import os
import shutil
import tempfile
import unittest

import floe_harness as h


class BadConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="floe-e2e-config-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data_dir = os.path.join(self.tmp, "data")

    def config_file(self, text):
        path = os.path.join(self.tmp, "floe.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_rejected(self, args, key, env=None, creates_data_dir=False):
        port = h.free_port()
        own_listen = (env and "FLOE_LISTEN" in env) or any(a.startswith("--listen") for a in args)
        r = h.run_floe(["serve", "--data-dir", self.data_dir] +
                       ([] if own_listen else ["--listen", "127.0.0.1:%d" % port]) + args, env=env)
        self.assertEqual(r.returncode, 2, "args %s env %s: stderr %r" % (args, env, r.stderr))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(key, lines[0])
        self.assertEqual(r.stdout, "")
        if not creates_data_dir:
            self.assertFalse(os.path.exists(self.data_dir), "a rejected config must not create the data dir")
        return lines[0]

    def test_node_id_not_an_integer(self):
        line = self.assert_rejected(["--node-id", "abc"], "node.id")
        self.assertIn("abc", line)

    def test_listen_env_nonsense(self):
        line = self.assert_rejected([], "listen", env={"FLOE_LISTEN": "nonsense"})
        self.assertIn("nonsense", line)

    def test_node_id_env(self):
        self.assert_rejected([], "node.id", env={"FLOE_NODE_ID": "-3"})

    def test_socket_request_max_bytes_below_minimum(self):
        self.assert_rejected(["--socket-request-max-bytes", "1023"], "socket.request.max.bytes")

    def test_connections_max_idle_ms_below_minimum(self):
        self.assert_rejected(["--connections-max-idle-ms", "99"], "connections.max.idle.ms")

    def test_log_level(self):
        self.assert_rejected(["--log-level", "loud"], "log.level")

    def test_listen_port_out_of_range(self):
        self.assert_rejected(["--listen", "127.0.0.1:70000"], "listen")

    def test_flag_without_value(self):
        self.assert_rejected(["--node-id"], "node.id")

    def test_unknown_flag(self):
        self.assert_rejected(["--no-such-setting", "1"], "--no-such-setting")

    def test_config_file_bad_value(self):
        path = self.config_file("# broker settings\nnode.id = twelve\n")
        self.assert_rejected(["--config", path], "node.id")

    def test_config_file_unknown_key(self):
        path = self.config_file("no.such.key = 1\n")
        self.assert_rejected(["--config", path], "no.such.key")

    def test_config_file_missing(self):
        self.assert_rejected(["--config", os.path.join(self.tmp, "absent.conf")], "config")

    def test_config_file_from_env(self):
        path = self.config_file("io.threads = 0\n")
        self.assert_rejected([], "io.threads", env={"FLOE_CONFIG": path})

    def test_wildcard_listen_needs_advertise_exits_2(self):
        r = h.run_floe(["serve", "--data-dir", self.data_dir, "--listen", "0.0.0.0:%d" % h.free_port()])
        self.assertEqual(r.returncode, 2, r.stderr)
        last = r.stderr.splitlines()[-1]
        self.assertTrue(last.startswith("floe serve: advertise:"), r.stderr)
        self.assertIn("0.0.0.0", last)

    def test_wildcard_listen_needs_advertise_one_line(self):
        self.assert_rejected(["--listen", "0.0.0.0:%d" % h.free_port()], "advertise")

    def test_advertise_port_zero(self):
        self.assert_rejected(["--advertise", "example.com:0"], "advertise")


if __name__ == "__main__":
    h.main()
