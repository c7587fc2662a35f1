#!/usr/bin/python3
"""A relative --data-dir (the default is ./floe-data) works like an absolute one: the broker starts, takes a
produce, and the data lands under <cwd>/<data-dir>."""
import os
import shutil
import unittest

import floe_harness as h

KCAT = shutil.which("kcat")


@unittest.skipIf(KCAT is None, "kcat is not installed")
class RelativeDataDir(unittest.TestCase):
    # `floe serve --data-dir ./d` (and plain `floe serve`, whose default is ./floe-data) resolves the path against
    # the working directory at start; this once failed because the file:// object store wants an absolute root.
    def test_relative_data_dir(self):
        b = h.Broker(data_dir=os.path.join(".", "relative-data"))  # Broker runs floe with cwd = its temp dir
        try:
            b.start()
            path = os.path.join(b._tmp, "input.txt")
            with open(path, "w") as f:
                f.write("hello\nworld\n")
            r = h.run_client([KCAT, "-P", "-b", b.bootstrap, "-t", "rel", "-p", "0", "-X", "acks=all", "-l", path],
                             timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = h.run_client([KCAT, "-C", "-b", b.bootstrap, "-t", "rel", "-p", "0", "-o", "beginning", "-e", "-q",
                              "-f", "%o %s\n"], timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "0 hello\n1 world\n")
            self.assertTrue(os.path.isdir(os.path.join(b._tmp, "relative-data", "objects")))
        finally:
            b.stop()
            b.cleanup()


if __name__ == "__main__":
    h.main()
