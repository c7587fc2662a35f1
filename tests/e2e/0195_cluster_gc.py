#!/usr/bin/python3
"""Garbage collection in cluster mode: 3 brokers on etcd and moto with the object WAL, a short object.gc.grace.ms.
Three topics share the brokers' WAL objects: one is kept, one is trimmed with DeleteRecords, one is deleted. The
controller compacts, drops the dead blocks (trimmed, or of the deleted topic) from shared objects, retires wholly
dead ones and, after the grace, deletes every replaced or dead object from the bucket: in the end the bucket's
data/ objects are exactly the committed ones (etcd objects/ keys), none of the first WAL objects is left, no byte of
the trimmed records or the deleted topic is left in any object, and every remaining record reads back at its offset
from its leader (whose stale block maps heal through the 404 re-read: floe_compaction_stale_reads_total on the
brokers that are not the controller)."""
import base64
import datetime
import hashlib
import hmac
import json
import struct
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import cluster_harness as ch
import floe_harness as h

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    Producer = None

API_DELETE_RECORDS = 21
KEPT, TRIMMED, DOOMED = "gc-kept", "gc-trimmed", "gc-doomed"
PARTITIONS = {KEPT: 3, TRIMMED: 3, DOOMED: 2}
ROUNDS = 10
GRACE_MS = 2000
TIMEOUT = 30
SETTLE_TIMEOUT = 90


def bucket_keys(moto, prefix="data/"):
    """Every key under `prefix` in the moto bucket (ListObjectsV2, paged; bounded)."""
    keys, token = set(), None
    for _ in range(200):
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        url = "%s/%s?%s" % (moto.url, ch.BUCKET, urllib.parse.urlencode(query))
        with urllib.request.urlopen(url, timeout=10) as r:
            root = ET.fromstring(r.read())
        ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        keys.update(c.findtext(ns + "Key") for c in root.findall(ns + "Contents"))
        if root.findtext(ns + "IsTruncated") != "true":
            return keys
        token = root.findtext(ns + "NextContinuationToken")
    raise AssertionError("bucket listing did not end")


