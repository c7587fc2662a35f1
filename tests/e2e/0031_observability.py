#!/usr/bin/python3
"""Issue 8 end to end, against a real broker:
- a known confluent-kafka produce and consume run moves the topic, WAL, object-store and metadata counters by what
  was sent and received, and the stored-bytes gauge follows the uploads;
- every metric the Grafana dashboard (docs/grafana-dashboard.json) references is exposed, and every family the
  broker exposes is listed in docs/metrics.md;
- `floe cost` prints an estimate for a broker that ran a known workload, with the request counts it used;
- /v1/cluster reports this broker and every partition with its leader, leader epoch and offsets, and the epoch
  moves by one across a restart."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None

DOCS = os.path.join(h.REPO, "docs")
HTTP_TIMEOUT_S = 5.0
RUN_TIMEOUT_S = 30.0


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def scrape_text(broker):
    status, _, body = http_get(broker.http_port(), "/metrics")
    assert status == 200, status
    return body


def parse_metrics(text):
    """{(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, "unparsable metrics line: %r" % line
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def families(text):
    """{family name: type} from the # TYPE lines."""
    return dict(re.findall(r'^# TYPE (\S+) (\S+)$', text, re.M))


def total(metrics, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def scrape(broker):
    return parse_metrics(scrape_text(broker))


@unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
class KnownTraffic(unittest.TestCase):
    TOPIC = "obs-traffic"
    GROUP = "obs-e2e"
    RECORDS = 600
    VALUE_BYTES = 200

    def produce_and_consume(self, b):
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        futures = admin.create_topics([NewTopic(self.TOPIC, num_partitions=2, replication_factor=1)])
        futures[self.TOPIC].result(timeout=RUN_TIMEOUT_S)
        delivered = []
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5,
                      "compression.type": "none", "enable.idempotence": False})
        for i in range(self.RECORDS):
            value = ("%08d" % i).encode() * (self.VALUE_BYTES // 8)
            p.produce(self.TOPIC, value=value, partition=i % 2,
                      on_delivery=lambda err, msg: delivered.append(err))
            p.poll(0)
        self.assertEqual(p.flush(RUN_TIMEOUT_S), 0)
        self.assertEqual(len(delivered), self.RECORDS)
        self.assertEqual([e for e in delivered if e is not None], [])

        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": self.GROUP, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        try:
            c.subscribe([self.TOPIC])
            got = 0
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while got < self.RECORDS and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None:
                    continue
                self.assertIsNone(msg.error())
                self.assertEqual(len(msg.value()), self.VALUE_BYTES)
                got += 1
            self.assertEqual(got, self.RECORDS)
            # Commit partition 0 at 100 and partition 1 at its end: lags of (half - 100) and 0.
            half = self.RECORDS // 2
            c.commit(offsets=[TopicPartition(self.TOPIC, 0, 100), TopicPartition(self.TOPIC, 1, half)],
                     asynchronous=False)
        finally:
            c.close()

    def test_counters_match_the_traffic_sent_and_received(self):
        with h.Broker() as b:
            before = scrape(b)
            self.produce_and_consume(b)

            def settled():  # appends still completing (e.g. the group's leave) would race the comparisons
                s = scrape(b)
                done = total(s, "floe_wal_append_duration_seconds_count") == total(s, "floe_wal_appends_total")
                return done and total(s, "floe_wal_pending_bytes") == 0 and s
            m = h.wait_until(settled, 10.0, interval=0.1, what="the WAL appends to complete")
            d = lambda name, **labels: total(m, name, **labels) - total(before, name, **labels)  # noqa: E731
            # Topic figures: exactly the records sent and received, batches at least the values' bytes.
            self.assertEqual(d("floe_topic_records_in_total", topic=self.TOPIC), self.RECORDS)
            self.assertEqual(d("floe_topic_records_out_total", topic=self.TOPIC), self.RECORDS)
            bytes_in = d("floe_topic_bytes_in_total", topic=self.TOPIC)
            self.assertGreaterEqual(bytes_in, self.RECORDS * self.VALUE_BYTES)
            self.assertLess(bytes_in, self.RECORDS * (self.VALUE_BYTES + 64))  # record overhead is small
            self.assertEqual(d("floe_topic_bytes_out_total", topic=self.TOPIC), bytes_in)
            # Every Produce request was timed once.
            produces = total(m, "floe_kafka_requests_total", api="Produce")
            self.assertGreaterEqual(produces, 1)
            self.assertEqual(total(m, "floe_kafka_request_duration_seconds_count", api="Produce"), produces)
            # The WAL took every produced byte (plus its entry headers), each append in exactly one group commit.
            self.assertGreaterEqual(d("floe_wal_append_bytes_total"), bytes_in)
            appends = d("floe_wal_appends_total")
            self.assertGreaterEqual(appends, 1)
            self.assertEqual(d("floe_wal_group_commit_appends_sum"), appends)
            self.assertEqual(d("floe_wal_append_duration_seconds_count"), appends)
            self.assertGreaterEqual(d("floe_wal_syncs_total"), 1)
            self.assertEqual(total(m, "floe_wal_pending_bytes"), 0)
            self.assertEqual(total(m, "floe_wal_appends_refused_total"), 0)
            # Metadata: commits of uploaded objects and the topic are compare-and-set txns.
            self.assertGreaterEqual(d("floe_meta_requests_total", op="txn"), 1)
            # Uploads (every 250 ms by default) carry the produced bytes to the object store; the stored-bytes
            # gauge, refreshed after metadata writes, follows.
            def uploaded():
                s = scrape(b)
                return (total(s, "floe_objstore_sent_bytes_total", op="put") >= bytes_in
                        and total(s, "floe_objstore_stored_bytes") >= bytes_in and s)
            s = h.wait_until(uploaded, 15.0, interval=0.3, what="uploads and the stored-bytes gauge")
            self.assertGreaterEqual(total(s, "floe_objstore_stored_objects"), 1)
            self.assertEqual(total(s, "floe_objstore_errors_total"), 0)
            self.assertEqual(total(s, "floe_objstore_request_duration_seconds_count", op="put"),
                             total(s, "floe_objstore_requests_total", op="put"))
            # Partitions led: every partition /v1/cluster lists (the topic and __consumer_offsets).
            status, _, body = http_get(b.http_port(), "/v1/cluster")
            self.assertEqual(status, 200)
            parts = json.loads(body)["partitions"]
            self.assertEqual(total(s, "floe_partitions_led"), len(parts))
            self.assertEqual(len([p for p in parts if p["topic"] == self.TOPIC]), 2)
            self.assertEqual(sum(p["high_watermark"] for p in parts if p["topic"] == self.TOPIC), self.RECORDS)
            # Group lag from the commits (a scrape shows the previous refresh, so wait for a fresh one).
            half = self.RECORDS // 2
            lag = h.wait_until(lambda: (lambda s: s if total(s, "floe_group_lag_total_records", group=self.GROUP)
                                        == half - 100 else None)(scrape(b)), 10.0, interval=0.3, what="group lag")
            self.assertEqual(total(lag, "floe_group_lag_records", group=self.GROUP, topic=self.TOPIC,
                                   partition="0"), half - 100)
            self.assertEqual(total(lag, "floe_group_lag_records", group=self.GROUP, topic=self.TOPIC,
                                   partition="1"), 0)
            self.assertIn(("floe_group_lag_records", frozenset({("group", self.GROUP), ("topic", self.TOPIC),
                                                                ("partition", "1")})), lag)
            self.assertEqual(total(lag, "floe_group_lag_series_dropped"), 0)
            self.assertEqual(b.stop(), 0)


class DashboardAndDocs(unittest.TestCase):
    def test_every_dashboard_metric_is_exposed_and_every_family_documented(self):
        with open(os.path.join(DOCS, "grafana-dashboard.json")) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        referenced = set()
        for e in exprs:
            referenced |= set(re.findall(r'\bfloe_[a-z0-9_]+', e))
        # The cluster row's families exist in cluster mode only: 0181_cluster_observability checks those.
        referenced = {n for n in referenced if not n.startswith(("floe_cluster_", "floe_controller_",
                                                                 "floe_wal_object_"))}
        self.assertGreater(len(referenced), 30)
        with h.Broker() as b:
            with b.connect() as c:  # some traffic, though families render before their first series
                c.request(h.API_METADATA, 12)
            text = scrape_text(b)
            fams = families(text)

            def exposed(name):
                if name in fams:
                    return True
                base = re.sub(r'_(bucket|sum|count)$', "", name)
                return base != name and fams.get(base) == "histogram"
            missing = sorted(n for n in referenced if not exposed(n))
            self.assertEqual(missing, [], "dashboard metrics the broker does not expose")
            with open(os.path.join(DOCS, "metrics.md")) as f:
                documented = set(re.findall(r'`(floe_[a-z0-9_]+)`', f.read()))
            self.assertEqual(sorted(set(fams) - documented), [], "exposed families missing from docs/metrics.md")
            self.assertEqual(b.stop(), 0)


class CostReport(unittest.TestCase):
    def run_cost(self, args):
        return h.run_floe(["cost"] + args, timeout=30)

    @unittest.skipIf(shutil.which("kcat") is None, "kcat is not installed")
    def test_cost_prints_the_estimate_and_the_request_counts_it_used(self):
        with h.Broker(args=["--zone", "use1-az1"]) as b:
            lines = "".join("cost-record-%05d\n" % i for i in range(2000))
            subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", "cost", "-X", "acks=all"],
                           input=lines.encode(), check=True, timeout=30)
            subprocess.run(["kcat", "-C", "-b", b.bootstrap, "-t", "cost", "-o", "beginning", "-e", "-q"],
                           capture_output=True, check=True, timeout=30)
            target = "127.0.0.1:%d" % b.http_port()

            def requests_by_class(m):
                put = sum(total(m, "floe_objstore_requests_total", op=op) for op in ("put", "multipart", "list"))
                get = sum(total(m, "floe_objstore_requests_total", op=op) for op in ("get", "head"))
                return int(put), int(get), int(total(m, "floe_objstore_requests_total", op="delete"))

            # Wait for the uploads to settle so that the counts cannot move under the report.
            h.wait_until(lambda: requests_by_class(scrape(b))[0] >= 1 and
                         total(scrape(b), "floe_objstore_stored_bytes") > 0, 15.0, interval=0.3, what="an upload")
            stable = None
            for _ in range(20):
                before = requests_by_class(scrape(b))
                r = self.run_cost(["--http", target])
                after = requests_by_class(scrape(b))
                if before == after:
                    stable = before
                    break
            self.assertIsNotNone(stable, "object-store counts kept moving")
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout
            self.assertIn("totals in the windows: PUT/COPY/POST/LIST %d, GET/HEAD %d, DELETE %d" % stable, out)
            self.assertRegex(out, r"%s\s+\S+\s+put\s+%d\s" % (re.escape(target), total(scrape(b),
                             "floe_objstore_requests_total", op="put")))
            self.assertIn("aws.amazon.com/s3/pricing", out)
            self.assertRegex(out, r"compute\s+730\s+broker-hours\s+\$0\.096\s+\$70\.08")
            self.assertRegex(out, r"object storage\s+\S+\s+GB-month\s+\$0\.023")
            self.assertRegex(out, r"PUT/COPY/POST/LIST requests\s+\S+\s+x1,000 requests\s+\$0\.005")
            self.assertIn("all brokers in one zone", out)
            total_usd = float(re.search(r"^total\s+\$(\S+)$", out, re.M).group(1))
            self.assertGreaterEqual(total_usd, 70.08)

            # Two scrapes one second apart, a price file and flag overrides.
            tmp = tempfile.mkdtemp(prefix="floe-e2e-cost-")
            self.addCleanup(shutil.rmtree, tmp, True)
            prices = os.path.join(tmp, "prices.txt")
            with open(prices, "w") as f:
                f.write("# test prices\nsource = e2e quote\ncompute_per_hour = 1\nput_per_1000 = 0\n")
            r = self.run_cost(["--http", target, "--interval", "1", "--prices", prices, "--compute-per-hour", "2",
                               "--cross-zone-fraction", "0.5"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("prices: e2e quote; overridden: price file %s, compute_per_hour = 2" % prices, r.stdout)
            self.assertRegex(r.stdout, r"compute\s+730\s+broker-hours\s+\$2\s+\$1460\.00")
            self.assertIn("cross-zone share of client traffic: 50.0% (set by --cross-zone-fraction)", r.stdout)
            self.assertRegex(r.stdout, r"%s\s+1\.\d\s+put\s" % re.escape(target))  # a ~1 s window

            # Errors: nothing listening (1), usage (2).
            r = self.run_cost(["--http", "127.0.0.1:%d" % h.free_port(), "--timeout-ms", "2000"])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("cannot connect", r.stderr)
            self.assertEqual(self.run_cost(["--bogus", "1"]).returncode, 2)
            self.assertEqual(self.run_cost(["--interval", "0"]).returncode, 2)
            with open(prices, "w") as f:
                f.write("storage_per_gb_month = cheap\n")
            r = self.run_cost(["--http", target, "--prices", prices])
            self.assertEqual(r.returncode, 2)
            self.assertIn("line 1: storage_per_gb_month", r.stderr)
            self.assertEqual(b.stop(), 0)


class ClusterStatus(unittest.TestCase):
    @unittest.skipIf(shutil.which("kcat") is None, "kcat is not installed")
    def test_v1_cluster_reports_brokers_partitions_leaders_and_epochs(self):
        with h.Broker(node_id=4, args=["--zone", "z-a", "--num-partitions", "3"]) as b:
            subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", "three", "-X", "acks=all"],
                           input=b"a\nb\nc\nd\ne\n", check=True, timeout=30)
            status, headers, body = http_get(b.http_port(), "/v1/cluster")
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("Content-Type"), "application/json")
            doc = json.loads(body)
            self.assertEqual(set(doc), {"cluster_id", "mode", "self", "brokers", "partitions"})
            with open(os.path.join(b.data_dir, "cluster.id")) as f:
                self.assertEqual(doc["cluster_id"], f.read().strip())
            self.assertEqual(doc["mode"], "single-broker")
            self.assertEqual(doc["self"], 4)
            self.assertEqual(doc["brokers"], [{"node_id": 4, "host": "127.0.0.1", "port": b.port, "rack": "z-a",
                                               "state": "ready"}])
            parts = [p for p in doc["partitions"] if p["topic"] == "three"]
            self.assertEqual([p["partition"] for p in parts], [0, 1, 2])
            for p in doc["partitions"]:
                self.assertEqual(set(p), {"topic", "partition", "leader", "leader_epoch", "log_start_offset",
                                          "high_watermark"})
                self.assertEqual(p["leader"], 4)
            epoch = parts[0]["leader_epoch"]
            self.assertGreaterEqual(epoch, 1)
            self.assertEqual({p["leader_epoch"] for p in doc["partitions"]}, {epoch})
            self.assertEqual(sum(p["high_watermark"] for p in parts), 5)
            self.assertEqual({p["log_start_offset"] for p in parts}, {0})
            m = scrape(b)
            self.assertEqual(total(m, "floe_broker_info", node_id="4", zone="z-a", cluster_id=doc["cluster_id"]), 1)

            b.restart()
            status, _, body = http_get(b.http_port(), "/v1/cluster")
            self.assertEqual(status, 200)
            doc2 = json.loads(body)
            parts2 = [p for p in doc2["partitions"] if p["topic"] == "three"]
            self.assertEqual({p["leader_epoch"] for p in parts2}, {epoch + 1})
            self.assertEqual(sum(p["high_watermark"] for p in parts2), 5)
            self.assertEqual(b.stop(), 0)


class Readiness(unittest.TestCase):
    RECORDS = 3000

    @unittest.skipIf(shutil.which("kcat") is None, "kcat is not installed")
    def test_ready_only_once_the_partitions_are_open(self):
        # Data left in the WAL only (no upload) by a kill -9 is replayed at the next start. A poller hammers
        # /readyz from before the restart: until the partitions are open it gets no answer or 503 "starting", and
        # the first 200 already comes with every replayed record visible in /v1/cluster.
        http_port = h.free_port()
        args = ["--http", "127.0.0.1:%d" % http_port, "--upload-ms", "3600000", "--upload-bytes", str(1 << 32)]
        with h.Broker(args=args) as b:
            lines = "".join("ready-%05d\n" % i for i in range(self.RECORDS))
            subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", "replayed", "-X", "acks=all"],
                           input=lines.encode(), check=True, timeout=30)
            b.stop(sig=signal.SIGKILL)
            seen = []  # (status or exception name, body, high watermark when 200)
            stop = threading.Event()

            def poll():
                deadline = time.monotonic() + 20
                while not stop.is_set() and time.monotonic() < deadline:
                    try:
                        status, _, body = http_get(http_port, "/readyz")
                        hw = None
                        if status == 200:
                            _, _, cluster = http_get(http_port, "/v1/cluster")
                            hw = sum(p["high_watermark"] for p in json.loads(cluster)["partitions"]
                                     if p["topic"] == "replayed")
                        seen.append((status, body, hw))
                        if status == 200:
                            return
                    except OSError as e:
                        seen.append((type(e).__name__, "", None))
                        time.sleep(0.005)
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                b.start()
                poller.join(20)
            finally:
                stop.set()
            self.assertFalse(poller.is_alive())
            answered = [s for s in seen if isinstance(s[0], int)]
            self.assertTrue(answered and answered[-1][0] == 200, seen[-5:])
            self.assertEqual(answered[-1][2], self.RECORDS, "ready before the replayed partition was open")
            for status, body, _ in answered[:-1]:
                self.assertEqual((status, body), (503, "not ready: starting\n"))
            log = b.log_text()
            self.assertLess(log.rindex("listening on"), log.rindex("readiness: ready"))
            self.assertEqual(b.stop(), 0)


if __name__ == "__main__":
    h.main()
