#!/usr/bin/env python3
"""Writes src/protocol/defs/*.kdef from the Kafka project's message JSON files (a one-time import; the .kdef
files are the project's definitions and are edited by hand afterwards). check_defs.py verifies they still agree.

usage: import_kafka_json.py JSON_DIR DEFS_DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kdef  # noqa: E402
from apis import APIS  # noqa: E402


def main():
    json_dir, defs_dir = sys.argv[1], sys.argv[2]
    os.makedirs(defs_dir, exist_ok=True)
    for api in APIS + ["Header"]:
        if api == "Header":
            msgs = [kdef.load_json(os.path.join(json_dir, n + ".json")) for n in ("RequestHeader", "ResponseHeader")]
            for m in msgs:
                m.kind = "header"
        else:
            msgs = [kdef.load_json(os.path.join(json_dir, api + s + ".json")) for s in ("Request", "Response")]
        path = os.path.join(defs_dir, kdef.snake(api) + ".kdef")
        with open(path, "w") as f:
            f.write("# %s: the facts of the Kafka protocol's %s definitions (see tools/protogen).\n" % (api, api))
            f.write(kdef.write_kdef(msgs))


if __name__ == "__main__":
    main()
