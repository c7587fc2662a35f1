#!/usr/bin/python3
"""Raw socket: truncated or malformed request headers and Metadata bodies close the connection (after the replies
to the requests before them); the broker logs one line and keeps serving."""
import struct

import floe_harness as h

CLOSE_TIMEOUT_S = 5.0


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


class RawMalformedRequest(h.BrokerTestCase):
    def assert_closes(self, data, log_needle, replies_first=0):
        with self.broker.connect() as c:
            c.send(data)
            for i in range(replies_first):
                corr, decoded = h.decode_response(h.API_API_VERSIONS, 0, c.recv_frame())
                self.assertEqual((corr, decoded["error_code"]), (100 + i, h.ERR_NONE))
            self.assertTrue(c.wait_closed(CLOSE_TIMEOUT_S), "the broker kept the connection open")
        lines = self.broker.wait_for_log_line(log_needle, "from " + c.peer_tag)
        self.assertEqual(len(lines), 1, lines)
        with self.broker.connect() as fresh:
            _, md = fresh.request(h.API_METADATA, 12)
            self.assertEqual(len(md["brokers"]), 1)

    def test_truncated_metadata_v1_topic_array(self):
        body = h.Writer().i32(5).string("foo").bytes()  # claims 5 topics, carries 1
        self.assert_closes(h.encode_request(h.API_METADATA, 1, 7, body), "malformed Metadata v1 request")

    def test_metadata_v4_missing_allow_auto_topic_creation(self):
        body = h.metadata_body(4, topics=["foo"])[:-1]
        self.assert_closes(h.encode_request(h.API_METADATA, 4, 7, body), "malformed Metadata v4 request")

    def test_metadata_v12_string_longer_than_frame(self):
        body = h.Writer().uvarint(2).uuid(None).uvarint(1000).raw(b"abc").bytes()
        self.assert_closes(h.encode_request(h.API_METADATA, 12, 7, body), "malformed Metadata v12 request")

    def test_metadata_v12_empty_body(self):
        self.assert_closes(h.encode_request(h.API_METADATA, 12, 7, b""), "malformed Metadata v12 request")

    def test_metadata_v0_negative_topic_count(self):
        body = h.Writer().i32(-2).bytes()
        self.assert_closes(h.encode_request(h.API_METADATA, 0, 7, body), "malformed Metadata v0 request")

    def test_metadata_v1_huge_topic_count(self):
        body = h.Writer().i32(2**31 - 1).bytes()
        self.assert_closes(h.encode_request(h.API_METADATA, 1, 7, body), "malformed Metadata v1 request")

    def test_metadata_v9_truncated_tagged_fields(self):
        # Request-level tagged fields: one field announced, its length runs past the end.
        body = h.metadata_body(9, topics=["foo"])[:-1] + h.Writer().uvarint(1).uvarint(0).uvarint(50).bytes()
        self.assert_closes(h.encode_request(h.API_METADATA, 9, 7, body), "malformed Metadata v9 request")

    def test_truncated_header(self):
        # api key and version, then only half of the correlation id.
        self.assert_closes(frame(struct.pack(">hh", h.API_METADATA, 1) + b"\x00\x01"), "malformed request header")

    def test_header_client_id_past_the_end(self):
        payload = struct.pack(">hhih", h.API_METADATA, 1, 7, 500) + b"short"
        self.assert_closes(frame(payload), "malformed request header")

    def test_malformed_after_good_requests(self):
        good = b"".join(h.encode_request(h.API_API_VERSIONS, 0, 100 + i) for i in range(3))
        bad = h.encode_request(h.API_METADATA, 1, 103, h.Writer().i32(3).bytes())
        after = h.encode_request(h.API_API_VERSIONS, 0, 104)  # never answered: the connection is gone
        self.assert_closes(good + bad + after, "malformed Metadata v1 request", replies_first=3)


if __name__ == "__main__":
    h.main()
