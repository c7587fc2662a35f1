#!/usr/bin/python3
"""`floe topic|group|config` against a running broker over the Kafka protocol: create, list, describe (log start
and high watermark after kcat produced), config alter/describe, group list/describe with lag after a kcat -G
consumer committed offsets, delete; and the failures: one stderr line naming the problem, exit 1 for the broker
or network, 2 for usage, bounded waits on an unreachable or silent bootstrap."""
import shutil
import socket
import time
import unittest

import floe_harness as h

KCAT = shutil.which("kcat")
try:
    from confluent_kafka import Consumer
except ImportError:  # pragma: no cover - only when the module is genuinely absent
    Consumer = None
CLI_TIMEOUT = 20


def table(text, first):
    """The table whose header row starts with `first`: a list of dicts, column name -> cell."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cols = line.split()
        if cols and cols[0] == first:
            out = []
            for row in lines[i + 1:]:
                cells = row.split()
                if len(cells) != len(cols):
                    break
                out.append(dict(zip(cols, cells)))
            return out
    raise AssertionError("no table starting with %s in:\n%s" % (first, text))


@unittest.skipIf(KCAT is None, "kcat is not installed")
class AdminCli(h.BrokerTestCase):
    broker_args = ("--auto-create-topics-enable", "false")
    broker_node_id = 3

    def floe(self, *args, env=None, bootstrap=True):
        argv = list(args) + (["--bootstrap", self.broker.bootstrap] if bootstrap else [])
        return h.run_floe(argv, env=env, timeout=CLI_TIMEOUT)

    def ok(self, *args, **kw):
        p = self.floe(*args, **kw)
        self.assertEqual(p.returncode, 0, "floe %s: rc %d, stderr: %s" % (args, p.returncode, p.stderr))
        self.assertEqual(p.stderr, "")
        return p.stdout

    def fails(self, rc, *args, **kw):
        p = self.floe(*args, **kw)
        self.assertEqual(p.returncode, rc, "floe %s: rc %d, stdout: %s stderr: %s"
                         % (args, p.returncode, p.stdout, p.stderr))
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.splitlines()), 1, "one error line, got: %r" % p.stderr)
        return p.stderr.strip()

    def produce(self, topic, partition, values):
        proc = h.subprocess.run([KCAT, "-P", "-b", self.broker.bootstrap, "-t", topic, "-p", str(partition)],
                                input="".join(v + "\n" for v in values), text=True, timeout=30,
                                stdout=h.subprocess.PIPE, stderr=h.subprocess.PIPE)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    # -- topics ---------------------------------------------------------------------------------------------------

    def test_topic_create_list_describe_delete(self):
        out = self.ok("topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=100000")
        self.assertEqual(out, "created topic orders (3 partitions)\n")
        err = self.fails(1, "topic", "create", "orders")
        self.assertEqual(err, "floe topic: create orders: TOPIC_ALREADY_EXISTS: topic orders already exists")

        listed = {r["TOPIC"]: r for r in table(self.ok("topic", "list"), "TOPIC")}
        self.assertEqual(listed["orders"]["PARTITIONS"], "3")
        self.assertEqual(listed["orders"]["REPLICATION"], "1")

        self.produce("orders", 1, ["a", "b", "c"])
        out = self.ok("topic", "describe", "orders")
        self.assertTrue(out.startswith("Topic: orders  Id: "), out)
        self.assertIn("Partitions: 3  Replication: 1  Configs: retention.ms=100000\n", out)
        parts = {r["PARTITION"]: r for r in table(out, "PARTITION")}
        self.assertEqual(sorted(parts), ["0", "1", "2"])
        for p, r in parts.items():
            self.assertEqual((r["LEADER"], r["REPLICAS"], r["ISR"], r["LOG-START"], r["ERROR"]),
                             ("3", "3", "3", "0", "-"))
            self.assertEqual(r["HIGH-WATERMARK"], "3" if p == "1" else "0")
        # Columns are aligned: every cell of a column starts at the header's offset.
        lines = out.splitlines()[1:]
        at = lines[0].index("HIGH-WATERMARK")
        self.assertTrue(all(line[at - 2:at] == "  " and line[at] != " " for line in lines), out)

        self.assertEqual(self.ok("topic", "delete", "orders"), "deleted topic orders\n")
        self.assertEqual(self.fails(1, "topic", "delete", "orders"),
                         "floe topic: delete orders: UNKNOWN_TOPIC_OR_PARTITION: topic orders does not exist")
        self.assertNotIn("orders", [r["TOPIC"] for r in table(self.ok("topic", "list"), "TOPIC")])

    def test_topic_errors(self):
        self.assertEqual(self.fails(1, "topic", "describe", "no-such-topic"),
                         "floe topic: describe no-such-topic: UNKNOWN_TOPIC_OR_PARTITION: "
                         "topic no-such-topic does not exist")
        err = self.fails(2, "topic", "create", "t-bad", "--config", "retention.ms")
        self.assertIn("bad --config 'retention.ms': expected KEY=VALUE", err)
        err = self.fails(1, "topic", "create", "t-bad", "--config", "no.such.key=1")
        self.assertTrue(err.startswith("floe topic: create t-bad: INVALID_CONFIG: "), err)
        self.assertIn("no.such.key", err)
        self.assertIn("--partitions", self.fails(2, "topic", "create", "t-bad", "--partitions", "zero"))
        self.assertIn("missing topic NAME", self.fails(2, "topic", "describe"))
        self.assertIn("unknown subcommand 'frobnicate'", self.fails(2, "topic", "frobnicate"))
        self.assertIn("unknown option --bogus", self.fails(2, "topic", "list", "--bogus", "1"))
        p = self.floe("topic", "--help", bootstrap=False)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: floe topic", p.stdout)

    # -- configs --------------------------------------------------------------------------------------------------

    def test_config_alter_describe(self):
        self.ok("topic", "create", "conf-t", "--partitions", "1", "--config", "compression.type=gzip")
        out = self.ok("config", "alter", "topic", "conf-t", "--set", "retention.ms=5000", "--delete",
                      "compression.type")
        self.assertEqual(out, "altered topic conf-t: set retention.ms=5000, deleted compression.type\n")
        configs = {r["KEY"]: r for r in table(self.ok("config", "describe", "topic", "conf-t"), "KEY")}
        self.assertEqual((configs["retention.ms"]["VALUE"], configs["retention.ms"]["SOURCE"]), ("5000", "topic"))
        self.assertEqual(configs["compression.type"]["VALUE"], "producer")
        self.assertEqual(configs["compression.type"]["SOURCE"], "default")

        err = self.fails(1, "config", "alter", "topic", "conf-t", "--set", "no.such.key=1")
        self.assertTrue(err.startswith("floe config: alter topic conf-t: INVALID_CONFIG: "), err)
        self.assertIn("no.such.key", err)
        self.assertEqual(self.fails(1, "config", "describe", "topic", "nope"),
                         "floe config: describe topic nope: UNKNOWN_TOPIC_OR_PARTITION: topic nope does not exist")
        self.assertIn("nothing to change", self.fails(2, "config", "alter", "topic", "conf-t"))
        self.assertIn("bad --set 'x'", self.fails(2, "config", "alter", "topic", "conf-t", "--set", "x"))
        self.assertIn("unknown resource 'user'", self.fails(2, "config", "describe", "user", "x"))

        broker = {r["KEY"]: r for r in table(self.ok("config", "describe", "broker", "3"), "KEY")}
        self.assertEqual(broker["broker.id"]["VALUE"], "3")

    # -- groups ---------------------------------------------------------------------------------------------------

    def test_group_list_describe_lag(self):
        self.ok("topic", "create", "events", "--partitions", "2")
        self.produce("events", 0, ["e%d" % i for i in range(5)])
        # A kcat balanced consumer reads to the end and commits on exit.
        c = h.run_client([KCAT, "-b", self.broker.bootstrap, "-G", "cli-group", "events", "-o", "beginning",
                          "-e", "-q", "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100"],
                         timeout=40)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertEqual(sorted(c.stdout.split()), ["e%d" % i for i in range(5)])

        groups = {r["GROUP"]: r for r in table(self.ok("group", "list"), "GROUP")}
        self.assertIn("cli-group", groups)
        self.assertEqual(groups["cli-group"]["PROTOCOL-TYPE"], "consumer")

        self.produce("events", 0, ["late1", "late2"])
        out = self.ok("group", "describe", "cli-group")
        self.assertTrue(out.startswith("Group: cli-group  State: Empty  Protocol: consumer"), out)
        parts = {(r["TOPIC"], r["PARTITION"]): r for r in table(out, "TOPIC")}
        r = parts[("events", "0")]
        self.assertEqual((r["COMMITTED"], r["LOG-END"], r["LAG"]), ("5", "7", "2"))
        self.assertIn("Total lag: 2\n", out)

        self.assertEqual(self.fails(1, "group", "describe", "no-such-group"),
                         "floe group: describe no-such-group: GROUP_ID_NOT_FOUND: group no-such-group does not exist")
        self.assertIn("missing GROUP", self.fails(2, "group", "describe"))

    @unittest.skipIf(Consumer is None, "confluent_kafka is not installed for this python")
    def test_group_describe_live_member(self):
        self.ok("topic", "create", "live", "--partitions", "2")
        self.produce("live", 0, ["x", "y"])
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "live-group",
                             "client.id": "cli-e2e-consumer", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        try:
            consumer.subscribe(["live"])
            got, deadline = [], time.monotonic() + 20
            while len(got) < 2 and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is not None and not m.error():
                    got.append(m.value())
                    consumer.commit(m, asynchronous=False)
            self.assertEqual(got, [b"x", b"y"])
            out = self.ok("group", "describe", "live-group")
            self.assertTrue(out.startswith("Group: live-group  State: Stable  Protocol: consumer/range  Members: 1"),
                            out)
            parts = {r["PARTITION"]: r for r in table(out, "TOPIC")}
            self.assertEqual(sorted(parts), ["0", "1"])
            self.assertEqual((parts["0"]["COMMITTED"], parts["0"]["LOG-END"], parts["0"]["LAG"]), ("2", "2", "0"))
            self.assertEqual((parts["1"]["COMMITTED"], parts["1"]["LAG"]), ("-", "-"))
            for r in parts.values():
                self.assertEqual(r["CLIENT-ID"], "cli-e2e-consumer")
                self.assertTrue(r["MEMBER"].startswith("cli-e2e-consumer-"), r)
            groups = {r["GROUP"]: r for r in table(self.ok("group", "list"), "GROUP")}
            self.assertEqual(groups["live-group"]["STATE"], "Stable")
        finally:
            consumer.close()

    # -- reaching the broker --------------------------------------------------------------------------------------

    def test_bootstrap_from_environment(self):
        p = h.run_floe(["topic", "list"], env={"FLOE_BOOTSTRAP": self.broker.bootstrap}, timeout=CLI_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("TOPIC"), p.stdout)

    def test_unreachable_bootstrap(self):
        port = h.free_port()  # nothing listens there
        p = h.run_floe(["topic", "list", "--bootstrap", "127.0.0.1:%d" % port], timeout=CLI_TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "floe topic: list: cannot connect to 127.0.0.1:%d: Connection refused\n" % port)

        # A listener that accepts and never answers: the request is bounded by --timeout-ms.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            addr = "127.0.0.1:%d" % silent.getsockname()[1]
            start = time.monotonic()
            p = h.run_floe(["group", "list", "--bootstrap", addr, "--timeout-ms", "700"], timeout=CLI_TIMEOUT)
            elapsed = time.monotonic() - start
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "floe group: list: no answer from %s within 700 ms\n" % addr)
        self.assertLess(elapsed, 5.0)

        self.assertIn("--bootstrap", self.fails(2, "topic", "list", "--bootstrap", "no-port", bootstrap=False))


if __name__ == "__main__":
    h.main()
