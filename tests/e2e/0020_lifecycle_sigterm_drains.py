#!/usr/bin/python3
"""Lifecycle: SIGTERM/SIGINT drain in-flight requests and exit 0; open connections do not hold the exit up."""
import signal
import sys
import time
import unittest

import floe_harness as h

EXIT_BOUND_S = 5.0  # far below the drain timeout: nothing here should wait for it


class SigtermDrains(unittest.TestCase):
    def stop_and_check(self, broker, sig=signal.SIGTERM, already_signalled=False):
        start = time.monotonic()
        if already_signalled:
            rc = broker.wait_exit(timeout=EXIT_BOUND_S)
        else:
            rc = broker.stop(sig, timeout=EXIT_BOUND_S)
        took = time.monotonic() - start
        log = broker.log_text()
        self.assertFalse(broker.killed,
                         "floe did not exit within %.1fs of signal %d; log:\n%s" % (EXIT_BOUND_S, sig, log))
        self.assertEqual(rc, 0, log)
        self.assertIn("signal %d: draining in-flight requests" % sig, log)
        self.assertIn("draining", log)
        self.assertTrue(log.rstrip().endswith("stopped"), log)
        self.assertFalse(h.port_accepts(broker.port), "port still accepts after exit")
        return took, log

    def test_sigterm_idle_broker(self):
        with h.Broker() as b:
            self.stop_and_check(b)

    def test_sigint_exits_zero(self):
        with h.Broker() as b:
            self.stop_and_check(b, signal.SIGINT)

    def test_open_connections_do_not_hold_exit(self):
        with h.Broker(args=["--shutdown-drain-ms", "20000"]) as b:
            conns = [b.connect() for _ in range(5)]
            try:
                for c in conns[:3]:
                    c.request(h.API_API_VERSIONS, 3)  # used; the other two never send anything
                took, _ = self.stop_and_check(b)
                self.assertLess(took, EXIT_BOUND_S)
                for c in conns:
                    self.assertTrue(c.wait_closed(2.0), "client connection not closed by the exit")
            finally:
                for c in conns:
                    c.close()

    def test_pipelined_requests_answered_completely_before_exit(self):
        n = 300
        with h.Broker(args=["--shutdown-drain-ms", "10000"]) as b:
            with b.connect(timeout=10) as c:
                c.request(h.API_API_VERSIONS, 3)  # the connection is registered before the signal
                c.send(b"".join(h.encode_request(h.API_METADATA, 12, 1000 + i, h.metadata_body(12, ["t%d" % i]))
                                for i in range(n)))
                b.proc.send_signal(signal.SIGTERM)
                got = 0
                while got < n:
                    try:
                        frame = c.recv_frame(timeout=EXIT_BOUND_S)
                    except h.ConnectionClosed as e:
                        self.assertEqual(e.buffered, 0, "the connection ended inside a response frame")
                        break
                    corr, md = h.decode_response(h.API_METADATA, 12, frame)  # whole frames only
                    self.assertEqual(corr, 1000 + got)
                    self.assertEqual(md["topics"][0]["name"], "t%d" % got)
                    got += 1
                # Requests the broker had read were answered; it may have stopped reading the rest. Either way
                # the connection ends cleanly (no partial frame) and the broker exits 0.
                self.assertTrue(c.wait_closed(EXIT_BOUND_S))
                sys.stderr.write("%d of %d pipelined requests answered before the exit\n" % (got, n))
            self.stop_and_check(b, already_signalled=True)


if __name__ == "__main__":
    h.main()
