#!/usr/bin/python3
"""Raw socket: an unknown API key, an unimplemented API or version closes that connection only; the broker logs
one line for it and goes on serving other and new connections."""

import floe_harness as h

CLOSE_TIMEOUT_S = 5.0


class RawUnknownApi(h.BrokerTestCase):
    def assert_closes(self, frame, log_needle, before=b""):
        """Sends before+frame on a fresh connection; any reply to `before` must arrive, then the broker closes."""
        with self.broker.connect() as other:  # a bystander connection, open across the close
            with self.broker.connect() as c:
                c.send(before + frame)
                if before:
                    corr, decoded = h.decode_response(h.API_API_VERSIONS, 0, c.recv_frame())
                    self.assertEqual((corr, decoded["error_code"]), (1, h.ERR_NONE))
                self.assertTrue(c.wait_closed(CLOSE_TIMEOUT_S), "the broker kept the connection open")
            lines = self.broker.wait_for_log_line(log_needle, "from " + c.peer_tag)
            self.assertEqual(len(lines), 1, lines)
            _, decoded = other.request(h.API_API_VERSIONS, 3)
            self.assertEqual(decoded["error_code"], h.ERR_NONE)
        with self.broker.connect() as fresh:
            _, md = fresh.request(h.API_METADATA, 12)
            self.assertEqual(len(md["brokers"]), 1)
        self.assertTrue(self.broker.alive())

    def test_unknown_api_key(self):
        self.assert_closes(h.encode_request(9999, 0, 5, b""), "unknown API key 9999")

    def test_negative_api_key(self):
        self.assert_closes(h.encode_request(-7, 0, 5, b"\x00" * 8), "unknown API key -7")

    def test_unknown_api_key_after_a_good_request(self):
        # The response to the request before it still comes back first.
        self.assert_closes(h.encode_request(31000, 1, 2, b"xyz"), "unknown API key 31000",
                           before=h.encode_request(h.API_API_VERSIONS, 0, 1))

    def test_unimplemented_api(self):
        # Produce v9 is a real Kafka API that this broker does not implement yet.
        self.assert_closes(h.encode_request(h.API_PRODUCE, 2, 5, b"\x00" * 16), "unsupported Produce v2")

    def test_unsupported_metadata_version(self):
        self.assert_closes(h.encode_request(h.API_METADATA, 13, 5, h.metadata_body(12)), "unsupported Metadata v13")

    def test_negative_version(self):
        self.assert_closes(h.encode_request(h.API_METADATA, -1, 5, h.metadata_body(0)), "unsupported Metadata v-1")


if __name__ == "__main__":
    h.main()
