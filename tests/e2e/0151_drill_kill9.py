"""`floe drill`, briefly: kill -9 under an idempotent acks=all load, then the JSON report and the SVG chart.

Cluster mode (3 brokers, etcd, moto S3, object WAL) when this floe's `serve` has the cluster settings (`meta`),
else embedded mode (one broker on the object WAL: kill -9 and an immediate restart that seals the old epoch).
The report must say: the scenario ran without problems, every partition took writes again (RTO present and
bounded), nothing acked was lost, no log data was copied between brokers; the chart marks the fault.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import floe_harness as h

RUN_TIMEOUT_S = 150


def cluster_mode_available():
    r = h.run_floe(["serve", "--help"])
    return "--meta" in r.stdout


class DrillKill9Test(unittest.TestCase):
    def test_kill9_report(self):
        work = tempfile.mkdtemp(prefix="floe-e2e-drill-")
        keep = bool(os.environ.get("FLOE_E2E_KEEP"))
        try:
            report_path = os.path.join(work, "report.json")
            svg_path = os.path.join(work, "chart.svg")
            cluster = cluster_mode_available()
            args = ["drill", "--partitions", "6", "--rate", "1", "--scenarios", "kill9", "--warmup", "5",
                    "--settle", "5", "--recovery-timeout", "20", "--verify-timeout", "60",
                    "--work-dir", os.path.join(work, "run"), "--json", report_path, "--svg", svg_path,
                    "--progress-every", "2", "--producers", "2"]
            args += ["--brokers", "3", "--store", "s3"] if cluster else ["--embedded", "--wal", "object"]
            sys_out = h.run_floe(args, timeout=RUN_TIMEOUT_S)
            print(sys_out.stdout)
            if sys_out.returncode != 0:
                for name in sorted(os.listdir(os.path.join(work, "run"))):
                    if name.endswith(".log"):
                        with open(os.path.join(work, "run", name), errors="replace") as f:
                            print("---- %s (tail) ----\n%s" % (name, f.read()[-3000:]))
            self.assertEqual(sys_out.returncode, 0, "drill failed:\n%s\n%s" % (sys_out.stdout, sys_out.stderr))

            with open(report_path) as f:
                report = json.load(f)
            self.assertEqual(report["config"]["mode"], "cluster" if cluster else "embedded")
            # The request timeout follows the session timeout (3000 ms by default); two producer instances
            # with three partitions each: the read-back below checks their merged sequence numbers.
            self.assertEqual(report["config"]["request_timeout_ms"], 3000)
            self.assertEqual(report["config"]["producers"], 2)
            self.assertTrue(report["passed"])
            verify = report["verify"]
            self.assertTrue(verify["complete"], verify)
            self.assertGreater(verify["acked"], 1000)  # ~1 MiB/s of 1 KiB records for >15 s
            self.assertEqual(verify["acked_lost"], 0)
            self.assertEqual(len(report["scenarios"]), 1)
            s = report["scenarios"][0]
            self.assertEqual(s["name"], "kill9")
            self.assertTrue(s["ran"])
            self.assertEqual(s["problems"], [])
            self.assertEqual(s["bytes_copied_between_brokers"], 0)
            self.assertEqual(s["rto_ms"]["partitions"], 6)
            self.assertEqual(s["rto_ms"]["unrecovered"], 0)
            self.assertGreaterEqual(s["rto_ms"]["max"], s["rto_ms"]["p50"])
            self.assertLess(s["rto_ms"]["max"], 20000)
            # The same windows split by whether the leader changed: the killed broker's partitions moved (each
            # one recovered), next to the client's own ack latency before the kill; issue 7's targets are listed.
            moved, not_moved = s["moved_ms"], s["not_moved_ms"]
            self.assertGreater(moved["partitions"], 0)
            self.assertEqual(moved["partitions"] + not_moved["partitions"], 6)
            self.assertEqual(moved["timed_out"], 0)
            self.assertGreaterEqual(moved["max"], moved["p50"])
            self.assertLessEqual(moved["max"], s["rto_ms"]["max"])
            self.assertGreater(s["ack_latency_before_ms"]["acks"], 0)
            self.assertTrue(any(t["what"].startswith("RTO of the %d partitions" % moved["partitions"])
                                for t in s["targets"]), s["targets"])
            self.assertTrue(any(t["what"] == "log data copied between brokers" and t["met"] for t in s["targets"]))
            self.assertGreater(s["delivered_records"], 0)
            # The brokers' own counters saw the load (appends summed over every broker process).
            self.assertGreater(s["brokers"]["appended_records"], 0)
            self.assertTrue(s["rejoined"])
            self.assertGreaterEqual(len(report["timeline"]), 10)
            self.assertTrue(any(e["label"].startswith("kill -9 broker") for e in report["events"]))

            with open(svg_path) as f:
                svg = f.read()
            self.assertTrue(svg.startswith("<svg "))
            self.assertIn("kill -9 broker", svg)
            self.assertIn("<polyline", svg)
            # The summary table on the terminal.
            self.assertIn("verdict: PASS", sys_out.stdout)
            self.assertIn("kill9", sys_out.stdout)
            self.assertIn("targets (issue 7):", sys_out.stdout)
        finally:
            if keep:
                print("kept %s" % work)
            else:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    h.main()
