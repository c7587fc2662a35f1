#!/usr/bin/env python3
"""A small fake Kafka broker that records the request frames real clients send.

It listens on 127.0.0.1 (a free port unless --port is given), answers just enough of the protocol for a
producer or consumer to go on (ApiVersions, Metadata, Produce, Fetch, ListOffsets, the consumer-group
APIs, InitProducerId, OffsetForLeaderEpoch) and writes the first request frame of each (api, version) to
--out as <client>__<ApiName>__v<version>.bin: the bytes after the 4-byte size prefix, i.e. the request
header followed by the request body.

The advertised version ranges come from --profile and --max, so that one client can be driven into
several versions of an API, e.g. a run with low maxima and one with the highest versions.

There is one broker (node 1, this process) and one topic (default "capture") with one partition
led by node 1; any topic a client names is answered the same way. Produce succeeds at offset 0;
Fetch at offset 0 returns one record batch (magic 2) holding one record, high watermark 1; a Fetch
at a later offset returns no records after a short wait.

Everything is bounded: --lifetime (seconds before the broker stops itself), --max-frames (requests
before it stops), --idle (seconds a connection may stay silent), --max-frame-size.

    capture_broker.py --out DIR --client NAME [--profile high|flex|mid|low] [--max Metadata=4,Fetch=4]
                      [--port-file FILE] [--lifetime 120] [--max-frames 5000] [--verbose]
    capture_broker.py --check DIR      # sanity-parse every capture (header and, where known, body)
    capture_broker.py --list DIR       # a Markdown table of the captures

Standard library only.
"""

import argparse
import os
import re
import socket
import socketserver
import struct
import sys
import threading
import time

# --------------------------------------------------------------------------------------------------
# API keys, names and the first flexible version (request header v2 / response header v1 from there).

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr", 5: "StopReplica",
    6: "UpdateMetadata", 7: "ControlledShutdown", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics",
    20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId", 23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
    28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls",
    32: "DescribeConfigs", 33: "AlterConfigs", 34: "AlterReplicaLogDirs", 35: "DescribeLogDirs",
    36: "SaslAuthenticate", 37: "CreatePartitions", 38: "CreateDelegationToken",
    39: "RenewDelegationToken", 40: "ExpireDelegationToken", 41: "DescribeDelegationToken",
    42: "DeleteGroups", 43: "ElectLeaders", 44: "IncrementalAlterConfigs",
    45: "AlterPartitionReassignments", 46: "ListPartitionReassignments", 47: "OffsetDelete",
    48: "DescribeClientQuotas", 49: "AlterClientQuotas", 50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials", 60: "DescribeCluster", 61: "DescribeProducers",
    65: "DescribeTransactions", 66: "ListTransactions", 68: "ConsumerGroupHeartbeat",
    69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions", 72: "PushTelemetry",
    74: "ListClientMetricsResources", 75: "DescribeTopicPartitions",
}
API_KEYS = {name: key for key, name in API_NAMES.items()}

# First flexible version per API key; None = never flexible. Keys not listed are treated as 0+.
FLEXIBLE_FROM = {
    0: 9, 1: 12, 2: 6, 3: 9, 4: 4, 5: 2, 6: 6, 7: 3, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4,
    15: 5, 16: 3, 17: None, 18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1,
    28: 3, 29: 2, 30: 2, 31: 2, 32: 4, 33: 2, 34: 2, 35: 2, 36: 2, 37: 2, 38: 2, 39: 2, 40: 2,
    41: 2, 42: 2, 43: 2, 44: 1, 47: None, 48: 1, 49: 1,
}


def is_flexible(api_key, version):
    first = FLEXIBLE_FROM.get(api_key, 0)
    return first is not None and version >= first


# --------------------------------------------------------------------------------------------------
# Advertised version ranges. "high" is everything this broker can answer; "flex", "mid" and "low"
# cap the maxima so that clients fall back to older versions.

SUPPORTED = {  # api key -> (min, max) this broker can encode
    0: (0, 11), 1: (0, 17), 2: (0, 10), 3: (0, 12), 8: (0, 9), 9: (0, 9), 10: (0, 6), 11: (0, 9),
    12: (0, 4), 13: (0, 5), 14: (0, 5), 18: (0, 4), 22: (0, 5), 23: (0, 4),
}

PROFILES = {
    "high": {},
    # The oldest flexible versions (FindCoordinator 4: the batched layout, as clients that only
    # speak flexible versions need); for clients that support them.
    "flex": {"ApiVersions": 3, "Metadata": 9, "Produce": 9, "Fetch": 12, "ListOffsets": 6,
             "OffsetCommit": 8, "OffsetFetch": 8, "FindCoordinator": 4, "JoinGroup": 6,
             "SyncGroup": 4, "Heartbeat": 4, "LeaveGroup": 4, "InitProducerId": 2,
             "OffsetForLeaderEpoch": 4},
    # Older but record-batch (magic 2) capable versions, all non-flexible.
    "mid": {"ApiVersions": 2, "Metadata": 7, "Produce": 5, "Fetch": 7, "ListOffsets": 3,
            "OffsetCommit": 6, "OffsetFetch": 5, "FindCoordinator": 2, "JoinGroup": 5,
            "SyncGroup": 3, "Heartbeat": 3, "LeaveGroup": 3, "InitProducerId": 1,
            "OffsetForLeaderEpoch": 3},
    # The oldest versions that still carry record batches v2 (Produce v3, Fetch v4), ApiVersions v0.
    "low": {"ApiVersions": 0, "Metadata": 4, "Produce": 3, "Fetch": 4, "ListOffsets": 1,
            "OffsetCommit": 2, "OffsetFetch": 3, "FindCoordinator": 1, "JoinGroup": 2,
            "SyncGroup": 1, "Heartbeat": 1, "LeaveGroup": 1, "InitProducerId": 0,
            "OffsetForLeaderEpoch": 0},
}


