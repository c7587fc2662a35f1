"""Cluster-mode pieces for end-to-end tests (stdlib only; runs under /usr/bin/python3).

  * Etcd: a single-member etcd (Debian etcd-server) on free 127.0.0.1 ports with a temporary data dir.
  * Moto: an S3 API server (`python3 -m moto.server`, the default python3 has moto) on a free port, with a bucket.
  * Cluster: N `floe serve` brokers in cluster mode (--meta etcd://, --objects s3://, --wal object) on them.
Every process is stopped by PID at exit; every wait is bounded.
"""

import os
import threading
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import floe_harness as h

BUCKET = "floe"
S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def _http_ok(url, method="GET", timeout=1.0):
    try:
        req = urllib.request.Request(url, method=method, data=b"" if method in ("PUT", "POST") else None)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return 200 <= r.status < 300
    except Exception:
        return False


class Etcd:
    def __init__(self):
        self._tmp = tempfile.mkdtemp(prefix="floe-etcd-")
        self.proc = None
        self.port = None

    def start(self, timeout=20.0):
        if shutil.which("etcd") is None:
            raise unittest_skip("etcd is not installed (Debian etcd-server)")
        for _ in range(h.PORT_ATTEMPTS):
            self.port, peer = h.free_port(), h.free_port()
            client = "http://127.0.0.1:%d" % self.port
            peer_url = "http://127.0.0.1:%d" % peer
            log = open(os.path.join(self._tmp, "etcd.log"), "ab")
            self.proc = subprocess.Popen(
                ["etcd", "--name=floe-e2e", "--data-dir=" + os.path.join(self._tmp, "data"),
                 "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                 "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
                 "--initial-cluster=floe-e2e=" + peer_url, "--auto-compaction-mode=revision",
                 "--auto-compaction-retention=10000", "--log-level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _http_ok(client + "/health"):
                    return self
                time.sleep(0.05)
            h.stop_process(self.proc, signal.SIGKILL)
        raise RuntimeError("etcd did not come up")

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc:
            h.stop_process(self.proc, signal.SIGTERM)
        shutil.rmtree(self._tmp, ignore_errors=True)


class Moto:
    def __init__(self):
        self.proc = None
        self.port = None
        self._log = tempfile.NamedTemporaryFile(prefix="floe-moto-", suffix=".log", delete=False)

    def start(self, timeout=30.0):
        python = shutil.which("python3", path="/usr/local/bin:" + os.environ.get("PATH", ""))
        for _ in range(h.PORT_ATTEMPTS):
            self.port = h.free_port()
            self.proc = subprocess.Popen([python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _http_ok(self.url + "/moto-api/"):
                    if not _http_ok("%s/%s" % (self.url, BUCKET), method="PUT", timeout=5.0):
                        raise RuntimeError("moto: cannot create bucket " + BUCKET)
                    return self
                time.sleep(0.1)
            h.stop_process(self.proc, signal.SIGKILL)
        raise RuntimeError("moto server did not come up")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def objects_url(self):
        return "s3://%s?endpoint=%s" % (BUCKET, self.url)

    def stop(self):
        if self.proc:
            h.stop_process(self.proc, signal.SIGTERM)
        try:
            os.unlink(self._log.name)
        except OSError:
            pass


class unittest_skip(Exception):
    pass


class Cluster:
    """N brokers (node ids 1..N) on one etcd and one moto bucket."""

    def __init__(self, brokers=3, session_timeout_ms=2000, extra_args=()):
        self.etcd = Etcd()
        self.moto = Moto()
        self.n = brokers
        self.session_timeout_ms = session_timeout_ms
        self.extra_args = list(extra_args)
        self.brokers = {}

    def broker_args(self):
        return ["--meta", "etcd://" + self.etcd.endpoint, "--objects", self.moto.objects_url(), "--wal", "object",
                "--broker-session-timeout-ms", str(self.session_timeout_ms)] + self.extra_args

    def add_broker(self, node_id):
        b = h.Broker(args=self.broker_args(), env=S3_ENV, node_id=node_id)
        self.brokers[node_id] = b
        b.start(timeout=30.0)
        return b

    def __enter__(self):
        try:
            self.etcd.start()
            self.moto.start()
            for i in range(1, self.n + 1):
                self.add_broker(i)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        for b in self.brokers.values():
            try:
                b.stop(signal.SIGKILL) if b.alive() and exc_type is not None else b.stop()
            except Exception:
                pass
            if exc_type is not None:
                import sys
                sys.stderr.write("---- broker %s log ----\n%s\n" % (b.node_id, b.log_text()[-20000:]))
            b.cleanup()
        self.moto.stop()
        self.etcd.stop()
        return False

    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers.values() if b.alive())


class PartitionLoad:
    """An idempotent acks=all confluent-kafka producer writing one record to every partition of `topic` per round
    (values "p<partition>-<seq>", padded to `value_bytes` when given), polling delivery reports in between.
    `producer_config` overrides the producer's settings (timeouts: a paused broker holds in-flight requests until
    they time out, as with Kafka). Records each ack's (partition, offset) -> value and ack times per partition.
    An ack may come without an offset: librdkafka acks the records of a request that failed "possibly persisted"
    (a timeout, a dropped connection) implicitly, without offsets, once a later request of the partition succeeds
    (they were written: sequences are in order). Those are kept apart, (partition, value), and checked by value."""

    def __init__(self, bootstrap, topic, partitions, value_bytes=0, producer_config=None):
        from confluent_kafka import Producer
        config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 60000, "topic.metadata.refresh.interval.ms": 500, "retry.backoff.ms": 50}
        config.update(producer_config or {})
        self.p = Producer(config)
        self.topic = topic
        self.partitions = partitions
        self.value_bytes = value_bytes
        self.acked = {}  # (partition, offset) -> value
        self.acked_without_offset = []  # (partition, value): implicit acks (see the class comment)
        self.last_ack = {p: 0.0 for p in range(partitions)}
        self.ack_times = {p: [] for p in range(partitions)}
        self.errors = []
        self.seq = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append(str(err))
            return
        if msg.offset() is None or msg.offset() < 0:
            self.acked_without_offset.append((msg.partition(), msg.value()))
        else:
            self.acked[(msg.partition(), msg.offset())] = msg.value()
        now = time.monotonic()
        self.last_ack[msg.partition()] = now
        self.ack_times[msg.partition()].append(now)

    def run(self):
        while not self.stop.is_set():
            for p in range(self.partitions):
                self.seq += 1
                value = b"p%d-%d" % (p, self.seq)
                if self.value_bytes:
                    value = (value + b"-").ljust(self.value_bytes, b"x")
                try:
                    self.p.produce(self.topic, value=value, partition=p, on_delivery=self.on_delivery)
                except BufferError:
                    pass
            self.p.poll(0.02)

    def start(self):
        self.thread.start()
        return self

    def finish(self, timeout=60):
        """Stops producing and flushes (bounded); returns how many records are still unacknowledged."""
        self.stop.set()
        self.thread.join(timeout=10)
        return self.p.flush(timeout)

    def first_ack_after(self, p, t):
        return next(x for x in self.ack_times[p] if x > t)

    def all_acked_after(self, t):
        return all(self.last_ack[p] > t for p in range(self.partitions))

    def acked_bytes(self):
        return sum(len(v) for v in self.acked.values()) + sum(len(v) for _, v in self.acked_without_offset)

    def acked_count(self):
        return len(self.acked) + len(self.acked_without_offset)

    def lost(self, seen):
        """Acked records not in `seen` ({(partition, offset): value} read back): an ack with an offset must be read
        at that offset; one without (an implicit ack) anywhere in its partition."""
        lost = [(k, v) for k, v in self.acked.items() if seen.get(k) != v]
        values = {}
        for (p, _), v in seen.items():
            values.setdefault(p, set()).add(v)
        lost += [((p, None), v) for p, v in self.acked_without_offset if v not in values.get(p, ())]
        return lost


def leaders(admin, topic):
    """{partition: leader node id} of `topic` as Metadata shows it (partitions without a leader left out)."""
    md = admin.list_topics(topic=topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return {}
    return {p: pm.leader for p, pm in t.partitions.items() if pm.leader >= 0}
