#!/usr/bin/python3
"""The admin HTTP endpoint of a real broker: /metrics counts exactly the Kafka requests sent (raw and kcat), /healthz,
/readyz (200 while serving, 503 while draining after SIGTERM), junk HTTP gets a 4xx and the server keeps serving,
and the start-up log carries the effective configuration."""
import http.client
import re
import shutil
import subprocess
import signal
import tempfile
import socket
import threading
import time
import unittest

import floe_harness as h

KCAT = shutil.which("kcat")
HTTP_TIMEOUT_S = 5.0


def http_get(port, path, timeout=HTTP_TIMEOUT_S):
    """(status, headers dict, body text) of one GET on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def raw_http(port, data, timeout=HTTP_TIMEOUT_S):
    """Sends raw bytes; returns everything received until the server closes (bounded by timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        out = b""
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from Prometheus text (our own output: simple label values)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, "unparsable metrics line: %r" % line
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def total(metrics, name, **labels):
    """Sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


class HttpMetrics(unittest.TestCase):
    def scrape(self, broker):
        status, headers, body = http_get(broker.http_port(), "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(body)

    def test_counters_match_the_requests_sent(self):
        with h.Broker() as b:
            port = b.http_port()
            status, _, text = http_get(port, "/healthz")
            self.assertEqual((status, text), (200, "ok\n"))
            h.wait_until(lambda: http_get(port, "/readyz")[0] == 200, 5.0, what="/readyz 200")
            before = self.scrape(b)
            self.assertEqual(total(before, "floe_kafka_requests_total"), 0)

            n_av, n_md = 7, 5
            with b.connect() as c:
                for _ in range(n_av):
                    c.request(h.API_API_VERSIONS, 3)
                for _ in range(n_md):
                    c.request(h.API_METADATA, 12)
                c.request(h.API_METADATA, 1)
                c.request(h.API_API_VERSIONS, 0)
            # An unsupported Metadata version closes its connection and is counted as such.
            with b.connect() as c:
                c.send(h.encode_request(h.API_METADATA, 99, 1, b""))
                self.assertTrue(c.wait_closed(5.0))

            m = self.scrape(b)
            self.assertEqual(value(m, "floe_kafka_requests_total", api="ApiVersions", version="3"), n_av)
            self.assertEqual(value(m, "floe_kafka_requests_total", api="ApiVersions", version="0"), 1)
            self.assertEqual(value(m, "floe_kafka_requests_total", api="Metadata", version="12"), n_md)
            self.assertEqual(value(m, "floe_kafka_requests_total", api="Metadata", version="1"), 1)
            self.assertEqual(value(m, "floe_kafka_requests_total", api="Metadata", version="99"), 1)
            self.assertEqual(total(m, "floe_kafka_requests_total"), n_av + n_md + 3)
            self.assertEqual(value(m, "floe_kafka_request_errors_total", api="Metadata",
                                   error="closed_unsupported_version"), 1)
            self.assertEqual(value(m, "floe_kafka_request_duration_seconds_count", api="ApiVersions"), n_av + 1)
            self.assertEqual(value(m, "floe_kafka_request_duration_seconds_count", api="Metadata"), n_md + 1)
            self.assertEqual(value(m, "floe_kafka_request_duration_seconds_bucket", api="Metadata", le="+Inf"),
                             n_md + 1)
            self.assertGreater(value(m, "floe_kafka_request_bytes_total", api="Metadata"), 0)
            self.assertGreater(value(m, "floe_kafka_response_bytes_total", api="ApiVersions"), 0)
            self.assertEqual(value(m, "floe_net_requests_total", listener="kafka"), n_av + n_md + 3)
            self.assertEqual(value(m, "floe_net_connections_accepted_total", listener="kafka"), 2 + 1)  # + start probe
            self.assertEqual(value(m, "floe_net_connections_open", listener="kafka"), 0)
            self.assertEqual(value(m, "floe_kafka_requests_in_flight"), 0)

            if KCAT:
                r = h.run_client([KCAT, "-b", b.bootstrap, "-L", "-m", "10"], timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                after = self.scrape(b)
                # kcat (librdkafka) sends ApiVersions and Metadata; whatever it sent, each counter moved by exactly
                # what the net layer saw, and nothing else changed.
                sent = (total(after, "floe_kafka_requests_total") - total(m, "floe_kafka_requests_total"))
                self.assertEqual(value(after, "floe_net_requests_total", listener="kafka")
                                 - value(m, "floe_net_requests_total", listener="kafka"), sent)
                self.assertGreaterEqual(total(after, "floe_kafka_requests_total", api="Metadata")
                                        - total(m, "floe_kafka_requests_total", api="Metadata"), 1)
                self.assertGreaterEqual(total(after, "floe_kafka_requests_total", api="ApiVersions")
                                        - total(m, "floe_kafka_requests_total", api="ApiVersions"), 1)
            self.assertEqual(b.stop(), 0)

    def test_routes_and_junk(self):
        with h.Broker() as b:
            port = b.http_port()
            self.assertEqual(http_get(port, "/nope")[0], 404)
            junk = [
                (b"hello\r\n\r\n", b"HTTP/1.1 400 "),
                (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 405 "),
                (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"HTTP/1.1 431 "),
                (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"HTTP/1.1 505 "),
                (bytes(range(256)) * 4, b"HTTP/1.1 400 "),
            ]
            for data, expected in junk:
                got = raw_http(port, data)
                self.assertTrue(got.startswith(expected), "%r -> %r" % (data[:30], got[:80]))
            # Keep-alive and pipelining on one connection.
            got = raw_http(port, b"GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n")
            self.assertEqual(got.count(b"HTTP/1.1 200 OK"), 2, got)
            status, _, body = http_get(port, "/metrics")
            self.assertEqual(status, 200)
            m = parse_metrics(body)
            self.assertEqual(value(m, "floe_http_bad_requests_total"), len(junk))
            self.assertEqual(value(m, "floe_http_requests_total", path="other", code="404"), 1)
            self.assertEqual(http_get(port, "/healthz")[0], 200)
            self.assertTrue(b.alive())
            self.assertEqual(b.stop(), 0)

    def test_startup_logs_effective_config_and_http_port(self):
        with h.Broker(args=["--zone", "z1"], node_id=3) as b:
            port = b.http_port()
            [line] = b.log_lines_with("config: ")
            for kv in ("node.id=3", "zone=z1", "listen=127.0.0.1:%d" % b.port, "http=127.0.0.1:0",
                       "data.dir=%s" % b.data_dir, "log.level=info", "shutdown.drain.ms=30000"):
                self.assertIn(kv, line)
            self.assertIn("http listening on 127.0.0.1:%d" % port, b.log_text())
            self.assertEqual(b.stop(), 0)

    def test_http_port_in_use_fails_start_naming_http(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            r = h.run_floe(["serve", "--listen", "127.0.0.1:%d" % h.free_port(), "--data-dir",
                            self.tmp_data_dir(),
                            "--http", "127.0.0.1:%d" % taken.getsockname()[1]])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("http: cannot listen on 127.0.0.1:%d" % taken.getsockname()[1], r.stderr)

    def tmp_data_dir(self):
        d = tempfile.mkdtemp(prefix="floe-e2e-http-")
        self.addCleanup(shutil.rmtree, d, True)
        return d + "/data"

    def test_readyz_turns_503_while_draining(self):
        # A client that pipelines big Metadata requests and reads no response keeps the Kafka drain busy (its
        # responses cannot be written), so /readyz can be seen answering 503 while /healthz and /metrics still work.
        with h.Broker(args=["--shutdown-drain-ms", "8000"]) as b:
            port = b.http_port()
            h.wait_until(lambda: http_get(port, "/readyz")[0] == 200, 5.0, what="/readyz 200")
            topics = ["t%04d-%s" % (i, "x" * 240) for i in range(2000)]
            body = h.metadata_body(12, topics)
            n = 40
            c = b.connect(timeout=10)
            self.addCleanup(c.close)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sender = threading.Thread(target=lambda: self._send_quietly(c, b"".join(
                h.encode_request(h.API_METADATA, 12, 1 + i, body) for i in range(n))), daemon=True)
            sender.start()
            # Wait until the broker has read more than the socket buffers can hold the responses of (~550 KB each),
            # so the drain has responses that cannot be written.
            h.wait_until(lambda: value(self.scrape(b), "floe_net_requests_total", listener="kafka") >= 30, 10.0,
                         what="the pipelined requests to be read")
            b.proc.send_signal(signal.SIGTERM)
            status, _, text = h.wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(port, "/readyz")),
                                           5.0, what="/readyz 503")
            self.assertEqual(text, "not ready: draining\n")
            self.assertEqual(http_get(port, "/healthz")[0], 200)
            self.assertEqual(http_get(port, "/metrics")[0], 200)
            self.assertTrue(b.alive(), "the drain ended before the client let go")
            c.close()  # the stuck responses fail; the drain completes
            sender.join(5.0)
            rc = b.wait_exit(timeout=10.0)
            self.assertFalse(b.killed)
            self.assertEqual(rc, 0, b.log_text())
            log = b.log_text()
            self.assertLess(log.index("readiness: not ready (draining)"), log.index("stopping port %d" % b.port))
            self.assertTrue(log.rstrip().endswith("stopped"), log)
            self.assertFalse(h.port_accepts(port), "the HTTP port still accepts after exit")

    @staticmethod
    def _send_quietly(conn, data):
        try:
            conn.sock.settimeout(20.0)
            conn.sock.sendall(data)
        except OSError:
            pass  # closed by the test once /readyz was seen



class TopicTrafficMetrics(unittest.TestCase):
    scrape = HttpMetrics.scrape  # the scrape helper only, not HttpMetrics' tests

    @unittest.skipIf(shutil.which("kcat") is None, "kcat is not installed")
    def test_topic_counters_match_what_was_produced_and_consumed(self):
        with h.Broker() as b:
            lines = "".join("record-%d\n" % i for i in range(250))
            subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", "traffic", "-X", "acks=all"],
                           input=lines.encode(), check=True, timeout=30)
            out = subprocess.run(["kcat", "-C", "-b", b.bootstrap, "-t", "traffic", "-o", "beginning", "-e", "-q"],
                                 capture_output=True, check=True, timeout=30).stdout
            self.assertEqual(out.count(b"\n"), 250)
            m = self.scrape(b)
            self.assertEqual(value(m, "floe_topic_records_in_total", topic="traffic"), 250)
            self.assertEqual(value(m, "floe_topic_records_out_total", topic="traffic"), 250)
            bytes_in = value(m, "floe_topic_bytes_in_total", topic="traffic")
            self.assertGreater(bytes_in, 250 * len("record-0"))
            self.assertEqual(value(m, "floe_topic_bytes_out_total", topic="traffic"), bytes_in)

if __name__ == "__main__":
    h.main()