def advertised_versions(profile, overrides):
    caps = dict(PROFILES[profile])
    caps.update(overrides)
    out = {}
    for key, (lo, hi) in SUPPORTED.items():
        cap = caps.get(API_NAMES[key])
        if cap is not None:
            hi = min(hi, cap)
        if hi >= lo:
            out[key] = (lo, hi)
    return out


# --------------------------------------------------------------------------------------------------
# Primitive encoding.

class Writer:
    def __init__(self):
        self.parts = []

    def raw(self, b):
        self.parts.append(bytes(b))

    def int8(self, v):
        self.raw(struct.pack(">b", v))

    def int16(self, v):
        self.raw(struct.pack(">h", v))

    def int32(self, v):
        self.raw(struct.pack(">i", v))

    def uint32(self, v):
        self.raw(struct.pack(">I", v))

    def int64(self, v):
        self.raw(struct.pack(">q", v))

    def uvarint(self, v):
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        self.raw(out)

    def varint(self, v):  # zig-zag, 64-bit range
        self.uvarint((v << 1) ^ (v >> 63))

    def getvalue(self):
        return b"".join(self.parts)


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("short read: need %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int8(self):
        return struct.unpack(">b", self.take(1))[0]

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def int64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = 0
        value = 0
        while True:
            if shift > 63:
                raise DecodeError("varint too long")
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def remaining(self):
        return len(self.data) - self.pos


# --------------------------------------------------------------------------------------------------
# Message schemas, in this file's own notation: (name, type, versions[, nullable versions]).
# type: int8 int16 int32 int64 bool uuid string bytes records, "[]<primitive>", or a list of fields
# (an array of structs). Versions: "N+", "N-M" or "N". Tagged fields are not listed: they are
# written as empty tagged-field sections and skipped on reading.

def _parse_versions(spec):
    if spec is None:
        return None
    if spec.endswith("+"):
        return (int(spec[:-1]), 1 << 30)
    if "-" in spec:
        lo, hi = spec.split("-")
        return (int(lo), int(hi))
    return (int(spec), int(spec))


def _in(spec, v):
    r = _parse_versions(spec)
    return r is not None and r[0] <= v <= r[1]


REQUESTS = {
    18: [("ClientSoftwareName", "string", "3+"), ("ClientSoftwareVersion", "string", "3+")],
    3: [("Topics", [("TopicId", "uuid", "10+"), ("Name", "string", "0+", "10+")], "0+", "1+"),
        ("AllowAutoTopicCreation", "bool", "4+"),
        ("IncludeClusterAuthorizedOperations", "bool", "8-10"),
        ("IncludeTopicAuthorizedOperations", "bool", "8+")],
    0: [("TransactionalId", "string", "3+", "3+"), ("Acks", "int16", "0+"), ("TimeoutMs", "int32", "0+"),
        ("TopicData", [("Name", "string", "0+"),
                       ("PartitionData", [("Index", "int32", "0+"),
                                          ("Records", "records", "0+", "0+")], "0+")], "0+")],
    1: [("ReplicaId", "int32", "0-14"), ("MaxWaitMs", "int32", "0+"), ("MinBytes", "int32", "0+"),
        ("MaxBytes", "int32", "3+"), ("IsolationLevel", "int8", "4+"), ("SessionId", "int32", "7+"),
        ("SessionEpoch", "int32", "7+"),
        ("Topics", [("Topic", "string", "0-12"), ("TopicId", "uuid", "13+"),
                    ("Partitions", [("Partition", "int32", "0+"), ("CurrentLeaderEpoch", "int32", "9+"),
                                    ("FetchOffset", "int64", "0+"), ("LastFetchedEpoch", "int32", "12+"),
                                    ("LogStartOffset", "int64", "5+"),
                                    ("PartitionMaxBytes", "int32", "0+")], "0+")], "0+"),
        ("ForgottenTopicsData", [("Topic", "string", "7-12"), ("TopicId", "uuid", "13+"),
                                 ("Partitions", "[]int32", "7+")], "7+"),
        ("RackId", "string", "11+")],
    2: [("ReplicaId", "int32", "0+"), ("IsolationLevel", "int8", "2+"),
        ("Topics", [("Name", "string", "0+"),
                    ("Partitions", [("PartitionIndex", "int32", "0+"), ("CurrentLeaderEpoch", "int32", "4+"),
                                    ("Timestamp", "int64", "0+"), ("MaxNumOffsets", "int32", "0")], "0+")],
         "0+"),
        ("TimeoutMs", "int32", "10+")],
    8: [("GroupId", "string", "0+"), ("GenerationIdOrMemberEpoch", "int32", "1+"), ("MemberId", "string", "1+"),
        ("GroupInstanceId", "string", "7+", "7+"), ("RetentionTimeMs", "int64", "2-4"),
        ("Topics", [("Name", "string", "0+"),
                    ("Partitions", [("PartitionIndex", "int32", "0+"), ("CommittedOffset", "int64", "0+"),
                                    ("CommittedLeaderEpoch", "int32", "6+"), ("CommitTimestamp", "int64", "1"),
                                    ("CommittedMetadata", "string", "0+", "0+")], "0+")], "0+")],
    9: [("GroupId", "string", "0-7"),
        ("Topics", [("Name", "string", "0-7"), ("PartitionIndexes", "[]int32", "0-7")], "0-7", "2-7"),
        ("Groups", [("GroupId", "string", "8+"), ("MemberId", "string", "9+", "9+"),
                    ("MemberEpoch", "int32", "9+"),
                    ("Topics", [("Name", "string", "8+"), ("PartitionIndexes", "[]int32", "8+")], "8+", "8+")],
         "8+"),
        ("RequireStable", "bool", "7+")],
    10: [("Key", "string", "0-3"), ("KeyType", "int8", "1+"), ("CoordinatorKeys", "[]string", "4+")],
    11: [("GroupId", "string", "0+"), ("SessionTimeoutMs", "int32", "0+"), ("RebalanceTimeoutMs", "int32", "1+"),
         ("MemberId", "string", "0+"), ("GroupInstanceId", "string", "5+", "5+"), ("ProtocolType", "string", "0+"),
         ("Protocols", [("Name", "string", "0+"), ("Metadata", "bytes", "0+")], "0+"),
         ("Reason", "string", "8+", "8+")],
    12: [("GroupId", "string", "0+"), ("GenerationId", "int32", "0+"), ("MemberId", "string", "0+"),
         ("GroupInstanceId", "string", "3+", "3+")],
    13: [("GroupId", "string", "0+"), ("MemberId", "string", "0-2"),
         ("Members", [("MemberId", "string", "3+"), ("GroupInstanceId", "string", "3+", "3+"),
                      ("Reason", "string", "5+", "5+")], "3+")],
    14: [("GroupId", "string", "0+"), ("GenerationId", "int32", "0+"), ("MemberId", "string", "0+"),
         ("GroupInstanceId", "string", "3+", "3+"), ("ProtocolType", "string", "5+", "5+"),
         ("ProtocolName", "string", "5+", "5+"),
         ("Assignments", [("MemberId", "string", "0+"), ("Assignment", "bytes", "0+")], "0+")],
    22: [("TransactionalId", "string", "0+", "0+"), ("TransactionTimeoutMs", "int32", "0+"),
         ("ProducerId", "int64", "3+"), ("ProducerEpoch", "int16", "3+")],
    23: [("ReplicaId", "int32", "3+"),
         ("Topics", [("Topic", "string", "0+"),
                     ("Partitions", [("Partition", "int32", "0+"), ("CurrentLeaderEpoch", "int32", "2+"),
                                     ("LeaderEpoch", "int32", "0+")], "0+")], "0+")],
}

RESPONSES = {
    18: [("ErrorCode", "int16", "0+"),
         ("ApiKeys", [("ApiKey", "int16", "0+"), ("MinVersion", "int16", "0+"), ("MaxVersion", "int16", "0+")],
          "0+"),
         ("ThrottleTimeMs", "int32", "1+")],
    3: [("ThrottleTimeMs", "int32", "3+"),
        ("Brokers", [("NodeId", "int32", "0+"), ("Host", "string", "0+"), ("Port", "int32", "0+"),
                     ("Rack", "string", "1+", "1+")], "0+"),
        ("ClusterId", "string", "2+", "2+"), ("ControllerId", "int32", "1+"),
        ("Topics", [("ErrorCode", "int16", "0+"), ("Name", "string", "0+", "12+"), ("TopicId", "uuid", "10+"),
                    ("IsInternal", "bool", "1+"),
                    ("Partitions", [("ErrorCode", "int16", "0+"), ("PartitionIndex", "int32", "0+"),
                                    ("LeaderId", "int32", "0+"), ("LeaderEpoch", "int32", "7+"),
                                    ("ReplicaNodes", "[]int32", "0+"), ("IsrNodes", "[]int32", "0+"),
                                    ("OfflineReplicas", "[]int32", "5+")], "0+"),
                    ("TopicAuthorizedOperations", "int32", "8+")], "0+"),
        ("ClusterAuthorizedOperations", "int32", "8-10")],
    0: [("Responses", [("Name", "string", "0+"),
                       ("PartitionResponses", [("Index", "int32", "0+"), ("ErrorCode", "int16", "0+"),
                                               ("BaseOffset", "int64", "0+"), ("LogAppendTimeMs", "int64", "2+"),
                                               ("LogStartOffset", "int64", "5+"),
                                               ("RecordErrors", [("BatchIndex", "int32", "8+"),
                                                                 ("BatchIndexErrorMessage", "string", "8+", "8+")],
                                                "8+"),
                                               ("ErrorMessage", "string", "8+", "8+")], "0+")], "0+"),
        ("ThrottleTimeMs", "int32", "1+")],
    1: [("ThrottleTimeMs", "int32", "1+"), ("ErrorCode", "int16", "7+"), ("SessionId", "int32", "7+"),
        ("Responses", [("Topic", "string", "0-12"), ("TopicId", "uuid", "13+"),
                       ("Partitions", [("PartitionIndex", "int32", "0+"), ("ErrorCode", "int16", "0+"),
                                       ("HighWatermark", "int64", "0+"), ("LastStableOffset", "int64", "4+"),
                                       ("LogStartOffset", "int64", "5+"),
                                       ("AbortedTransactions", [("ProducerId", "int64", "4+"),
                                                                ("FirstOffset", "int64", "4+")], "4+", "4+"),
                                       ("PreferredReadReplica", "int32", "11+"),
                                       ("Records", "records", "0+", "0+")], "0+")], "0+")],
    2: [("ThrottleTimeMs", "int32", "2+"),
        ("Topics", [("Name", "string", "0+"),
                    ("Partitions", [("PartitionIndex", "int32", "0+"), ("ErrorCode", "int16", "0+"),
                                    ("OldStyleOffsets", "[]int64", "0"), ("Timestamp", "int64", "1+"),
                                    ("Offset", "int64", "1+"), ("LeaderEpoch", "int32", "4+")], "0+")], "0+")],
    8: [("ThrottleTimeMs", "int32", "3+"),
        ("Topics", [("Name", "string", "0+"),
                    ("Partitions", [("PartitionIndex", "int32", "0+"), ("ErrorCode", "int16", "0+")], "0+")],
         "0+")],
    9: [("ThrottleTimeMs", "int32", "3+"),
        ("Topics", [("Name", "string", "0-7"),
                    ("Partitions", [("PartitionIndex", "int32", "0-7"), ("CommittedOffset", "int64", "0-7"),
                                    ("CommittedLeaderEpoch", "int32", "5-7"),
                                    ("Metadata", "string", "0-7", "0-7"), ("ErrorCode", "int16", "0-7")],
                     "0-7")], "0-7"),
        ("ErrorCode", "int16", "2-7"),
        ("Groups", [("GroupId", "string", "8+"),
                    ("Topics", [("Name", "string", "8+"),
                                ("Partitions", [("PartitionIndex", "int32", "8+"), ("CommittedOffset", "int64", "8+"),
                                                ("CommittedLeaderEpoch", "int32", "8+"),
                                                ("Metadata", "string", "8+", "8+"), ("ErrorCode", "int16", "8+")],
                                 "8+")], "8+"),
                    ("ErrorCode", "int16", "8+")], "8+")],
    10: [("ThrottleTimeMs", "int32", "1+"), ("ErrorCode", "int16", "0-3"), ("ErrorMessage", "string", "1-3", "1-3"),
         ("NodeId", "int32", "0-3"), ("Host", "string", "0-3"), ("Port", "int32", "0-3"),
         ("Coordinators", [("Key", "string", "4+"), ("NodeId", "int32", "4+"), ("Host", "string", "4+"),
                           ("Port", "int32", "4+"), ("ErrorCode", "int16", "4+"),
                           ("ErrorMessage", "string", "4+", "4+")], "4+")],
    11: [("ThrottleTimeMs", "int32", "2+"), ("ErrorCode", "int16", "0+"), ("GenerationId", "int32", "0+"),
         ("ProtocolType", "string", "7+", "7+"), ("ProtocolName", "string", "0+", "7+"), ("Leader", "string", "0+"),
         ("SkipAssignment", "bool", "9+"), ("MemberId", "string", "0+"),
         ("Members", [("MemberId", "string", "0+"), ("GroupInstanceId", "string", "5+", "5+"),
                      ("Metadata", "bytes", "0+")], "0+")],
    12: [("ThrottleTimeMs", "int32", "1+"), ("ErrorCode", "int16", "0+")],
    13: [("ThrottleTimeMs", "int32", "1+"), ("ErrorCode", "int16", "0+"),
         ("Members", [("MemberId", "string", "3+"), ("GroupInstanceId", "string", "3+", "3+"),
                      ("ErrorCode", "int16", "3+")], "3+")],
    14: [("ThrottleTimeMs", "int32", "1+"), ("ErrorCode", "int16", "0+"), ("ProtocolType", "string", "5+", "5+"),
         ("ProtocolName", "string", "5+", "5+"), ("Assignment", "bytes", "0+")],
    22: [("ThrottleTimeMs", "int32", "0+"), ("ErrorCode", "int16", "0+"), ("ProducerId", "int64", "0+"),
         ("ProducerEpoch", "int16", "0+")],
    23: [("ThrottleTimeMs", "int32", "2+"),
         ("Topics", [("Topic", "string", "0+"),
                     ("Partitions", [("ErrorCode", "int16", "0+"), ("Partition", "int32", "0+"),
                                     ("LeaderEpoch", "int32", "1+"), ("EndOffset", "int64", "0+")], "0+")], "0+")],
}

_ZERO = {"int8": 0, "int16": 0, "int32": 0, "int64": 0, "bool": False, "uuid": b"\0" * 16,
         "string": "", "bytes": b"", "records": b""}


def _field(f):
    name, typ, versions = f[0], f[1], f[2]
    nullable = f[3] if len(f) > 3 else None
    return name, typ, versions, nullable


def _enc_prim(w, typ, val, flex, nullable):
    if typ == "int8":
        w.int8(val)
    elif typ == "int16":
        w.int16(val)
    elif typ == "int32":
        w.int32(val)
    elif typ == "int64":
        w.int64(val)
    elif typ == "bool":
        w.int8(1 if val else 0)
    elif typ == "uuid":
        assert len(val) == 16
        w.raw(val)
    elif typ in ("string", "bytes", "records"):
        if val is None:
            assert nullable, "null in a non-nullable field"
            if flex:
                w.uvarint(0)
            elif typ == "string":
                w.int16(-1)
            else:
                w.int32(-1)
            return
        b = val.encode() if isinstance(val, str) else bytes(val)
        if flex:
            w.uvarint(len(b) + 1)
        elif typ == "string":
            w.int16(len(b))
        else:
            w.int32(len(b))
        w.raw(b)
    else:
        raise ValueError("unknown type " + typ)


def encode_struct(w, fields, obj, v, flex):
    for f in fields:
        name, typ, versions, nullable = _field(f)
        if not _in(versions, v):
            continue
        may_be_null = _in(nullable, v)
        if isinstance(typ, list) or typ.startswith("[]"):
            items = obj.get(name, None if may_be_null else [])
            if items is None:
                assert may_be_null, "null array " + name
                if flex:
                    w.uvarint(0)
                else:
                    w.int32(-1)
                continue
            if flex:
                w.uvarint(len(items) + 1)
            else:
                w.int32(len(items))
            for item in items:
                if isinstance(typ, list):
                    encode_struct(w, typ, item, v, flex)
                else:
                    _enc_prim(w, typ[2:], item, flex, False)
        else:
            default = None if (may_be_null and typ in ("string", "bytes", "records")) else _ZERO[typ]
            _enc_prim(w, typ, obj.get(name, default), flex, may_be_null)
    if flex:
        w.uvarint(0)  # no tagged fields


def _dec_prim(r, typ, flex, nullable):
    if typ == "int8":
        return r.int8()
    if typ == "int16":
        return r.int16()
    if typ == "int32":
        return r.int32()
    if typ == "int64":
        return r.int64()
    if typ == "bool":
        b = r.int8()
        if b not in (0, 1):
            raise DecodeError("bad bool %d" % b)
        return bool(b)
    if typ == "uuid":
        return r.take(16)
    if typ in ("string", "bytes", "records"):
        if flex:
            n = r.uvarint() - 1
        elif typ == "string":
            n = r.int16()
        else:
            n = r.int32()
        if n < 0:
            if n != -1 or not nullable:
                raise DecodeError("bad length %d for %s" % (n, typ))
            return None
        b = r.take(n)
        if typ == "string":
            return b.decode("utf-8")
        return b
    raise ValueError("unknown type " + typ)


def skip_tagged_fields(r):
    tags = {}
    for _ in range(r.uvarint()):
        tag = r.uvarint()
        tags[tag] = r.take(r.uvarint())
    return tags


def decode_struct(r, fields, v, flex):
    obj = {}
    for f in fields:
        name, typ, versions, nullable = _field(f)
        if not _in(versions, v):
            continue
        may_be_null = _in(nullable, v)
        if isinstance(typ, list) or typ.startswith("[]"):
            n = r.uvarint() - 1 if flex else r.int32()
            if n < 0:
                if n != -1 or not may_be_null:
                    raise DecodeError("bad array length %d for %s" % (n, name))
                obj[name] = None
                continue
            if n > r.remaining():
                raise DecodeError("array %s longer than the frame" % name)
            if isinstance(typ, list):
                obj[name] = [decode_struct(r, typ, v, flex) for _ in range(n)]
            else:
                obj[name] = [_dec_prim(r, typ[2:], flex, False) for _ in range(n)]
        else:
            obj[name] = _dec_prim(r, typ, flex, may_be_null)
    if flex:
        obj["_tagged"] = skip_tagged_fields(r)
    return obj


def parse_request_header(frame):
    """Returns (api_key, api_version, correlation_id, client_id, reader positioned at the body)."""
    r = Reader(frame)
    api_key = r.int16()
    api_version = r.int16()
    correlation_id = r.int32()
    n = r.int16()  # client_id: nullable string, int16 length even in header v2
    if n < -1:
        raise DecodeError("bad client_id length %d" % n)
    client_id = None if n == -1 else r.take(n).decode("utf-8", "replace")
    if is_flexible(api_key, api_version):
        skip_tagged_fields(r)
    return api_key, api_version, correlation_id, client_id, r


# --------------------------------------------------------------------------------------------------
# Record batch v2 for Fetch responses.

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def record_batch(base_offset, records, timestamp_ms, leader_epoch=0):
    recs = Writer()
    for i, (key, value) in enumerate(records):
        body = Writer()
        body.int8(0)  # attributes
        body.varint(0)  # timestamp delta
        body.varint(i)  # offset delta
        for part in (key, value):
            if part is None:
                body.varint(-1)
            else:
                body.varint(len(part))
                body.raw(part)
        body.varint(0)  # headers
        b = body.getvalue()
        recs.varint(len(b))
        recs.raw(b)
    tail = Writer()
    tail.int16(0)  # attributes: no compression, create time
    tail.int32(len(records) - 1)  # last offset delta
    tail.int64(timestamp_ms)
    tail.int64(timestamp_ms)
    tail.int64(-1)  # producer id
    tail.int16(-1)  # producer epoch
    tail.int32(-1)  # base sequence
    tail.int32(len(records))
    tail.raw(recs.getvalue())
    t = tail.getvalue()
    head = Writer()
    head.int32(leader_epoch)
    head.int8(2)  # magic
    head.uint32(crc32c(t))
    h = head.getvalue() + t
    out = Writer()
    out.int64(base_offset)
    out.int32(len(h))
    out.raw(h)
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# The broker.

TOPIC_ID = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
FETCH_RECORD = (b"floe-key", b"captured by floe")
FETCH_TIMESTAMP_MS = 1700000000000
ERR_UNSUPPORTED_VERSION = 35
NO_AUTH_OPS = -2147483648


class State:
    def __init__(self, args):
        self.args = args
        self.versions = advertised_versions(args.profile, args.caps)
        self.lock = threading.Lock()
        self.frames = 0
        self.seen = set()
        self.stop = threading.Event()
        self.member_seq = 0
        self.host = args.host
        self.port = 0

    def log(self, msg):
        if self.args.verbose:
            sys.stderr.write("capture_broker: %s\n" % msg)
            sys.stderr.flush()

    def record(self, api_key, api_version, frame):
        with self.lock:
            self.frames += 1
            if self.frames >= self.args.max_frames:
                self.stop.set()
            key = (api_key, api_version)
            if key in self.seen:
                return
            self.seen.add(key)
            name = API_NAMES.get(api_key, "ApiKey%d" % api_key)
            path = os.path.join(self.args.out, "%s__%s__v%d.bin" % (self.args.client, name, api_version))
            if os.path.exists(path) and not self.args.overwrite:
                return  # an earlier run (another profile) captured this one first
            tmp = path + ".tmp"
            with open(tmp, "wb") as fh:
                fh.write(frame)
            os.replace(tmp, path)
            self.log("captured %s" % os.path.basename(path))


def _topic_name(t):
    return t.get("Name") or t.get("Topic") or "capture"


def handle(state, api_key, v, body):
    """Returns the response body object, or None when no response is to be sent."""
    req = decode_struct(body, REQUESTS[api_key], v, is_flexible(api_key, v)) if api_key in REQUESTS else {}
    if api_key == 18:
        return {"ErrorCode": 0, "ThrottleTimeMs": 0,
                "ApiKeys": [{"ApiKey": k, "MinVersion": lo, "MaxVersion": hi}
                            for k, (lo, hi) in sorted(state.versions.items())]}
    if api_key == 3:
        topics = req.get("Topics")
        names = [t.get("Name") or "capture" for t in topics] if topics else [state.args.topic]
        return {"ThrottleTimeMs": 0,
                "Brokers": [{"NodeId": 1, "Host": state.host, "Port": state.port, "Rack": None}],
                "ClusterId": "floe-capture-cluster", "ControllerId": 1,
                "Topics": [{"ErrorCode": 0, "Name": n, "TopicId": TOPIC_ID, "IsInternal": False,
                            "Partitions": [{"ErrorCode": 0, "PartitionIndex": 0, "LeaderId": 1, "LeaderEpoch": 0,
                                            "ReplicaNodes": [1], "IsrNodes": [1], "OfflineReplicas": []}],
                            "TopicAuthorizedOperations": NO_AUTH_OPS} for n in names],
                "ClusterAuthorizedOperations": NO_AUTH_OPS}
    if api_key == 0:
        if req["Acks"] == 0:
            return None
        return {"ThrottleTimeMs": 0,
                "Responses": [{"Name": t["Name"],
                               "PartitionResponses": [{"Index": p["Index"], "ErrorCode": 0, "BaseOffset": 0,
                                                       "LogAppendTimeMs": -1, "LogStartOffset": 0,
                                                       "RecordErrors": [], "ErrorMessage": None}
                                                      for p in t["PartitionData"]]}
                              for t in req["TopicData"]]}
    if api_key == 1:
        any_records = False
        topics = []
        for t in req["Topics"]:
            parts = []
            for p in t["Partitions"]:
                records = b""
                if p["FetchOffset"] == 0:
                    records = record_batch(0, [FETCH_RECORD], FETCH_TIMESTAMP_MS)
                    any_records = True
                parts.append({"PartitionIndex": p["Partition"], "ErrorCode": 0, "HighWatermark": 1,
                              "LastStableOffset": 1, "LogStartOffset": 0, "AbortedTransactions": None,
                              "PreferredReadReplica": -1, "Records": records})
            topics.append({"Topic": t.get("Topic", state.args.topic), "TopicId": t.get("TopicId", TOPIC_ID),
                           "Partitions": parts})
        if not any_records:  # stand in for the broker's long poll, briefly
            time.sleep(min(max(req["MaxWaitMs"], 0), 200) / 1000.0)
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "SessionId": 0, "Responses": topics}
    if api_key == 2:
        def offset_for(ts):
            return 1 if ts == -1 else 0
        return {"ThrottleTimeMs": 0,
                "Topics": [{"Name": t["Name"],
                            "Partitions": [{"PartitionIndex": p["PartitionIndex"], "ErrorCode": 0,
                                            "OldStyleOffsets": [offset_for(p["Timestamp"])], "Timestamp": -1,
                                            "Offset": offset_for(p["Timestamp"]), "LeaderEpoch": 0}
                                           for p in t["Partitions"]]} for t in req["Topics"]]}
    if api_key == 10:
        keys = req.get("CoordinatorKeys") or [req.get("Key", "")]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ErrorMessage": None, "NodeId": 1, "Host": state.host,
                "Port": state.port,
                "Coordinators": [{"Key": k, "NodeId": 1, "Host": state.host, "Port": state.port, "ErrorCode": 0,
                                  "ErrorMessage": None} for k in keys]}
    if api_key == 11:
        member_id = req["MemberId"]
        if not member_id:
            with state.lock:
                state.member_seq += 1
                member_id = "%s-member-%d" % (state.args.client, state.member_seq)
        protocol = req["Protocols"][0] if req["Protocols"] else {"Name": "", "Metadata": b""}
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "GenerationId": 1, "ProtocolType": req["ProtocolType"],
                "ProtocolName": protocol["Name"], "Leader": member_id, "SkipAssignment": False,
                "MemberId": member_id,
                "Members": [{"MemberId": member_id, "GroupInstanceId": req.get("GroupInstanceId"),
                             "Metadata": protocol["Metadata"]}]}
    if api_key == 14:
        assignment = b""
        for a in req["Assignments"]:
            if a["MemberId"] == req["MemberId"] or not assignment:
                assignment = a["Assignment"]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ProtocolType": req.get("ProtocolType"),
                "ProtocolName": req.get("ProtocolName"), "Assignment": assignment}
    if api_key == 12:
        return {"ThrottleTimeMs": 0, "ErrorCode": 0}
    if api_key == 13:
        return {"ThrottleTimeMs": 0, "ErrorCode": 0,
                "Members": [{"MemberId": m["MemberId"], "GroupInstanceId": m["GroupInstanceId"], "ErrorCode": 0}
                            for m in req.get("Members", [])]}
    if api_key == 9:
        def topics_of(ts):
            return [{"Name": t["Name"],
                     "Partitions": [{"PartitionIndex": i, "CommittedOffset": -1, "CommittedLeaderEpoch": -1,
                                     "Metadata": "", "ErrorCode": 0} for i in t["PartitionIndexes"]]}
                    for t in (ts or [])]
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "Topics": topics_of(req.get("Topics")),
                "Groups": [{"GroupId": g["GroupId"], "Topics": topics_of(g["Topics"]), "ErrorCode": 0}
                           for g in req.get("Groups", [])]}
    if api_key == 8:
        return {"ThrottleTimeMs": 0,
                "Topics": [{"Name": t["Name"],
                            "Partitions": [{"PartitionIndex": p["PartitionIndex"], "ErrorCode": 0}
                                           for p in t["Partitions"]]} for t in req["Topics"]]}
    if api_key == 22:
        return {"ThrottleTimeMs": 0, "ErrorCode": 0, "ProducerId": 4000, "ProducerEpoch": 0}
    if api_key == 23:
        return {"ThrottleTimeMs": 0,
                "Topics": [{"Topic": t["Topic"],
                            "Partitions": [{"ErrorCode": 0, "Partition": p["Partition"], "LeaderEpoch": 0,
                                            "EndOffset": 1} for p in t["Partitions"]]} for t in req["Topics"]]}
    raise DecodeError("no handler for api key %d" % api_key)


