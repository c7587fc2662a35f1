#!/usr/bin/python3
"""Raw socket: connections.max.idle.ms closes idle connections (not before the timeout), and activity keeps a
connection open."""
import time

import floe_harness as h

IDLE_MS = 400
SLACK_S = 5.0  # how late past the timeout the close may come on a loaded machine


class RawIdleTimeout(h.BrokerTestCase):
    broker_args = ("--connections-max-idle-ms", str(IDLE_MS))

    def test_idle_connection_closes_after_timeout(self):
        with self.broker.connect() as c:
            c.request(h.API_API_VERSIONS, 3)
            last_activity = time.monotonic()
            self.assertTrue(c.wait_closed(IDLE_MS / 1000 + SLACK_S), "idle connection still open")
            idle_for = time.monotonic() - last_activity
        # The broker's clock started when it wrote the response, a little before we read it.
        self.assertGreaterEqual(idle_for, IDLE_MS / 1000 * 0.9, "closed after only %.3fs idle" % idle_for)
        lines = self.broker.wait_for_log_line("idle for %d ms" % IDLE_MS, "from " + c.peer_tag)
        self.assertEqual(len(lines), 1, lines)

    def test_never_used_connection_closes(self):
        start = time.monotonic()
        with self.broker.connect() as c:
            self.assertTrue(c.wait_closed(IDLE_MS / 1000 + SLACK_S), "idle connection still open")
        self.assertGreaterEqual(time.monotonic() - start, IDLE_MS / 1000 * 0.9)

    def test_active_connection_stays_open(self):
        # Requests every IDLE_MS/4 for 3 idle periods: the connection must stay open throughout.
        interval = IDLE_MS / 4000
        with self.broker.connect() as c:
            deadline = time.monotonic() + 3 * IDLE_MS / 1000
            n = 0
            while time.monotonic() < deadline and n < 1000:
                _, md = c.request(h.API_METADATA, 12)
                self.assertEqual(len(md["brokers"]), 1)
                n += 1
                self.assertFalse(c.wait_closed(interval), "closed while active (after %d requests)" % n)
            self.assertGreaterEqual(n, 4)

    def test_partial_frame_is_idle_too(self):
        # A client that stops in the middle of a frame is idle: the broker must not wait for the rest forever.
        frame = h.encode_request(h.API_METADATA, 12, 1, h.metadata_body(12))
        with self.broker.connect() as c:
            c.send(frame[:len(frame) // 2])
            self.assertTrue(c.wait_closed(IDLE_MS / 1000 + SLACK_S), "connection stuck mid-frame still open")


if __name__ == "__main__":
    h.main()
