#!/usr/bin/python3
"""Observability in cluster mode (issue 8 on issue 7's cluster): 3 brokers on etcd and moto with the object WAL.
  1. /v1/cluster on every broker lists the 3 live brokers (epoch, controller flag) and every partition with a live
     leader; each broker's own view says its assigned partitions are all open, and the local sets add up.
  2. /readyz is 200 on every broker once its partitions are open (registered + every assignment opened).
  3. Every metric family a cluster broker exposes is documented in docs/metrics.md, and every cluster-row metric of
     the Grafana dashboard is exposed.
  4. kill -9 of one broker: on a survivor /v1/cluster shows the victim's partitions on live brokers with leader epoch
     + 1; the controller's epochs-sealed counter went up and a failover was measured, on /metrics.
  5. `floe cost --http` against the survivors prints an estimate for the cluster.
  6. SIGTERM of a survivor: its /readyz answers 503 "draining" (never 200 again) until it exits, and its partitions
     are handed off to the last broker (leader epoch bumped), which is ready with all of them open.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import time
import unittest

import cluster_harness as ch
import floe_harness as h

try:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

TOPIC = "cobs"
PARTITIONS = 6
RECORDS = 300
DOCS = os.path.join(h.REPO, "docs")
CLUSTER_PREFIXES = ("floe_cluster_", "floe_controller_", "floe_wal_object_")


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def cluster_status(broker):
    status, body = http_get(broker.http_port(), "/v1/cluster")
    assert status == 200, (status, body)
    return json.loads(body)


def metrics(broker):
    status, body = http_get(broker.http_port(), "/metrics")
    assert status == 200, status
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            out[name_labels] = float(value)
    return out, dict(re.findall(r'^# TYPE (\S+) (\S+)$', body, re.M))


def value(broker, name):
    return metrics(broker)[0].get(name, 0.0)


def topic_parts(doc):
    return {p["partition"]: p for p in doc["partitions"] if p["topic"] == TOPIC}


class ClusterObservabilityTest(unittest.TestCase):
    def test_status_readiness_metrics_failover_and_cost(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        with ch.Cluster(brokers=3, session_timeout_ms=2000) as cluster:
            brokers = list(cluster.brokers.values())
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(
                timeout=20)
            p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 5,
                          "topic.metadata.refresh.interval.ms": 500})
            delivered = []
            for i in range(RECORDS):
                p.produce(TOPIC, value=b"v%05d" % i, partition=i % PARTITIONS,
                          on_delivery=lambda err, msg: delivered.append(err))
            self.assertEqual(p.flush(30), 0)
            self.assertEqual(delivered.count(None), RECORDS)

            # 1 + 2. Every broker's view: 3 brokers, every partition led by a live broker, all of its own open.
            def settled():
                for b in brokers:
                    doc = cluster_status(b)
                    parts = topic_parts(doc)
                    if len(doc["brokers"]) != 3 or len(parts) != PARTITIONS:
                        return False
                    if any(x["leader"] < 0 or x["released"] or x["move_target"] is not None
                           for x in doc["partitions"]):
                        return False
                    v = doc["self_view"]
                    if v["local_partitions"] != v["assigned_partitions"] or http_get(b.http_port(), "/readyz")[0] != 200:
                        return False
                return True
            h.wait_until(settled, 30, interval=0.2, what="every broker sees 3 brokers and every partition open")
            docs = {b.node_id: cluster_status(b) for b in brokers}
            for node_id, doc in docs.items():
                self.assertEqual(doc["mode"], "cluster")
                self.assertEqual(doc["self"], node_id)
                self.assertEqual([x["node_id"] for x in doc["brokers"]], [1, 2, 3])
                self.assertEqual(sum(1 for x in doc["brokers"] if x["controller"]), 1)
                for x in doc["brokers"]:
                    self.assertGreater(x["epoch"], 0)
                    self.assertEqual(x["state"], "ready" if x["node_id"] == node_id else "alive")
                self.assertTrue(doc["self_view"]["registered"])
                self.assertGreater(doc["self_view"]["image_revision"], 0)
                for x in doc["partitions"]:
                    self.assertEqual(x["local"], x["leader"] == node_id)
                    epoch = next(b["epoch"] for b in doc["brokers"] if b["node_id"] == x["leader"])
                    self.assertEqual(x["broker_epoch"], epoch)
                    if x["local"]:
                        self.assertIsNotNone(x["high_watermark"])
                    else:
                        self.assertIsNone(x["high_watermark"])
                status, body = http_get(cluster.brokers[node_id].http_port(), "/readyz")
                self.assertEqual((status, body.strip()), (200, "ready"))
            # The local sets partition the partitions: every one is open on exactly its leader.
            total_parts = len(docs[1]["partitions"])
            self.assertEqual(sum(d["self_view"]["local_partitions"] for d in docs.values()), total_parts)
            hw = sum(x["high_watermark"] for d in docs.values() for x in topic_parts(d).values() if x["local"])
            self.assertEqual(hw, RECORDS)
            for b in brokers:
                self.assertEqual(value(b, "floe_partitions_led"), docs[b.node_id]["self_view"]["local_partitions"])
                self.assertEqual(value(b, "floe_cluster_registered"), 1)
                self.assertEqual(value(b, "floe_cluster_broker_epoch"),
                                 next(x["epoch"] for x in docs[b.node_id]["brokers"] if x["node_id"] == b.node_id))

            # 3. Documented families; the dashboard's cluster metrics are exposed.
            with open(os.path.join(DOCS, "metrics.md")) as f:
                documented = set(re.findall(r'`(floe_[a-z0-9_]+)`', f.read()))
            with open(os.path.join(DOCS, "grafana-dashboard.json")) as f:
                dashboard = json.load(f)
            referenced = set()
            for panel in dashboard["panels"]:
                for t in panel.get("targets", []):
                    referenced |= set(re.findall(r'\bfloe_[a-z0-9_]+', t["expr"]))
            cluster_refs = {n for n in referenced if n.startswith(CLUSTER_PREFIXES)}
            self.assertGreater(len(cluster_refs), 5)
            fams = {}
            for b in brokers:
                fams.update(metrics(b)[1])
            self.assertEqual(sorted(set(fams) - documented), [], "exposed families missing from docs/metrics.md")

            def exposed(name):
                base = re.sub(r'_(bucket|sum|count)$', "", name)
                return name in fams or (base != name and fams.get(base) == "histogram")
            # The file WAL row is the embedded broker's (0031 checks it); a cluster broker runs the object WAL.
            file_wal = {n for n in referenced if n.startswith("floe_wal_") and not n.startswith("floe_wal_object_")}
            self.assertEqual(sorted(n for n in referenced - file_wal if not exposed(n)), [],
                             "dashboard metrics a cluster broker does not expose")
            controller = next(x["node_id"] for x in docs[1]["brokers"] if x["controller"])
            self.assertEqual(value(cluster.brokers[controller], "floe_controller_elected"), 1)
            self.assertGreater(value(cluster.brokers[controller], "floe_controller_assignments_written_total"), 0)

            # 4. kill -9 of a broker that leads partitions of the topic (not the controller when there is a choice,
            # so the sealing controller's counter is the one that was scraped before).
            leaders = {x["leader"] for x in topic_parts(docs[1]).values()}
            victim_id = min(leaders - {controller}) if leaders - {controller} else controller
            victim = cluster.brokers[victim_id]
            survivors = [b for b in brokers if b.node_id != victim_id]
            before = topic_parts(docs[1])
            moved = {n: x for n, x in before.items() if x["leader"] == victim_id}
            self.assertTrue(moved)
            sealed_before = sum(value(b, "floe_controller_epochs_sealed_total") for b in survivors)
            victim.stop(signal.SIGKILL)

            def failed_over():
                parts = topic_parts(cluster_status(survivors[0]))
                return all(parts[n]["leader"] in {b.node_id for b in survivors}
                           and parts[n]["leader_epoch"] > moved[n]["leader_epoch"] for n in moved)
            h.wait_until(failed_over, 20, interval=0.1, what="the victim's partitions on survivors")
            after_doc = cluster_status(survivors[0])
            after = topic_parts(after_doc)
            for n, x in moved.items():
                self.assertEqual(after[n]["leader_epoch"], x["leader_epoch"] + 1, "partition %d" % n)
                self.assertNotEqual(after[n]["broker_epoch"], x["broker_epoch"])
            for n, x in before.items():
                if n not in moved:
                    self.assertEqual(after[n]["leader_epoch"], x["leader_epoch"], "partition %d did not move" % n)
            h.wait_until(lambda: sum(value(b, "floe_controller_epochs_sealed_total") for b in survivors)
                         > sealed_before, 10, interval=0.2, what="the controller's epochs-sealed counter went up")
            h.wait_until(lambda: all(value(b, "floe_cluster_failovers_total") >= 1 for b in survivors), 10,
                         interval=0.2, what="each survivor measured the failover")
            for b in survivors:
                m = metrics(b)[0]
                self.assertGreaterEqual(m["floe_cluster_failover_partitions_moved_total"], len(moved))
                self.assertGreater(m["floe_cluster_failover_duration_seconds_count"], 0)
                self.assertLess(m["floe_cluster_last_failover_seconds"], 10)
                print("broker %d: failover of %d partition(s) took %.3f s as its image saw it"
                      % (b.node_id, len(moved), m["floe_cluster_last_failover_seconds"]))
            h.wait_until(lambda: all(http_get(b.http_port(), "/readyz")[0] == 200 for b in survivors), 20,
                         interval=0.2, what="survivors ready with the moved partitions open")
            # The new owners timed each moved partition from the controller's failure detection to serving it.
            handoffs = sum(value(b, 'floe_cluster_partition_handoff_seconds_count{cause="failover"}')
                           for b in survivors)
            self.assertGreaterEqual(handoffs, len(moved))
            for b in survivors:
                m = metrics(b)[0]
                if m.get('floe_cluster_partition_handoff_seconds_count{cause="failover"}', 0) > 0:
                    mean = (m['floe_cluster_partition_handoff_seconds_sum{cause="failover"}']
                            / m['floe_cluster_partition_handoff_seconds_count{cause="failover"}'])
                    self.assertLess(mean, 10)
                    print("broker %d: failover handoff (detected -> serving here) mean %.3f s"
                          % (b.node_id, mean))
                # The watch probe ran (its first probe at start) and the image applied it.
                self.assertGreaterEqual(m["floe_cluster_image_watch_lag_probe_seconds_count"], 1)
                self.assertLess(m["floe_cluster_image_watch_lag_seconds"], 10)
            h.wait_until(lambda: [x["node_id"] for x in cluster_status(survivors[1])["brokers"]]
                         == [b.node_id for b in survivors], 10, interval=0.2, what="the victim's epoch forgotten")

            # 5. The cost report over the survivors' counters.
            args = ["cost"]
            for b in survivors:
                args += ["--http", "127.0.0.1:%d" % b.http_port()]
            r = h.run_floe(args, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("totals in the windows: PUT/COPY/POST/LIST", r.stdout)
            self.assertRegex(r.stdout, r"compute\s+1,?460\s+broker-hours")
            self.assertRegex(r.stdout, r"(?m)^total\s+\$\S+$")
            print(r.stdout)

            # 6. SIGTERM: not ready while draining; a graceful handoff to the last broker.
            leaving, staying = survivors[1], survivors[0]
            port = leaving.http_port()
            before = topic_parts(cluster_status(staying))
            leaving.proc.send_signal(signal.SIGTERM)
            seen = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    seen.append(http_get(port, "/readyz"))
                except OSError:  # the admin endpoint closed: the drain is over
                    break
                time.sleep(0.005)
            draining = (503, "not ready: draining\n")
            self.assertIn(draining, seen)
            self.assertNotIn(200, [st for st, _ in seen[seen.index(draining):]])
            self.assertEqual(leaving.wait_exit(), 0)

            def handed_off():
                doc = cluster_status(staying)
                parts = topic_parts(doc)
                return (all(x["leader"] == staying.node_id and x["local"] for x in parts.values())
                        and http_get(staying.http_port(), "/readyz")[0] == 200)
            h.wait_until(handed_off, 20, interval=0.1, what="the last broker leads and serves every partition")
            after = topic_parts(cluster_status(staying))
            for n, x in before.items():
                if x["leader"] == leaving.node_id:
                    # At least one owner change (a release that the controller first gives back to the still
                    # registered leaving epoch bumps it once more).
                    self.assertGreater(after[n]["leader_epoch"], x["leader_epoch"], "partition %d" % n)


if __name__ == "__main__":
    h.main()