def respond(state, frame):
    """Returns the response frame (with size prefix), b"" for no response, or None to close."""
    api_key, v, corr, client_id, body = parse_request_header(frame)
    state.record(api_key, v, frame)
    state.log("request %s v%d corr=%d client_id=%r (%d bytes)"
              % (API_NAMES.get(api_key, api_key), v, corr, client_id, len(frame)))
    w = Writer()
    w.int32(corr)
    if api_key == 18:  # ApiVersions: response header v0 always
        lo, hi = state.versions[18]
        if v > hi:
            # Unsupported ApiVersions version: answer in v0 with UNSUPPORTED_VERSION (and our ranges).
            encode_struct(w, RESPONSES[18], {"ErrorCode": ERR_UNSUPPORTED_VERSION,
                                             "ApiKeys": [{"ApiKey": k, "MinVersion": a, "MaxVersion": b}
                                                         for k, (a, b) in sorted(state.versions.items())]},
                          0, False)
        else:
            encode_struct(w, RESPONSES[18], handle(state, 18, v, body), v, is_flexible(18, v))
    else:
        if api_key not in state.versions or not (state.versions[api_key][0] <= v <= state.versions[api_key][1]):
            state.log("unsupported %s v%d: closing" % (API_NAMES.get(api_key, api_key), v))
            return None
        flex = is_flexible(api_key, v)
        obj = handle(state, api_key, v, body)
        if obj is None:
            return b""
        if flex:
            w.uvarint(0)  # response header v1: tagged fields
        encode_struct(w, RESPONSES[api_key], obj, v, flex)
    payload = w.getvalue()
    return struct.pack(">i", len(payload)) + payload


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        state = self.server.state
        sock = self.request
        sock.settimeout(state.args.idle)
        try:
            while not state.stop.is_set():
                head = _recv_exact(sock, 4)
                if head is None:
                    return
                size = struct.unpack(">i", head)[0]
                if size < 8 or size > state.args.max_frame_size:
                    state.log("bad frame size %d: closing" % size)
                    return
                frame = _recv_exact(sock, size)
                if frame is None:
                    return
                try:
                    out = respond(state, frame)
                except (DecodeError, KeyError, ValueError, AssertionError) as e:
                    sys.stderr.write("capture_broker: cannot answer a request: %r\n" % (e,))
                    return
                if out is None:
                    return
                if out:
                    sock.sendall(out)
        except (socket.timeout, ConnectionError, OSError):
            return


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# --------------------------------------------------------------------------------------------------
# --check: sanity-parse captures.

