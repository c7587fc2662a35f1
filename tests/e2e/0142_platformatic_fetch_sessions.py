#!/usr/bin/python3
"""An incremental fetch session driven by a real client's codec: @platformatic/kafka's Fetch v17 (topics by id,
flexible, through its low-level API; see node/platformatic_fetch_sessions.mjs). Full fetch creates the session ->
an incremental fetch with no changes answers nothing -> records produced to partition 1 come back alone, decoded by
the client -> a replayed epoch is INVALID_FETCH_SESSION_EPOCH -> forgetting every partition ends the session ->
FETCH_SESSION_ID_NOT_FOUND. The client's own consumer sends session 0 / epoch 0 on every fetch (a new session each
time, which it ignores)."""
import json
import os
import shutil
import unittest

import floe_harness as h

NODE = shutil.which("node")
MODULES = h.node_modules()
SCRIPT = os.path.join(h.HERE, "node", "platformatic_fetch_sessions.mjs")
MISSING = ("node is not installed" if NODE is None else
           "@platformatic/kafka is not installed in %s (npm ci in tests/clients)" % MODULES
           if not os.path.isfile(os.path.join(MODULES, "@platformatic", "kafka", "package.json")) else None)


@unittest.skipIf(MISSING, MISSING)
class PlatformaticFetchSessions(h.BrokerTestCase):

    def test_incremental_session(self):
        r = h.run_client([NODE, SCRIPT, self.broker.bootstrap, MODULES, "sessions-topic", "sessions"], timeout=60)
        self.assertEqual(r.returncode, 0, "node failed:\nstdout:%s\nstderr:%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertNotIn("failure", out)

        full = out["full"]
        self.assertEqual(full["errorCode"], 0)
        sid = full["sessionId"]
        self.assertNotEqual(sid, 0)
        self.assertEqual([p["partition"] for p in full["partitions"]], [0, 1])
        self.assertEqual(full["partitions"][0]["values"], [[0, "a0"], [1, "a1"], [2, "a2"]])
        self.assertEqual(full["partitions"][1]["highWatermark"], 0)

        self.assertEqual(out["unchanged"], {"errorCode": 0, "sessionId": sid, "partitions": []})
        self.assertEqual(out["newData"], {"errorCode": 0, "sessionId": sid, "partitions": [
            {"partition": 1, "errorCode": 0, "highWatermark": 2, "values": [[0, "b0"], [1, "b1"]]}]})
        self.assertEqual(out["replayedEpoch"], {"error": ["INVALID_FETCH_SESSION_EPOCH"]})
        self.assertEqual(out["forgetAll"], {"errorCode": 0, "sessionId": 0, "partitions": []})
        self.assertEqual(out["afterClose"], {"error": ["FETCH_SESSION_ID_NOT_FOUND"]})


if __name__ == "__main__":
    h.main()