def signed_get(url_base, path):
    """GET with AWS signature v4 (moto refuses anonymous GetObject of a private object), credentials of S3_ENV."""
    host = urllib.parse.urlparse(url_base).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    region, service = ch.S3_ENV["AWS_REGION"], "s3"
    payload_hash = hashlib.sha256(b"").hexdigest()
    headers = "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n" % (host, payload_hash, amz_date)
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(["GET", path, "", headers, signed, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + ch.S3_ENV["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ch.S3_ENV["AWS_ACCESS_KEY_ID"], scope, signed, signature)
    req = urllib.request.Request(url_base + path, headers={
        "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash, "Authorization": auth})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def object_bytes(moto, key):
    """The object's bytes; None when it is gone (deleted since the listing)."""
    try:
        return signed_get(moto.url, "/%s/%s" % (ch.BUCKET, urllib.parse.quote(key)))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def committed_keys(etcd):
    """Object keys named by /floe/objects/ in etcd (the v3 JSON gateway)."""
    prefix = b"/floe/objects/"
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    body = json.dumps({"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode(),
                       "keys_only": True}).encode()
    req = urllib.request.Request("http://%s/v3/kv/range" % etcd.endpoint, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        kvs = json.loads(r.read()).get("kvs", [])
    return {base64.b64decode(kv["key"])[len(prefix):].decode() for kv in kvs}


def value(topic, r, p):
    return b"%s-r%03d-p%d|" % (topic.encode(), r, p) + b"x" * 120


class ClusterGcTest(unittest.TestCase):
    def delete_records(self, cluster, admin, topic, offsets):
        """Raw DeleteRecords v0 (confluent-kafka 1.7 has none), to each partition's leader."""
        by_leader = {}
        for p, leader in ch.leaders(admin, topic).items():
            by_leader.setdefault(leader, []).append(p)
        self.assertEqual(sum(len(v) for v in by_leader.values()), len(offsets))
        for leader, parts in by_leader.items():
            w = h.Writer().i32(1).string(topic).i32(len(parts))
            for p in parts:
                w.i32(p).raw(struct.pack(">q", offsets[p]))
            conn = h.KafkaConn(cluster.brokers[leader].port)
            try:
                conn.send(h.encode_request(API_DELETE_RECORDS, 0, 91, w.i32(10000).bytes()))
                r = h.Reader(conn.recv_frame(TIMEOUT))
                self.assertEqual(r.i32(), 91)
                r.i32()  # throttle
                self.assertEqual(r.i32(), 1)
                self.assertEqual(r.str_(False), topic)
                for _ in range(r.i32()):
                    p, low, err = r.i32(), r.i64(), r.i16()
                    self.assertEqual((low, err), (offsets[p], 0), "DeleteRecords %s-%d" % (topic, p))
            finally:
                conn.close()

    def read_back(self, cluster, topic, starts, count):
        got = {}
        c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "check-" + topic,
                      "enable.auto.commit": False, "max.partition.fetch.bytes": 2048})
        try:
            c.assign([TopicPartition(topic, p, starts[p]) for p in starts])
            deadline = time.monotonic() + TIMEOUT
            while len(got) < count and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is not None and not m.error():
                    got[(m.partition(), m.offset())] = m.value()
        finally:
            c.close()
        return got

    def test_replaced_trimmed_and_deleted_objects_leave_the_bucket(self):
        if Producer is None:
            self.skipTest("confluent-kafka is not installed")
        extra = ("--auto-create-topics-enable", "false", "--compaction-interval-ms", "300", "--compaction-min-objects", "4", "--compaction-max-age-ms", "1000",
                 "--object-gc-grace-ms", str(GRACE_MS), "--log-cache-bytes", "0", "--block-cache-bytes", "0")
        with ch.Cluster(brokers=3, session_timeout_ms=2000, extra_args=extra) as cluster:
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
            futures = admin.create_topics([NewTopic(t, num_partitions=n, replication_factor=1)
                                           for t, n in PARTITIONS.items()])
            for f in futures.values():
                f.result(20)
            h.wait_until(lambda: all(len(ch.leaders(admin, t)) == n for t, n in PARTITIONS.items()), TIMEOUT,
                         interval=0.2, what="every partition to have a leader")
            acked = {}

            def delivered(err, msg):
                self.assertIsNone(err)
                acked[(msg.topic(), msg.partition(), msg.offset())] = msg.value()

            def produce(rounds, topics):
                # A producer per phase: one that knows a deleted topic would keep asking for its metadata.
                p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 0,
                              "enable.idempotence": True, "compression.type": "none"})
                for r in rounds:
                    for t in topics:
                        for part in range(PARTITIONS[t]):
                            p.produce(t, value=value(t, r, part), partition=part, on_delivery=delivered)
                    self.assertEqual(p.flush(TIMEOUT), 0)
                    time.sleep(0.05)

            produce(range(ROUNDS), [KEPT, TRIMMED, DOOMED])
            first_objects = bucket_keys(cluster.moto)
            self.assertTrue(first_objects, "the WAL objects are in the bucket")
            # Trim everything written so far from TRIMMED, then write more to the kept topics; delete DOOMED.
            self.delete_records(cluster, admin, TRIMMED, {part: ROUNDS for part in range(PARTITIONS[TRIMMED])})
            produce(range(ROUNDS, 2 * ROUNDS), [KEPT, TRIMMED])
            admin.delete_topics([DOOMED])[DOOMED].result(20)

            brokers = list(cluster.brokers.values())
            total = lambda name: sum(h.metric(b, name) for b in brokers)

            why = ["not checked yet"]

            def settled():
                bucket = bucket_keys(cluster.moto)
                committed = committed_keys(cluster.etcd)
                if bucket & first_objects:
                    why[0] = "%d of the first WAL objects left" % len(bucket & first_objects)
                    return False
                if bucket != committed:
                    why[0] = "garbage in the bucket: %s; committed but missing: %s" % (
                        sorted(bucket - committed)[:5], sorted(committed - bucket)[:5])
                    return False
                for key in bucket:  # no byte of a trimmed record or of the deleted topic is left anywhere
                    data = object_bytes(cluster.moto, key)
                    if data is None:
                        why[0] = "%s is gone since the listing" % key
                        return False
                    for dead in (b"gc-doomed-", b"gc-trimmed-r00"):
                        if dead in data:
                            why[0] = "%s holds %s" % (key, dead)
                            return False
                return True

            try:
                h.wait_until(settled, SETTLE_TIMEOUT, interval=0.5,
                             what="the bucket to hold exactly the committed objects, none with dead data")
            except TimeoutError:
                self.fail("not settled: %s" % why[0])
            compacting = [b.node_id for b in brokers if h.metric(b, "floe_compaction_objects_merged_total") > 0]
            self.assertEqual(len(compacting), 1, "one compactor and collector (the controller): %s" % compacting)
            self.assertGreater(total("floe_compaction_gc_deleted_objects_total"), 0)

            # Every remaining record, at its offset, from its leader.
            kept = {(part, off): v for (t, part, off), v in acked.items() if t == KEPT}
            self.assertEqual(len(kept), 2 * ROUNDS * PARTITIONS[KEPT])
            self.assertEqual(self.read_back(cluster, KEPT, {part: 0 for part in range(PARTITIONS[KEPT])},
                                            len(kept)), kept)
            trimmed = {(part, off): v for (t, part, off), v in acked.items() if t == TRIMMED and off >= ROUNDS}
            self.assertEqual(len(trimmed), ROUNDS * PARTITIONS[TRIMMED])
            self.assertEqual(self.read_back(cluster, TRIMMED, {part: ROUNDS for part in range(PARTITIONS[TRIMMED])},
                                            len(trimmed)), trimmed)
            # The leaders other than the controller had block maps naming the deleted objects: the reads above
            # found them gone (404) and re-read the committed ranges from etcd.
            others = [b for b in brokers if b.node_id not in compacting]
            self.assertGreater(sum(h.metric(b, "floe_compaction_stale_reads_total") for b in others), 0,
                               "the 404 re-read path ran on a broker that does not compact")
            for b in brokers:
                stale = h.metric(b, "floe_cluster_image_staleness_seconds")
                self.assertTrue(0 <= stale < GRACE_MS / 2000.0, "broker %d image staleness %s" % (b.node_id, stale))
            print("[figures] controller %s: %d objects merged, %d retired whole, %d deleted after the %d ms grace; "
                  "%d objects left; stale reads re-read: %d; committed reads refused for image lag: %d"
                  % (compacting[0], total("floe_compaction_objects_merged_total"),
                     total("floe_gc_objects_retired_total"), total("floe_compaction_gc_deleted_objects_total"),
                     GRACE_MS, len(bucket_keys(cluster.moto)), total("floe_compaction_stale_reads_total"),
                     total("floe_log_reads_refused_image_lag_total")))


if __name__ == "__main__":
    h.main()