def check_record_batches(records):
    """Checks the record batches (magic 2) in a Produce request's records; returns a short summary."""
    r = Reader(records)
    batches = 0
    count = 0
    while r.remaining():
        r.int64()  # base offset
        length = r.int32()
        body = Reader(r.take(length))
        body.int32()  # partition leader epoch
        magic = body.int8()
        if magic != 2:
            raise DecodeError("record batch magic %d" % magic)
        crc = struct.unpack(">I", body.take(4))[0]
        rest = body.data[body.pos:]
        if crc32c(rest) != crc:
            raise DecodeError("record batch CRC-32C mismatch")
        attributes = body.int16()
        body.take(4 + 8 + 8 + 8 + 2 + 4)
        n = body.int32()
        if attributes & 7 == 0:  # uncompressed: walk the records
            for _ in range(n):
                size = body.uvarint()
                size = (size >> 1) ^ -(size & 1)
                body.take(size)
            if body.remaining():
                raise DecodeError("%d bytes after the records of a batch" % body.remaining())
        batches += 1
        count += n
    return "%d batch(es) of %d record(s), CRC ok" % (batches, count)


NAME_RE = re.compile(r"^(?P<client>[A-Za-z0-9._-]+)__(?P<api>[A-Za-z]+)__v(?P<ver>\d+)\.bin$")


