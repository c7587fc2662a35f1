"""End-to-end test harness for Floe (stdlib only; runs under /usr/bin/python3).

Pieces:
  * Broker: starts `floe serve` on a free 127.0.0.1 port with a temporary data dir, waits (bounded) until the
    port accepts, writes the broker's stdout+stderr to a log file, and stops it by PID (SIGTERM, then SIGKILL after
    a bound). Use it as a context manager.
  * run_floe / run_client: run a short-lived command with a hard timeout.
  * A tiny hand-written Kafka wire codec (request headers v1/v2, ApiVersions v0-4 and Metadata v0-12 bodies and
    responses) and KafkaConn, a blocking socket with per-call deadlines, for raw-socket tests.
  * main(): runs the unittest module; exits 77 (ctest SKIP_RETURN_CODE) when every test was skipped because a
    client is genuinely missing, 1 on any failure, 0 otherwise.

Environment:
  FLOE_BIN            the floe binary (default: <repo>/build/floe)
  FLOE_NODE_MODULES   node_modules with kafkajs and @platformatic/kafka (default: <repo>/tests/clients/node_modules)
  FLOE_E2E_KEEP=1     keep temporary data dirs and logs (their paths are printed)
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SKIP_RC = 77

START_TIMEOUT_S = 10.0   # until the port accepts
STOP_TIMEOUT_S = 10.0    # SIGTERM -> exit, before SIGKILL
KILL_TIMEOUT_S = 5.0     # SIGKILL -> reaped
IO_TIMEOUT_S = 5.0       # default socket deadline for raw requests
PORT_ATTEMPTS = 5        # free-port races: retries when the chosen port was taken meanwhile

# Settings every floe process started here gets unless the test sets them (a flag or its own env beats these):
# an ephemeral admin HTTP port, since the default 127.0.0.1:9644 would collide between tests running in parallel.
DEFAULT_FLOE_ENV = {"FLOE_HTTP": "127.0.0.1:0"}


def floe_bin():
    path = os.environ.get("FLOE_BIN") or os.path.join(REPO, "build", "floe")
    if not os.access(path, os.X_OK):
        raise RuntimeError("floe binary not found or not executable: %s (set FLOE_BIN)" % path)
    return path


def node_modules():
    return os.environ.get("FLOE_NODE_MODULES") or os.path.join(REPO, "tests", "clients", "node_modules")


def free_port():
    """A port that was free a moment ago (Broker retries if it is taken before floe binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate() until it returns a truthy value or the deadline passes (then raises TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
    """Sends sig to proc (by PID), waits up to timeout, then SIGKILLs. Returns (returncode, killed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=KILL_TIMEOUT_S), True


def run_floe(args, env=None, timeout=15.0, cwd=None):
    """Runs `floe ARGS` to completion (bounded); returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    # Settings in the caller's environment must not leak into tests.
    for k in list(full_env):
        if k.startswith("FLOE_") and k not in ("FLOE_BIN",):
            del full_env[k]
    full_env.update(DEFAULT_FLOE_ENV)
    if env:
        full_env.update(env)
    return subprocess.run([floe_bin()] + list(args), env=full_env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_client(cmd, timeout=30.0, env=None):
    """Runs a client command (kcat, node ...) to completion, killed by subprocess.run after timeout."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class BrokerStartError(RuntimeError):
    pass


class Broker:
    """A `floe serve` process on 127.0.0.1:<free port>.

    with Broker() as b:
        b.bootstrap   -> "127.0.0.1:PORT"
        b.log_text()  -> everything floe wrote so far
    """

    def __init__(self, args=(), env=None, data_dir=None, node_id=None):
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.node_id = node_id
        self._tmp = tempfile.mkdtemp(prefix="floe-e2e-")
        self.data_dir = data_dir or os.path.join(self._tmp, "data")
        self.log_path = os.path.join(self._tmp, "floe.log")
        self.proc = None
        self.port = None
        self.returncode = None
        self.killed = False
        self._run_log_offset = 0  # where this run's output starts in the log (a restart appends)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self, timeout=START_TIMEOUT_S):
        last_log = ""
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            log_offset = len(self.log_text())
            self._run_log_offset = log_offset
            self._spawn()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_accepts(self.port, timeout=0.2):
                    return self
                time.sleep(0.02)
            else:
                stop_process(self.proc, signal.SIGKILL)
                raise BrokerStartError("floe did not accept on port %d within %.1fs; log:\n%s"
                                       % (self.port, timeout, self.log_text()))
            last_log = self.log_text()[log_offset:]  # this attempt's output only
            if "cannot listen" in last_log and "in use" in last_log:
                continue  # someone took the port between free_port() and bind: try another
            raise BrokerStartError("floe exited with %s before accepting; log:\n%s" % (self.proc.returncode, last_log))
        raise BrokerStartError("no free port after %d attempts; last log:\n%s" % (PORT_ATTEMPTS, last_log))

    def _spawn(self):
        cmd = [floe_bin(), "serve", "--listen", "127.0.0.1:%d" % self.port, "--data-dir", self.data_dir]
        if self.node_id is not None:
            cmd += ["--node-id", str(self.node_id)]
        cmd += self.extra_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOE_") or k == "FLOE_BIN"}
        env.update(DEFAULT_FLOE_ENV)
        env.update(self.extra_env)
        # Append: a restarted broker (same Broker object) keeps earlier output in the same log.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self._tmp)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Stops the broker by PID; returns its exit code (negative: killed by a signal)."""
        if self.proc is None:
            return None
        self.returncode, self.killed = stop_process(self.proc, sig, timeout)
        return self.returncode

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        """Waits (bounded) for the broker to exit on its own, e.g. after a signal the test sent; SIGKILLs it past
        the bound (then .killed is True). Returns the exit code."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.returncode, self.killed = stop_process(self.proc, signal.SIGKILL, KILL_TIMEOUT_S)[0], True
        return self.returncode

    def restart(self, timeout=START_TIMEOUT_S):
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        if os.environ.get("FLOE_E2E_KEEP"):
            sys.stderr.write("floe e2e: kept %s\n" % self._tmp)
            return
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop(signal.SIGKILL)
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            sys.stderr.write("---- floe log (%s) ----\n%s---- end of floe log ----\n"
                             % (self.log_path, self.log_text()))
        self.cleanup()
        return False

    # -- observation ----------------------------------------------------------------------------------------------

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_log(self, needle, timeout=5.0):
        """Waits (bounded) until the log contains needle; returns the log text."""
        return wait_until(lambda: needle in self.log_text() and self.log_text(), timeout,
                          what="%r in the floe log" % needle)

    def log_lines_with(self, *needles):
        return [line for line in self.log_text().splitlines() if all(n in line for n in needles)]

    def wait_for_log_line(self, *needles, timeout=5.0):
        """Waits (bounded) for a log line containing every needle; returns the matching lines."""
        return wait_until(lambda: self.log_lines_with(*needles), timeout,
                          what="a floe log line with %s" % (needles,))

    def connect(self, timeout=IO_TIMEOUT_S):
        return KafkaConn(self.port, timeout=timeout)

    def http_port(self, timeout=5.0):
        """The admin HTTP port, from this run's "http listening on HOST:PORT" log line."""
        def find():
            for line in self.log_text()[self._run_log_offset:].splitlines():
                if "http listening on " in line:
                    return int(line.rsplit(":", 1)[1])
            return None
        return wait_until(find, timeout, what="the 'http listening on' log line")


# ---------------------------------------------------------------------------------------------------------------
# Kafka wire codec (just enough for ApiVersions and Metadata)
# ---------------------------------------------------------------------------------------------------------------

API_PRODUCE = 0
API_METADATA = 3
API_API_VERSIONS = 18

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_INVALID_TOPIC_EXCEPTION = 17
ERR_UNSUPPORTED_VERSION = 35
ERR_UNKNOWN_TOPIC_ID = 100


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def raw(self, b):
        self.buf += b
        return self

    def i8(self, v):
        self.buf += struct.pack(">b", v)
        return self

    def boolean(self, v):
        return self.i8(1 if v else 0)

    def i16(self, v):
        self.buf += struct.pack(">h", v)
        return self

    def i32(self, v):
        self.buf += struct.pack(">i", v)
        return self

    def uvarint(self, v):
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return self

    def string(self, s):  # int16 length; None -> -1
        if s is None:
            return self.i16(-1)
        b = s.encode()
        return self.i16(len(b)).raw(b)

    def compact_string(self, s):  # uvarint length+1; None -> 0
        if s is None:
            return self.uvarint(0)
        b = s.encode()
        return self.uvarint(len(b) + 1).raw(b)

    def uuid(self, u):
        return self.raw(u.bytes if u is not None else bytes(16))

    def tags(self):  # no tagged fields
        return self.uvarint(0)

    def bytes(self):
        return bytes(self.buf)


# -- record batch helpers: CRC-32C (Castagnoli, reflected 0x82F63B78, table-driven) and zig-zag varints ------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    """Zig-zag varint (Kafka's record fields)."""
    return Writer().uvarint((v << 1) ^ (v >> 63)).bytes()


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("need %d bytes at offset %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self):
        return self._unpack(">b", 1)

    def boolean(self):
        v = self.i8()
        if v not in (0, 1):
            raise DecodeError("boolean %d" % v)
        return v == 1

    def i16(self):
        return self._unpack(">h", 2)

    def i32(self):
        return self._unpack(">i", 4)

    def i64(self):
        return self._unpack(">q", 8)

    def uvarint(self):
        v, shift = 0, 0
        for _ in range(5):
            b = self.i8() & 0xFF
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise DecodeError("varint too long")

    def string(self):
        n = self.i16()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError("string length %d" % n)
        return self.take(n).decode()

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def uuid(self):
        return uuid.UUID(bytes=self.take(16))

    def array(self, flexible, item):
        """int32 count (or uvarint count+1 when flexible); None for a null array."""
        n = self.uvarint() - 1 if flexible else self.i32()
        if n == -1:
            return None
        if n < -1 or n > len(self.data):
            raise DecodeError("array length %d" % n)
        return [item() for _ in range(n)]

    def str_(self, flexible):
        return self.compact_string() if flexible else self.string()

    def tags(self):
        """Skips a tagged-field section; returns {tag: bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def remaining(self):
        return len(self.data) - self.pos

    def expect_end(self):
        if self.remaining():
            raise DecodeError("%d trailing bytes" % self.remaining())


def request_header_version(api_key, version):
    if api_key == API_API_VERSIONS:
        return 2 if version >= 3 else 1
    if api_key == API_METADATA:
        return 2 if version >= 9 else 1
    return 1


def response_header_version(api_key, version):
    if api_key == API_API_VERSIONS:
        return 0  # always v0, so that a client can read it before it knows the broker's versions
    if api_key == API_METADATA:
        return 1 if version >= 9 else 0
    return 0


def encode_request(api_key, version, correlation_id, body=b"", client_id="floe-e2e", header_version=None):
    """A complete request frame (int32 size prefix + header v1/v2 + body)."""
    if header_version is None:
        header_version = request_header_version(api_key, version)
    w = Writer().i16(api_key).i16(version).i32(correlation_id).string(client_id)
    if header_version >= 2:
        w.tags()
    payload = w.bytes() + bytes(body)
    return struct.pack(">i", len(payload)) + payload


def api_versions_body(version, software_name="floe-e2e", software_version="1.0"):
    if version < 3:
        return b""
    return Writer().compact_string(software_name).compact_string(software_version).tags().bytes()


def metadata_body(version, topics=None, allow_auto_topic_creation=False, topic_ids=None):
    """topics: None -> all topics (v0: empty list), else a list of names. topic_ids (v10+): list of UUIDs asked
    by id only (name null)."""
    w = Writer()
    flexible = version >= 9
    entries = []
    if topics is not None:
        entries += [(None, t) for t in topics]
    if topic_ids:
        entries += [(u, None) for u in topic_ids]
    if topics is None and not topic_ids:
        if version == 0:
            w.i32(0)
        elif flexible:
            w.uvarint(0)
        else:
            w.i32(-1)
    else:
        if flexible:
            w.uvarint(len(entries) + 1)
        else:
            w.i32(len(entries))
        for tid, name in entries:
            if version >= 10:
                w.uuid(tid)
            if flexible:
                w.compact_string(name)
                w.tags()
            else:
                w.string(name)
    if version >= 4:
        w.boolean(allow_auto_topic_creation)
    if 8 <= version <= 10:
        w.boolean(False)  # include_cluster_authorized_operations
    if version >= 8:
        w.boolean(False)  # include_topic_authorized_operations
    if flexible:
        w.tags()
    return w.bytes()


def decode_response_header(data, header_version):
    r = Reader(data)
    corr = r.i32()
    if header_version >= 1:
        r.tags()
    return corr, r


def decode_api_versions(version, r):
    flexible = version >= 3
    out = {"error_code": r.i16()}

    def key():
        k = {"api_key": r.i16(), "min_version": r.i16(), "max_version": r.i16()}
        if flexible:
            r.tags()
        return k

    out["api_keys"] = r.array(flexible, key)
    if version >= 1:
        out["throttle_time_ms"] = r.i32()
    if flexible:
        out["tags"] = r.tags()
    r.expect_end()
    return out


def decode_metadata(version, r):
    flexible = version >= 9
    out = {}
    if version >= 3:
        out["throttle_time_ms"] = r.i32()

    def broker():
        b = {"node_id": r.i32(), "host": r.str_(flexible), "port": r.i32()}
        if version >= 1:
            b["rack"] = r.str_(flexible)
        if flexible:
            r.tags()
        return b

    out["brokers"] = r.array(flexible, broker)
    if version >= 2:
        out["cluster_id"] = r.str_(flexible)
    if version >= 1:
        out["controller_id"] = r.i32()

    def int_array():
        return r.array(flexible, r.i32)

    def partition():
        p = {"error_code": r.i16(), "partition_index": r.i32(), "leader_id": r.i32()}
        if version >= 7:
            p["leader_epoch"] = r.i32()
        p["replica_nodes"] = int_array()
        p["isr_nodes"] = int_array()
        if version >= 5:
            p["offline_replicas"] = int_array()
        if flexible:
            r.tags()
        return p

    def topic():
        t = {"error_code": r.i16(), "name": r.str_(flexible)}
        if version >= 10:
            t["topic_id"] = r.uuid()
        if version >= 1:
            t["is_internal"] = r.boolean()
        t["partitions"] = r.array(flexible, partition)
        if version >= 8:
            t["topic_authorized_operations"] = r.i32()
        if flexible:
            r.tags()
        return t

    out["topics"] = r.array(flexible, topic)
    if 8 <= version <= 10:
        out["cluster_authorized_operations"] = r.i32()
    if flexible:
        r.tags()
    r.expect_end()
    return out


def decode_response(api_key, version, frame_body, header_version=None):
    """frame_body: a response frame without its size prefix. Returns (correlation_id, decoded dict)."""
    if header_version is None:
        header_version = response_header_version(api_key, version)
    corr, r = decode_response_header(frame_body, header_version)
    if api_key == API_API_VERSIONS:
        return corr, decode_api_versions(version, r)
    if api_key == API_METADATA:
        return corr, decode_metadata(version, r)
    raise ValueError("no decoder for api key %d" % api_key)


class ConnectionClosed(Exception):
    def __init__(self, message, buffered=0):
        super().__init__(message)
        self.buffered = buffered  # bytes of an incomplete frame received before the close


class KafkaConn:
    """A blocking TCP connection with a deadline on every read."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT_S):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self._buf = bytearray()
        self._next_corr = 1
        self.local_port = self.sock.getsockname()[1]
        self.peer_tag = "127.0.0.1:%d" % self.local_port  # how the broker's log names this connection

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def next_correlation_id(self):
        c = self._next_corr
        self._next_corr += 1
        return c

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete frame before the deadline (%d of %d bytes)" % (len(self._buf), n))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed("peer closed the connection (%d bytes buffered)" % len(self._buf),
                                       len(self._buf))
            self._buf += chunk

    def recv_frame(self, timeout=None):
        """One response frame body (without the size prefix)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._fill(4, deadline)
        (size,) = struct.unpack(">i", self._buf[:4])
        if size < 0 or size > 64 * 1024 * 1024:
            raise DecodeError("response size %d" % size)
        self._fill(4 + size, deadline)
        body = bytes(self._buf[4:4 + size])
        del self._buf[:4 + size]
        return body

    def request(self, api_key, version, body=None, client_id="floe-e2e", timeout=None):
        """Sends one request and decodes the response. Returns (correlation_id, decoded)."""
        if body is None:
            body = api_versions_body(version) if api_key == API_API_VERSIONS else metadata_body(version)
        corr = self.next_correlation_id()
        self.send(encode_request(api_key, version, corr, body, client_id))
        got, decoded = decode_response(api_key, version, self.recv_frame(timeout))
        if got != corr:
            raise DecodeError("correlation id %d, expected %d" % (got, corr))
        return corr, decoded

    def wait_closed(self, timeout):
        """True if the peer closes (EOF or reset) within timeout; bytes it sends first are discarded.
        False if the connection is still open at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True


class BrokerTestCase(unittest.TestCase):
    """One broker for the whole class. At the end the broker must still be running and must exit 0 on SIGTERM
    (a crash or hang during any test fails the class); its log is written to stderr, which ctest shows on failure."""

    broker_args = ()
    broker_env = None
    broker_node_id = None

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(args=cls.broker_args, env=cls.broker_env, node_id=cls.broker_node_id)
        cls.broker.__enter__()

    @classmethod
    def tearDownClass(cls):
        b = cls.broker
        was_alive = b.alive()
        rc = b.stop()
        sys.stderr.write("---- floe log (%s) ----\n%s---- end of floe log ----\n" % (b.log_path, b.log_text()))
        b.cleanup()
        if not was_alive:
            raise AssertionError("the broker died during the tests (exit code %s)" % rc)
        if rc != 0 or b.killed:
            raise AssertionError("the broker exited with %s on SIGTERM (killed: %s)" % (rc, b.killed))


# ---------------------------------------------------------------------------------------------------------------
# Running a test module
# ---------------------------------------------------------------------------------------------------------------

def main():
    """unittest.main() with ctest exit codes: 0 ok, 1 failure, 77 when every test was skipped."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    result = prog.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun > 0 and len(result.skipped) == result.testsRun:
        sys.stderr.write("all tests skipped: exiting %d\n" % SKIP_RC)
        sys.exit(SKIP_RC)
    sys.exit(0)


def metric(broker, name, **labels):
    """The sum of the samples of `name` on the broker's /metrics whose labels include `labels`."""
    conn = http.client.HTTPConnection("127.0.0.1", broker.http_port(), timeout=10)
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    total = 0.0
    for m in re.finditer(r'^%s(?:\{([^}]*)\})? (\S+)$' % re.escape(name), body, re.M):
        have = set(re.findall(r'([a-zA-Z_]+)="([^"]*)"', m.group(1) or ""))
        if set(labels.items()) <= have:
            total += float(m.group(2))
    return total
