#!/usr/bin/python3
"""OffsetForLeaderEpoch at the byte level (Debian's librdkafka 2.0.2 does not exercise it): every start of the
broker is a new leader epoch, batches carry it, and the broker answers where each epoch ended."""
import shutil
import struct
import subprocess
import unittest

import floe_harness as h

KCAT = shutil.which("kcat")
API_OFFSET_FOR_LEADER_EPOCH = 23
TIMEOUT = 15


def produce(broker, values):
    subprocess.run([KCAT, "-P", "-b", broker.bootstrap, "-t", "epochs", "-p", "0", "-X", "acks=all"],
                   input=("\n".join(values) + "\n").encode(), check=True, timeout=TIMEOUT)


def offset_for_leader_epoch(broker, asks):
    """asks: [(current_leader_epoch, leader_epoch)] for partition 0 of "epochs"; v3 request, raw bytes."""
    w = h.Writer().i32(-1).i32(1).string("epochs").i32(len(asks))
    for current, epoch in asks:
        w.i32(0).i32(current).i32(epoch)
    conn = h.KafkaConn(broker.port)
    try:
        conn.send(h.encode_request(API_OFFSET_FOR_LEADER_EPOCH, 3, 9, w.bytes()))
        r = h.Reader(conn.recv_frame(TIMEOUT))
        assert r.i32() == 9
        r.i32()  # throttle
        assert r.i32() == 1 and r.str_(False) == "epochs"
        out = []
        for _ in range(r.i32()):
            error, partition, epoch = r.i16(), r.i32(), r.i32()
            (end,) = struct.unpack(">q", r.take(8))
            out.append((error, epoch, end))
        return out
    finally:
        conn.close()


@unittest.skipIf(KCAT is None, "kcat is not installed")
class OffsetForLeaderEpoch(unittest.TestCase):
    def test_epochs_across_restarts(self):
        with h.Broker() as broker:
            produce(broker, ["a", "b", "c"])          # epoch 1: offsets 0-2
            broker.restart()
            produce(broker, ["d", "e"])               # epoch 2: offsets 3-4
            broker.restart()                          # epoch 3: nothing written yet
            got = offset_for_leader_epoch(broker, [(-1, 0), (-1, 1), (-1, 2), (-1, 3), (-1, 7), (3, 2), (2, 2),
                                                   (4, 2)])
            # Kafka's leader epoch cache rules; the current epoch (3) starts at the log end when the broker starts.
            self.assertEqual(got, [
                (0, 0, 0),     # below the oldest known epoch: itself, ending where epoch 1 began
                (0, 1, 3),     # epoch 1 ended where epoch 2 began
                (0, 2, 5),     # epoch 2 ended where epoch 3 began
                (0, 3, 5),     # the current epoch ends at the log end
                (0, -1, -1),   # above every known epoch: UNDEFINED
                (0, 2, 5),     # current_leader_epoch 3 is the broker's: accepted
                (74, -1, -1),  # an older current epoch: FENCED_LEADER_EPOCH
                (75, -1, -1),  # a newer one: UNKNOWN_LEADER_EPOCH
            ])


if __name__ == "__main__":
    h.main()