def check(folder):
    bad = 0
    count = 0
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".bin"):
            continue
        count += 1
        m = NAME_RE.match(fn)
        problems = []
        if not m:
            problems.append("name does not match <client>__<Api>__v<N>.bin")
        data = open(os.path.join(folder, fn), "rb").read()
        detail = ""
        try:
            api_key, v, corr, client_id, r = parse_request_header(data)
            if m:
                if API_KEYS.get(m.group("api")) != api_key:
                    problems.append("api key %d does not match the name" % api_key)
                if int(m.group("ver")) != v:
                    problems.append("version %d does not match the name" % v)
            if api_key in REQUESTS:
                body = decode_struct(r, REQUESTS[api_key], v, is_flexible(api_key, v))
                if r.remaining():
                    problems.append("%d bytes left after the body" % r.remaining())
                detail = "body ok"
                if api_key == 0:
                    detail += ", " + "; ".join(check_record_batches(p["Records"] or b"")
                                               for t in body["TopicData"] for p in t["PartitionData"])
            else:
                detail = "header only"
            detail += ", client_id=%r, flexible=%s, %d bytes" % (client_id, is_flexible(api_key, v), len(data))
        except DecodeError as e:
            problems.append(str(e))
        if problems:
            bad += 1
            print("FAIL %s: %s" % (fn, "; ".join(problems)))
        else:
            print("ok   %s: %s" % (fn, detail))
    print("%d captures, %d bad" % (count, bad))
    return 1 if bad or not count else 0


