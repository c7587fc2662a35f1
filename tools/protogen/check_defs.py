#!/usr/bin/env python3
"""Checks that the project's .kdef definitions carry the facts of the Kafka protocol's JSON files: message names,
API keys, valid/flexible versions, and for every field its name, type, versions, nullable versions, tag, tagged
versions, field-level flexible versions, default and ignorable flag. Exits 77 (skipped) when the JSON is absent.

usage: check_defs.py DEFS_DIR JSON_DIR
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kdef  # noqa: E402
from apis import APIS  # noqa: E402

SKIP = 77


def rng(text):
    return None if text is None else kdef.VersionRange(text)


def compare_fields(path, ours, theirs, errors):
    if [f.name for f in ours] != [f.name for f in theirs]:
        errors.append("%s: fields %s != %s" % (path, [f.name for f in ours], [f.name for f in theirs]))
        return
    for a, b in zip(ours, theirs):
        p = path + "." + a.name
        for attr in ("type", "tag", "default", "ignorable"):
            if getattr(a, attr) != getattr(b, attr):
                errors.append("%s: %s %r != %r" % (p, attr, getattr(a, attr), getattr(b, attr)))
        for attr in ("versions", "nullable", "tagged", "flexible"):
            x, y = rng(getattr(a, attr)), rng(getattr(b, attr))
            if (x is None) != (y is None) or (x is not None and x != y):
                errors.append("%s: %s %r != %r" % (p, attr, getattr(a, attr), getattr(b, attr)))
        compare_fields(p, a.fields, b.fields, errors)


def main():
    defs_dir, json_dir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(json_dir):
        print("skipped: %s is absent" % json_dir)
        return SKIP
    ours = {m.name: m for m in kdef.load_kdefs(glob.glob(os.path.join(defs_dir, "*.kdef")))}
    errors = []
    wanted = [a + s for a in APIS for s in ("Request", "Response")] + ["RequestHeader", "ResponseHeader"]
    for name in wanted:
        if name not in ours:
            errors.append("%s: no definition" % name)
            continue
        m, j = ours[name], kdef.load_json(os.path.join(json_dir, name + ".json"))
        if m.kind != j.kind and not (m.kind == "header" and j.kind == "header"):
            errors.append("%s: kind %s != %s" % (name, m.kind, j.kind))
        for attr in ("api_key", "unstable"):
            if getattr(m, attr) != getattr(j, attr):
                errors.append("%s: %s %r != %r" % (name, attr, getattr(m, attr), getattr(j, attr)))
        for attr in ("valid", "flexible"):
            if rng(getattr(m, attr)) != rng(getattr(j, attr)):
                errors.append("%s: %s %r != %r" % (name, attr, getattr(m, attr), getattr(j, attr)))
        compare_fields(name, m.fields, j.fields, errors)
        if [c.name for c in m.common] != [c.name for c in j.common]:
            errors.append("%s: common structs differ" % name)
        else:
            for a, b in zip(m.common, j.common):
                compare_fields(name + "." + a.name, a.fields, b.fields, errors)
    extra = set(ours) - set(wanted)
    if extra:
        errors.append("definitions without a known API: %s" % sorted(extra))
    for e in errors:
        print(e)
    print("%d messages checked against %s: %s" % (len(wanted), json_dir, "FAILED" if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
