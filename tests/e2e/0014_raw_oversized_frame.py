#!/usr/bin/python3
"""Raw socket: frames larger than socket.request.max.bytes (or with a negative size) close the connection; a frame
of exactly the limit is served."""
import struct

import floe_harness as h

LIMIT = 1024
CLOSE_TIMEOUT_S = 5.0


def api_versions_frame_of_size(size, corr):
    """An ApiVersions v0 request whose size field (bytes after the prefix) is exactly `size`."""
    base = len(h.encode_request(h.API_API_VERSIONS, 0, corr, b"", client_id="")) - 4
    return h.encode_request(h.API_API_VERSIONS, 0, corr, b"", client_id="c" * (size - base))


class RawOversizedFrame(h.BrokerTestCase):
    broker_args = ("--socket-request-max-bytes", str(LIMIT))

    def assert_closed_then_serving(self, data, log_needle=None):
        with self.broker.connect() as c:
            c.send(data)
            self.assertTrue(c.wait_closed(CLOSE_TIMEOUT_S), "the broker kept the connection open")
        if log_needle:
            lines = self.broker.wait_for_log_line(log_needle, "from " + c.peer_tag)
            self.assertEqual(len(lines), 1, lines)
        with self.broker.connect() as fresh:
            _, decoded = fresh.request(h.API_API_VERSIONS, 3)
            self.assertEqual(decoded["error_code"], h.ERR_NONE)

    def test_frame_at_the_limit_is_served(self):
        frame = api_versions_frame_of_size(LIMIT, 31)
        self.assertEqual(struct.unpack(">i", frame[:4])[0], LIMIT)
        with self.broker.connect() as c:
            c.send(frame)
            corr, decoded = h.decode_response(h.API_API_VERSIONS, 0, c.recv_frame())
            self.assertEqual((corr, decoded["error_code"]), (31, h.ERR_NONE))

    def test_one_byte_over_the_limit_closes(self):
        frame = api_versions_frame_of_size(LIMIT + 1, 32)
        self.assertEqual(struct.unpack(">i", frame[:4])[0], LIMIT + 1)
        self.assertEqual(len(frame), LIMIT + 5)
        self.assert_closed_then_serving(frame, "request size %d is outside" % (LIMIT + 1))

    def test_huge_size_prefix_alone_closes(self):
        # Only the 4-byte size is sent: the broker must not wait for (or allocate) 2 GiB.
        self.assert_closed_then_serving(struct.pack(">i", 2**31 - 1), "request size %d is outside" % (2**31 - 1))

    def test_negative_size_closes(self):
        self.assert_closed_then_serving(struct.pack(">i", -1), "request size -1 is outside")

    def test_zero_size_closes(self):
        # An empty frame has no request header.
        self.assert_closed_then_serving(struct.pack(">i", 0))

    def test_oversized_after_good_request(self):
        good = h.encode_request(h.API_API_VERSIONS, 0, 1)
        with self.broker.connect() as c:
            c.send(good + struct.pack(">i", LIMIT * 64) + b"\x00" * 100)
            corr, decoded = h.decode_response(h.API_API_VERSIONS, 0, c.recv_frame())
            self.assertEqual((corr, decoded["error_code"]), (1, h.ERR_NONE))
            self.assertTrue(c.wait_closed(CLOSE_TIMEOUT_S), "the broker kept the connection open")


if __name__ == "__main__":
    h.main()