def list_markdown(folder):
    """Prints a Markdown table of the captures in folder."""
    print("| File | API (key) | Version | Header | client_id | Bytes |")
    print("|---|---|---|---|---|---|")
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".bin"):
            continue
        data = open(os.path.join(folder, fn), "rb").read()
        api_key, v, _, client_id, _ = parse_request_header(data)
        print("| `%s` | %s (%d) | %d | %s | `%s` | %d |"
              % (fn, API_NAMES.get(api_key, "?"), api_key, v,
                 "v2 (flexible)" if is_flexible(api_key, v) else "v1", client_id, len(data)))
    return 0


# --------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="folder for the captured frames")
    ap.add_argument("--client", default="client", help="file name prefix for this run's captures")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="high")
    ap.add_argument("--max", default="", help="caps, e.g. Metadata=4,Fetch=4 (applied after --profile)")
    ap.add_argument("--topic", default="capture")
    ap.add_argument("--lifetime", type=float, default=120.0, help="seconds before stopping")
    ap.add_argument("--max-frames", type=int, default=5000, help="requests before stopping")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds a connection may stay silent")
    ap.add_argument("--max-frame-size", type=int, default=16 << 20)
    ap.add_argument("--overwrite", action="store_true", help="replace captures already in --out")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--check", metavar="DIR", help="sanity-parse the captures in DIR and exit")
    ap.add_argument("--list", metavar="DIR", help="print a Markdown table of the captures in DIR and exit")
    args = ap.parse_args()

    if args.check:
        return check(args.check)
    if args.list:
        return list_markdown(args.list)
    if not args.out:
        ap.error("--out is required")
    if not re.match(r"^[A-Za-z0-9._-]+$", args.client):
        ap.error("--client must be a plain name")
    args.caps = {}
    for item in filter(None, args.max.split(",")):
        name, _, val = item.partition("=")
        if name not in API_KEYS:
            ap.error("unknown API name in --max: " + name)
        args.caps[name] = int(val)
    os.makedirs(args.out, exist_ok=True)

    state = State(args)
    server = Server((args.host, args.port), Handler)
    server.state = state
    state.port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%d\n" % state.port)
        os.replace(tmp, args.port_file)
    state.log("listening on %s:%d, profile %s, versions %s"
              % (args.host, state.port, args.profile,
                 ", ".join("%s %d-%d" % (API_NAMES[k], lo, hi) for k, (lo, hi) in sorted(state.versions.items()))))

    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    try:
        state.stop.wait(args.lifetime)
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
