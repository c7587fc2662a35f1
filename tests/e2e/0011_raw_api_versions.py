#!/usr/bin/python3
"""Raw socket: ApiVersions v0-4, and the v0-format UNSUPPORTED_VERSION fallback for a too-new version."""

import floe_harness as h

EXPECTED = {0: (0, 12), 1: (4, 17), 2: (0, 9), 3: (0, 12), 8: (0, 9), 9: (0, 9), 10: (0, 6), 11: (0, 9), 12: (0, 4),
            13: (0, 5), 14: (0, 5), 15: (0, 5), 16: (0, 5), 18: (0, 4), 19: (0, 7), 20: (0, 6), 21: (0, 2), 22: (0, 5), 23: (0, 4),
            32: (0, 4), 33: (0, 2), 35: (0, 4), 37: (0, 3), 42: (0, 2), 44: (0, 1), 45: (0, 0), 46: (0, 0), 47: (0, 0),
            60: (0, 1)}


class RawApiVersions(h.BrokerTestCase):
    def ranges(self, decoded):
        keys = [k["api_key"] for k in decoded["api_keys"]]
        self.assertEqual(len(keys), len(set(keys)), "duplicate api keys: %s" % keys)
        return {k["api_key"]: (k["min_version"], k["max_version"]) for k in decoded["api_keys"]}

    def test_every_supported_version(self):
        with self.broker.connect() as c:
            for version in range(0, 5):
                with self.subTest(version=version):
                    _, decoded = c.request(h.API_API_VERSIONS, version)
                    self.assertEqual(decoded["error_code"], h.ERR_NONE)
                    self.assertEqual(self.ranges(decoded), EXPECTED)
                    if version >= 1:
                        self.assertEqual(decoded["throttle_time_ms"], 0)

    def check_fallback(self, version, body):
        with self.broker.connect() as c:
            # A client that does not know the broker sends its newest version (with a v2 header, as every version
            # from 3 on has); the body is in a format the broker cannot know and must not need.
            c.send(h.encode_request(h.API_API_VERSIONS, version, 4242, body, header_version=2))
            corr, decoded = h.decode_response(h.API_API_VERSIONS, 0, c.recv_frame())  # header v0, body v0
            self.assertEqual(corr, 4242)
            self.assertEqual(decoded["error_code"], h.ERR_UNSUPPORTED_VERSION)
            self.assertEqual(self.ranges(decoded), EXPECTED)
            # The connection stays usable: the client retries with a version the broker named.
            _, decoded = c.request(h.API_API_VERSIONS, 4)
            self.assertEqual(decoded["error_code"], h.ERR_NONE)
            _, decoded = c.request(h.API_METADATA, 12)
            self.assertEqual(len(decoded["brokers"]), 1)

    def test_v99_falls_back_to_v0_response(self):
        self.check_fallback(99, h.api_versions_body(3))

    def test_v5_falls_back_to_v0_response(self):
        self.check_fallback(5, h.api_versions_body(3))

    def test_too_new_version_with_unknown_body(self):
        self.check_fallback(32767, bytes(range(256)) * 4)

    def test_too_new_version_with_empty_body(self):
        self.check_fallback(99, b"")


if __name__ == "__main__":
    h.main()
