#!/usr/bin/env python3
"""Generates C++ message types with encode/decode for every version from the project's .kdef definitions.

usage: protogen.py DEFS_DIR OUT_DIR NUM_CODEC_UNITS

Writes under OUT_DIR/protocol/:
  msg/<api>.h            request and response structs of one API (header.h: request/response headers)
  api_table.h, api_table.cc   the API keys, names, version ranges and first flexible versions
  msg_codec_<i>.cc       encode/decode of every message, spread over a few translation units
  msg_dispatch.h/.cc     decode/re-encode any message by (api key, version) (fuzzing, capture tests)
  msg_sample.h/.cc       fill any message with pseudo-random values valid for a version (round-trip tests)
Files are rewritten only when their content changes, so an unchanged definition recompiles nothing.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kdef  # noqa: E402
from kdef import VersionRange  # noqa: E402

NEVER = 32767
KEYWORDS = {"default", "delete", "new", "class", "namespace", "operator", "template", "union", "public", "private",
            "protected", "register", "export", "auto", "int", "char", "long", "short", "bool", "true", "false",
            "this", "switch", "case", "for", "while", "do", "if", "else", "return", "const", "static", "struct",
            "enum", "typename", "virtual", "friend", "inline", "explicit", "signed", "unsigned", "void", "volatile",
            "goto", "break", "continue", "try", "catch", "throw", "using", "sizeof", "float", "double", "and", "or",
            "not", "xor", "mutable", "extern", "module", "import", "concept", "requires", "final", "override"}
PRIM_CPP = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t", "uint16": "uint16_t",
            "uint32": "uint32_t", "float64": "double", "bool": "bool", "uuid": "Uuid", "string": "std::string",
            "bytes": "Bytes", "records": "RecordsView"}
PRIM_RW = {"int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint16": "u16", "uint32": "u32",
           "float64": "f64", "bool": "boolean", "uuid": "uuid"}
PRIM_MIN = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint16": 2, "uint32": 4, "float64": 8, "bool": 1,
            "uuid": 16}


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path) and open(path).read() == text:
        return
    with open(path, "w") as f:
        f.write(text)


def member(name):
    s = kdef.snake(name)
    return s + "_" if s in KEYWORDS else s


def vcheck(r: VersionRange, var="version"):
    """C++ condition for `var` in range r."""
    if r.empty():
        return "false"
    parts = []
    if r.lo > 0:
        parts.append("%s >= %d" % (var, r.lo))
    if r.hi < NEVER:
        parts.append("%s <= %d" % (var, r.hi))
    return " && ".join(parts) if parts else "true"


def nullable_any(f):
    return f.nullable is not None and not VersionRange(f.nullable).empty()


class Gen:
    """Generates one message (request, response or header) and its nested structs."""

    def __init__(self, msg: kdef.Message):
        self.m = msg
        self.flex_from = VersionRange(msg.flexible).lo if not VersionRange(msg.flexible).empty() else NEVER
        self.valid = VersionRange(msg.valid)
        self.structs = []  # (name, fields) in definition order, children first
        seen = {}
        for c in msg.common:
            self._collect(c.name, c.fields, seen)
        self._collect(None, msg.fields, seen)

    def _collect(self, name, fields, seen):
        """Appends structs so that each comes after every struct it uses (C++ needs complete member types)."""
        if name is not None and name in seen:
            return
        for f in fields:
            if f.is_struct and f.fields:
                self._collect(f.elem, f.fields, seen)
            elif f.is_struct:
                common = next((c for c in self.m.common if c.name == f.elem), None)
                if common is None:
                    raise ValueError("%s: unknown struct type %s" % (self.m.name, f.elem))
                self._collect(common.name, common.fields, seen)
        if name is not None:
            seen[name] = True
            self.structs.append((name, fields))

    # ---------------------------------------------------------------- types
    def elem_type(self, f):
        return PRIM_CPP[f.elem] if not f.is_struct else f.elem

    def cpp_type(self, f):
        e = self.elem_type(f)
        if f.is_array:
            t = "std::vector<%s>" % e
            return "std::optional<%s>" % t if nullable_any(f) else t
        if f.elem in ("string", "bytes") and nullable_any(f):
            return "std::optional<%s>" % e
        if f.is_struct and nullable_any(f):
            return "std::optional<%s>" % e
        return e

    def init_expr(self, f):
        d = f.default
        if d is None or d == "null":
            return ""
        if f.is_array or f.is_struct:
            return ""
        t = f.elem
        if t == "bool":
            return "true" if d == "true" else ""
        if t in ("string",):
            return json_str(d) if d != "" else ""
        if t in ("int8", "int16", "int32", "int64", "uint16", "uint32"):
            v = int(d, 0)
            if v == 0:
                return ""
            if t == "int64":
                return "INT64_C(%d)" % v if v != -(2 ** 63) else "INT64_MIN"
            if v == -(2 ** 31):
                return "INT32_MIN"
            return "static_cast<%s>(%d)" % (PRIM_CPP[t], v) if v > 2 ** 31 - 1 else str(v)
        if t == "float64":
            return d
        raise ValueError("%s: unsupported default %r for %s" % (self.m.name, d, t))

    def default_value(self, f, expr):
        """The field's default, as a value of the type of `expr` (the member, from outside the struct)."""
        return "std::remove_cvref_t<decltype(%s)>{%s}" % (expr, self.init_expr(f))

    def min_size(self, fields):
        """Lower bound on the encoded size of a struct with these fields, over every valid version."""
        return min(self.min_size_at(fields, v) for v in range(self.valid.lo, self.valid.hi + 1))

    def min_size_at(self, fields, v):
        compact = v >= self.flex_from
        total = 1 if compact else 0  # tagged-field section
        for f in fields:
            if not VersionRange(f.versions).contains(v):
                continue
            if f.tag is not None and VersionRange(f.tagged).contains(v):
                continue
            if f.is_array:
                total += 1 if compact else 4
            elif f.is_struct:
                total += 1 if nullable_any(f) else self.min_size_at(self.fields_of(f), v)
            elif f.elem in PRIM_MIN:
                total += PRIM_MIN[f.elem]
            else:
                total += 1 if compact else (2 if f.elem == "string" else 4)
        return total

    def fields_of(self, f):
        for name, fields in self.structs:
            if name == f.elem:
                return fields
        raise ValueError("%s: unknown struct type %s" % (self.m.name, f.elem))

    # ---------------------------------------------------------------- header
    def header(self):
        """The message struct. Its nested structs are defined first in namespace msg_types::<Message> and aliased
        inside: nesting the definitions themselves would make std::optional<Nested> members ill-formed under
        clang (a nested class with default member initializers is incomplete until the enclosing one is)."""
        out = []
        m = self.m
        if self.structs:
            out.append("namespace msg_types::%s {" % m.name)
            for name, fields in self.structs:
                out.append("struct %s {" % name)
                out += self.members(fields)
                out.append("  bool operator==(const %s&) const = default;" % name)
                out.append("};")
                out.append("")
            out.append("}  // namespace msg_types::%s" % m.name)
            out.append("")
        out.append("struct %s {" % m.name)
        if m.api_key is not None:
            out.append("  static constexpr int16_t kApiKey = %d;" % m.api_key)
        out.append("  static constexpr int16_t kMinVersion = %d;" % self.valid.lo)
        out.append("  static constexpr int16_t kMaxVersion = %d;" % self.valid.hi)
        out.append("  static constexpr int16_t kFirstFlexibleVersion = %d;  // %d: never flexible" % (self.flex_from,
                                                                                                   NEVER))
        for name, _ in self.structs:
            out.append("  using %s = msg_types::%s::%s;" % (name, m.name, name))
        out.append("")
        out += self.members(self.m.fields)
        out.append("")
        out.append("  // Appends the body in `version`'s encoding (fields absent in that version are skipped).")
        out.append("  void encode(Writer& w, int16_t version) const;")
        out.append("  // Reads the body of `version`; false when the bytes are malformed or truncated.")
        out.append("  bool decode(Reader& r, int16_t version);")
        out.append("  bool operator==(const %s&) const = default;" % m.name)
        out.append("};")
        return out

    def members(self, fields):
        out = []
        for f in fields:
            init = self.init_expr(f)
            out.append("  %s %s%s;" % (self.cpp_type(f), member(f.name), "{%s}" % init if init else "{}"))
        out.append("  UnknownTags unknown_tags;")
        return out

    # ---------------------------------------------------------------- codec
    def compact_expr(self, f):
        if f.flexible is not None:
            r = VersionRange(f.flexible)
            return "false" if r.empty() else "(flex && (%s))" % vcheck(r)
        return "flex"

    def fn(self, struct_name):
        return "%s_%s" % (self.m.name, struct_name)

    def qual(self, struct_name):
        return "%s::%s" % (self.m.name, struct_name)

    def codec(self):
        out = []
        for name, _ in self.structs:
            out.append("void encode_%s(Writer& w, const %s& x, int16_t version);" % (self.fn(name), self.qual(name)))
            out.append("void decode_%s(Reader& r, %s& x, int16_t version);" % (self.fn(name), self.qual(name)))
        for name, fields in self.structs:
            out += self.encode_fn("void encode_%s(Writer& w, const %s& x, int16_t version)" % (
                self.fn(name), self.qual(name)), fields)
            out += self.decode_fn("void decode_%s(Reader& r, %s& x, int16_t version)" % (
                self.fn(name), self.qual(name)), fields)
        out.append("}  // namespace")
        out.append("")
        body = self.encode_fn("void %s::encode(Writer& w, int16_t version) const" % self.m.name, self.m.fields,
                              this=True)
        out += body
        out += self.decode_fn("bool %s::decode(Reader& r, int16_t version)" % self.m.name, self.m.fields, this=True)
        out.append("namespace {")
        return out

    def encode_fn(self, sig, fields, this=False):
        x = "(*this)" if this else "x"
        out = [sig + " {", "  const bool flex = version >= %d;" % self.flex_from, "  (void)flex;"]
        tagged = []
        for f in fields:
            present = VersionRange(f.versions)
            if f.tag is not None:
                tr = VersionRange(f.tagged)
                tagged.append(f)
                regular = "(%s) && !(%s)" % (vcheck(present), vcheck(tr))
                if vcheck(present) == "false" or vcheck(tr) == vcheck(present) or vcheck(tr) == "true":
                    continue
                out.append("  if (%s) {" % regular)
            else:
                out.append("  if (%s) {" % vcheck(present))
            out += ["    " + line for line in self.encode_value(f, "%s.%s" % (x, member(f.name)),
                                                             self.compact_expr(f))]
            out.append("  }")
        out.append("  if (flex) {")
        if not tagged:
            out.append("    if (%s.unknown_tags.empty()) {" % x)
            out.append("      w.uvarint(0);")
            out.append("    } else {")
            out.append("      std::vector<UnknownTag> tags = %s.unknown_tags;" % x)
            out.append("      write_tagged_fields(w, tags);")
            out.append("    }")
        else:
            present = ["(%s) && (%s) && !(%s.%s == %s)" % (vcheck(VersionRange(f.versions)),
                                                           vcheck(VersionRange(f.tagged)), x, member(f.name),
                                                           self.default_value(f, "%s.%s" % (x, member(f.name))))
                       for f in tagged]
            out.append("    const bool present[] = {%s};" % ", ".join(present))
            out.append("    bool any = !%s.unknown_tags.empty();" % x)
            out.append("    for (bool p : present) any = any || p;")
            out.append("    if (!any) {")
            out.append("      w.uvarint(0);")
            out.append("    } else {")
            out.append("      std::vector<UnknownTag> tags = %s.unknown_tags;" % x)
            for i, f in enumerate(tagged):
                out.append("      if (present[%d]) {" % i)
                out.append("        UnknownTag t{%d, {}};" % f.tag)
                out.append("        Writer tw(t.data);")
                out += ["        " + line for line in self.encode_value(f, "%s.%s" % (x, member(f.name)), "true",
                                                                       w="tw")]
                out.append("        tags.push_back(std::move(t));")
                out.append("      }")
            out.append("      write_tagged_fields(w, tags);")
            out.append("    }")
        out.append("  }")
        out.append("}")
        out.append("")
        return out

    def nullable_check(self, f):
        return vcheck(VersionRange(f.nullable)) if nullable_any(f) else "false"

    def encode_value(self, f, v, compact, w="w"):
        out = []
        nul = self.nullable_check(f)
        opt = self.cpp_type(f).startswith("std::optional")
        if f.is_array:
            if opt:
                out.append("if (!%s) {" % v)
                out.append("  %s.array_length((%s) ? -1 : 0, %s);  // null, or empty where null is not allowed" % (
                    w, nul, compact))
                out.append("} else {")
                out += ["  " + line for line in self.encode_array(f, "(*%s)" % v, compact, w)]
                out.append("}")
            else:
                out += self.encode_array(f, v, compact, w)
            return out
        if f.is_struct:
            if opt:
                out.append("if (!%s || !(%s)) {" % (v, nul))
                out.append("  %s.i8(-1);" % w)
                out.append("} else {")
                out.append("  %s.i8(1);" % w)
                out.append("  encode_%s(%s, *%s, version);" % (self.fn(f.elem), w, v))
                out.append("}")
            else:
                out.append("encode_%s(%s, %s, version);" % (self.fn(f.elem), w, v))
            return out
        return [self.encode_scalar(f.elem, v, compact, w, opt, nul)]

    def encode_scalar(self, t, v, compact, w, opt, nul):
        if t in PRIM_RW:
            return "%s.%s(%s);" % (w, PRIM_RW[t], v)
        if t == "records":
            return "%s.records(%s, %s);" % (w, v, compact)
        if t == "string":
            if opt:
                return ("if (%s) %s.nullable_string(%s, %s); else %s.string(%s ? *%s : std::string(), %s);" %
                        (nul, w, v, compact, w, v, v, compact))
            return "%s.string(%s, %s);" % (w, v, compact)
        if t == "bytes":
            if opt:
                return ("if (%s) %s.nullable_bytes(%s, %s); else %s.bytes(%s ? ByteSpan(*%s) : ByteSpan(), %s);" %
                        (nul, w, v, compact, w, v, v, compact))
            return "%s.bytes(%s, %s);" % (w, v, compact)
        raise ValueError(t)

    def encode_array(self, f, v, compact, w):
        out = ["%s.array_length(static_cast<int32_t>(%s.size()), %s);" % (w, v, compact)]
        out.append("for (const auto& e : %s) {" % v)
        if f.is_struct:
            out.append("  encode_%s(%s, e, version);" % (self.fn(f.elem), w))
        else:
            out.append("  " + self.encode_scalar(f.elem, "e", compact, w, False, "false"))
        out.append("}")
        return out

    def decode_fn(self, sig, fields, this=False):
        x = "(*this)" if this else "x"
        out = [sig + " {", "  const bool flex = version >= %d;" % self.flex_from, "  (void)flex;"]
        tagged = []
        for f in fields:
            present = VersionRange(f.versions)
            if f.tag is not None:
                tagged.append(f)
                tr = VersionRange(f.tagged)
                if vcheck(tr) == vcheck(present) or vcheck(tr) == "true" or vcheck(present) == "false":
                    continue
                out.append("  if ((%s) && !(%s)) {" % (vcheck(present), vcheck(tr)))
            else:
                out.append("  if (%s) {" % vcheck(present))
            out += ["    " + line for line in self.decode_value(f, "%s.%s" % (x, member(f.name)),
                                                             self.compact_expr(f))]
            out.append("  }")
        out.append("  if (flex) {")
        out.append("    read_tagged_fields(r, %s.unknown_tags, [&](uint32_t tag, Reader& sub) -> bool {" % x)
        if tagged:
            out.append("      switch (tag) {")
            for f in tagged:
                out.append("        case %d:" % f.tag)
                out.append("          if (!((%s) && (%s))) return false;" % (vcheck(VersionRange(f.versions)),
                                                                           vcheck(VersionRange(f.tagged))))
                out.append("          {")
                out.append("            Reader& r = sub;")
                out += ["            " + line for line in self.decode_value(f, "%s.%s" % (x, member(f.name)),
                                                                            "true")]
                out.append("          }")
                out.append("          return true;")
            out.append("        default:")
            out.append("          return false;")
            out.append("      }")
        else:
            out.append("      (void)tag;")
            out.append("      (void)sub;")
            out.append("      return false;")
        out.append("    });")
        out.append("  }")
        out.append("  return r.ok();" if this else "")
        out.append("}")
        out.append("")
        return out

    def decode_value(self, f, v, compact):
        out = []
        nul = self.nullable_check(f)
        opt = self.cpp_type(f).startswith("std::optional")
        if f.is_array:
            mn = max(1, self.min_size(self.fields_of(f)) if f.is_struct else
                     PRIM_MIN.get(f.elem, 1))
            out.append("{")
            out.append("  int32_t n = r.array_length(%s, %d);" % (compact, mn))
            if opt:
                out.append("  if (n < 0) {")
                out.append("    if (!(%s)) r.fail();" % nul)
                out.append("    %s.reset();" % v)
                out.append("  } else {")
                out.append("    auto& vec = %s.emplace();" % v)
            else:
                out.append("  if (n < 0) {")
                out.append("    r.fail();")
                out.append("  } else {")
                out.append("    auto& vec = %s;" % v)
            out.append("    vec.clear();")
            out.append("    vec.reserve(static_cast<size_t>(n));")
            out.append("    for (int32_t i = 0; i < n && r.ok(); ++i) {")
            if f.is_struct:
                out.append("      decode_%s(r, vec.emplace_back(), version);" % self.fn(f.elem))
            else:
                out.append("      " + self.decode_scalar(f.elem, "vec.emplace_back()", compact, False, "false"))
            out.append("    }")
            out.append("  }")
            out.append("}")
            return out
        if f.is_struct:
            if opt:
                out.append("if (%s) {" % nul)
                out.append("  int8_t marker = r.i8();")
                out.append("  if (marker < 0) {")
                out.append("    %s.reset();" % v)
                out.append("  } else {")
                out.append("    decode_%s(r, %s.emplace(), version);" % (self.fn(f.elem), v))
                out.append("  }")
                out.append("} else {")
                out.append("  decode_%s(r, %s.emplace(), version);" % (self.fn(f.elem), v))
                out.append("}")
            else:
                out.append("decode_%s(r, %s, version);" % (self.fn(f.elem), v))
            return out
        return [self.decode_scalar(f.elem, v, compact, opt, nul)]

    def decode_scalar(self, t, v, compact, opt, nul):
        if t in PRIM_RW:
            return "%s = r.%s();" % (v, PRIM_RW[t])
        if t == "records":
            return "%s = r.records(%s);" % (v, compact)
        if t in ("string", "bytes"):
            fn = "nullable_string" if t == "string" else "nullable_bytes"
            if opt:
                return ("%s = r.%s(%s); if (!%s && !(%s)) r.fail();" % (v, fn, compact, v, nul))
            return "{ auto s = r.%s(%s); if (!s) r.fail(); else %s = std::move(*s); }" % (fn, compact, v)
        raise ValueError(t)

    # ---------------------------------------------------------------- samples (tests)
    def sample(self):
        out = []
        for name, _ in self.structs:
            out.append("void sample_%s(%s& x, int16_t version, Rng& rng);" % (self.fn(name), self.qual(name)))
        for name, fields in self.structs:
            out += self.sample_fn("void sample_%s(%s& x, int16_t version, Rng& rng)" % (self.fn(name),
                                                                                        self.qual(name)), fields)
        out += self.sample_fn("void sample_%s(%s& x, int16_t version, Rng& rng)" % (self.m.name, self.m.name),
                              self.m.fields)
        return out

    def sample_fn(self, sig, fields):
        out = [sig + " {", "  const bool flex = version >= %d;" % self.flex_from, "  (void)flex;",
               "  (void)rng;"]
        tags = set(f.tag for f in fields if f.tag is not None)
        for f in fields:
            out.append("  if (%s) {" % vcheck(VersionRange(f.versions)))
            out += ["    " + line for line in self.sample_value(f, "x.%s" % member(f.name))]
            out.append("  }")
        free_tag = max(tags) + 1 if tags else 0
        out.append("  if (flex && rng.chance(4)) x.unknown_tags.push_back(UnknownTag{%d + rng.below(3), "
                   "rng.bytes()});" % (free_tag + 20))
        out.append("}")
        out.append("")
        return out

    def sample_value(self, f, v):
        nul = self.nullable_check(f)
        opt = self.cpp_type(f).startswith("std::optional")
        out = []
        if opt:
            out.append("if ((%s) && rng.chance(4)) {" % nul)
            out.append("  %s.reset();" % v)
            out.append("} else {")
            inner = "(*%s)" % v
            out.append("  %s.emplace();" % v)
        else:
            inner = v
        body = []
        if f.is_array:
            body.append("%s.resize(rng.below(3));" % inner)
            body.append("for (auto& e : %s) {" % inner)
            if f.is_struct:
                body.append("  sample_%s(e, version, rng);" % self.fn(f.elem))
            else:
                body.append("  " + self.sample_scalar(f.elem, "e"))
            body.append("}")
        elif f.is_struct:
            body.append("sample_%s(%s, version, rng);" % (self.fn(f.elem), inner))
        else:
            body.append(self.sample_scalar(f.elem, inner))
        out += [("  " if opt else "") + line for line in body]
        if opt:
            out.append("}")
        return out

    def sample_scalar(self, t, v):
        return {"int8": "%s = static_cast<int8_t>(rng.next());",
                "int16": "%s = static_cast<int16_t>(rng.next());",
                "int32": "%s = static_cast<int32_t>(rng.next());",
                "int64": "%s = static_cast<int64_t>(rng.next());",
                "uint16": "%s = static_cast<uint16_t>(rng.next());",
                "uint32": "%s = static_cast<uint32_t>(rng.next());",
                "float64": "%s = static_cast<double>(static_cast<int32_t>(rng.next())) / 8;",
                "bool": "%s = rng.chance(2);",
                "uuid": "%s = rng.uuid();",
                "string": "%s = rng.text();",
                "bytes": "%s = rng.bytes();",
                "records": "%s = rng.records();"}[t] % v


def json_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -------------------------------------------------------------------- files

def api_of(msg_name):
    for suffix in ("Request", "Response", "Header"):
        if msg_name.endswith(suffix):
            return msg_name[: -len(suffix)]
    return msg_name


def main():
    defs_dir, out_dir, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = sorted(glob.glob(os.path.join(defs_dir, "*.kdef")))
    per_file = []  # (snake, [Message])
    for p in files:
        per_file.append((os.path.splitext(os.path.basename(p))[0], kdef.parse_kdef(open(p).read(), p)))
    base = os.path.join(out_dir, "protocol")
    banner = "// Generated by tools/protogen/protogen.py from src/protocol/defs. Do not edit.\n"

    # One header per API.
    for snake, msgs in per_file:
        lines = [banner + "#pragma once", "", "#include <cstdint>", "#include <optional>", "#include <string>",
                 "#include <vector>", "", '#include "protocol/wire.h"', "", "namespace floe::proto {", ""]
        for m in msgs:
            lines += Gen(m).header()
            lines.append("")
        lines.append("}  // namespace floe::proto")
        write_if_changed(os.path.join(base, "msg", snake + ".h"), "\n".join(lines) + "\n")
    all_h = [banner + "#pragma once", "// Every generated message. Prefer including only the API headers you use."]
    all_h += ['#include "protocol/msg/%s.h"' % s for s, _ in per_file]
    write_if_changed(os.path.join(base, "messages.h"), "\n".join(all_h) + "\n")

    # Codec translation units, balanced by definition size.
    sizes = sorted(((os.path.getsize(p), s, m) for p, (s, m) in zip(files, per_file)), key=lambda t: -t[0])
    buckets = [[0, []] for _ in range(units)]
    for size, snake, msgs in sizes:
        b = min(buckets, key=lambda b: b[0])
        b[0] += size
        b[1].append((snake, msgs))
    for i, (_, entries) in enumerate(buckets):
        lines = [banner, '#include "protocol/wire.h"']
        for snake, _ in sorted(entries):
            lines.append('#include "protocol/msg/%s.h"' % snake)
        lines += ["", "namespace floe::proto {", "namespace {"]
        for snake, msgs in sorted(entries):
            for m in msgs:
                lines += Gen(m).codec()
        lines += ["}  // namespace", "}  // namespace floe::proto"]
        write_if_changed(os.path.join(base, "msg_codec_%d.cc" % i), "\n".join(lines) + "\n")

    apis = []  # (key, name, request Message, response Message, snake)
    headers = None
    for snake, msgs in per_file:
        if msgs[0].kind == "header":
            headers = msgs
            continue
        req = next(m for m in msgs if m.kind == "request")
        resp = next(m for m in msgs if m.kind == "response")
        apis.append((req.api_key, api_of(req.name), req, resp, snake))
    apis.sort()
    write_api_table(base, banner, apis)
    write_dispatch(base, banner, apis)
    write_samples(base, banner, apis, headers)


def write_api_table(base, banner, apis):
    h = [banner + "#pragma once", "", "#include <cstdint>", "#include <span>", "#include <string_view>", "",
         "namespace floe::proto {", "", "enum class ApiKey : int16_t {"]
    h += ["  %s = %d," % (name, key) for key, name, _, _, _ in apis]
    h += ["};", "",
          "// One Kafka API as defined in src/protocol/defs (what Floe can decode, not what it has implemented).",
          "struct ApiInfo {", "  int16_t key;", "  std::string_view name;", "  int16_t min_version;",
          "  int16_t max_version;", "  int16_t first_flexible_version;  // 32767: never flexible",
          "  bool latest_version_unstable;", "",
          "  bool flexible(int16_t version) const { return version >= first_flexible_version; }",
          "  // Request header v2 (tagged fields) for flexible versions, else v1.",
          "  int16_t request_header_version(int16_t version) const { return flexible(version) ? 2 : 1; }",
          "  // Response header v1 for flexible versions, else v0; ApiVersions always answers with v0.",
          "  int16_t response_header_version(int16_t version) const {",
          "    return key != %d && flexible(version) ? 1 : 0;" % 18, "  }", "};", "",
          "std::span<const ApiInfo> all_apis();", "// nullptr for a key Floe has no definition of.",
          "const ApiInfo* find_api(int16_t key);", "", "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "api_table.h"), "\n".join(h) + "\n")
    c = [banner + '#include "protocol/api_table.h"', "", "#include <algorithm>", "#include <array>", "",
         "namespace floe::proto {", "namespace {", "constexpr std::array<ApiInfo, %d> kApis = {{" % len(apis)]
    for key, name, req, resp, _ in apis:
        g = Gen(req)
        c.append('    {%d, "%s", %d, %d, %d, %s},' % (key, name, g.valid.lo, g.valid.hi, g.flex_from,
                                                    "true" if req.unstable else "false"))
    c += ["}};", "}  // namespace", "", "std::span<const ApiInfo> all_apis() { return kApis; }", "",
          "const ApiInfo* find_api(int16_t key) {",
          "  auto it = std::lower_bound(kApis.begin(), kApis.end(), key,",
          "                             [](const ApiInfo& a, int16_t k) { return a.key < k; });",
          "  return it != kApis.end() && it->key == key ? &*it : nullptr;", "}", "",
          "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "api_table.cc"), "\n".join(c) + "\n")


def write_dispatch(base, banner, apis):
    h = [banner + "#pragma once", "", "#include <cstdint>", "", '#include "protocol/wire.h"', "",
         "namespace floe::proto {", "",
         "// Decodes a request (or response) body of any API and version; false when the key or version is unknown",
         "// or the bytes are malformed. With `reencoded`, the decoded message is encoded again into it.",
         "bool decode_any(int16_t api_key, int16_t version, bool request, ByteSpan body, Bytes* reencoded);", "",
         "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "msg_dispatch.h"), "\n".join(h) + "\n")
    c = [banner + '#include "protocol/msg_dispatch.h"', "", '#include "protocol/messages.h"', "",
         "namespace floe::proto {", "namespace {", "template <typename T>",
         "bool decode_one(int16_t version, ByteSpan body, Bytes* reencoded) {",
         "  if (version < T::kMinVersion || version > T::kMaxVersion) return false;", "  T msg;",
         "  Reader r(body);", "  if (!msg.decode(r, version)) return false;", "  if (reencoded) {",
         "    Writer w(*reencoded);", "    msg.encode(w, version);", "  }", "  return true;", "}",
         "}  // namespace", "",
         "bool decode_any(int16_t api_key, int16_t version, bool request, ByteSpan body, Bytes* reencoded) {",
         "  switch (api_key) {"]
    for key, name, req, resp, _ in apis:
        c.append("    case %d:" % key)
        c.append("      return request ? decode_one<%s>(version, body, reencoded)" % req.name)
        c.append("                     : decode_one<%s>(version, body, reencoded);" % resp.name)
    c += ["    default:", "      return false;", "  }", "}", "", "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "msg_dispatch.cc"), "\n".join(c) + "\n")


def write_samples(base, banner, apis, headers):
    h = [banner + "#pragma once", "", "#include <cstdint>", "#include <string>", "",
         '#include "protocol/wire.h"', "", "namespace floe::proto {", "",
         "// Fills a message of (api key, version) with pseudo-random values valid for that version (seeded), encodes",
         "// it, decodes it, checks equality and that re-encoding gives the same bytes. Returns an empty string on",
         "// success, else what went wrong. Test support: linked into tests only.",
         "std::string roundtrip_sample(int16_t api_key, int16_t version, bool request, uint64_t seed);",
         "// The same for the request header (version 0-2) and response header (version 0-1).",
         "std::string roundtrip_header_sample(bool request, int16_t version, uint64_t seed);",
         "// The encoding of the sample that roundtrip_sample checks (empty for an unknown key or version).",
         "Bytes sample_bytes(int16_t api_key, int16_t version, bool request, uint64_t seed);", "",
         "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "msg_sample.h"), "\n".join(h) + "\n")
    c = [banner + '#include "protocol/msg_sample.h"', "", '#include "protocol/messages.h"',
         '#include "protocol/sample_rng.h"', "", "namespace floe::proto {", "namespace {"]
    for _, _, req, resp, _ in apis:
        c += Gen(req).sample() + Gen(resp).sample()
    for m in headers:
        c += Gen(m).sample()
    c += ["template <typename T, typename Fill>",
          "std::string roundtrip(int16_t version, uint64_t seed, Fill fill) {",
          "  if (version < T::kMinVersion || version > T::kMaxVersion) return \"version out of range\";",
          "  Rng rng(seed);", "  T msg;", "  fill(msg, version, rng);", "  Bytes first;",
          "  Writer w(first);", "  msg.encode(w, version);", "  T back;", "  Reader r(first);",
          "  if (!back.decode(r, version)) return \"decode failed\";",
          "  if (!r.at_end()) return \"decode left bytes\";",
          "  if (!(back == msg)) return \"decoded message differs\";", "  Bytes second;", "  Writer w2(second);",
          "  back.encode(w2, version);", "  if (second != first) return \"re-encoding differs\";",
          "  return {};", "}", "",
          "template <typename T, typename Fill>",
          "Bytes encoded(int16_t version, uint64_t seed, Fill fill) {",
          "  if (version < T::kMinVersion || version > T::kMaxVersion) return {};",
          "  Rng rng(seed);", "  T msg;", "  fill(msg, version, rng);", "  Bytes out;", "  Writer w(out);",
          "  msg.encode(w, version);", "  return out;", "}", "}  // namespace", "",
          "Bytes sample_bytes(int16_t api_key, int16_t version, bool request, uint64_t seed) {",
          "  switch (api_key) {"]
    for key, name, req, resp, _ in apis:
        c.append("    case %d:" % key)
        c.append("      return request ? encoded<%s>(version, seed, sample_%s)" % (req.name, req.name))
        c.append("                     : encoded<%s>(version, seed, sample_%s);" % (resp.name, resp.name))
    c += ["    default:", "      return {};", "  }", "}", "",
          "std::string roundtrip_sample(int16_t api_key, int16_t version, bool request, uint64_t seed) {",
          "  switch (api_key) {"]
    for key, name, req, resp, _ in apis:
        c.append("    case %d:" % key)
        c.append("      return request ? roundtrip<%s>(version, seed, sample_%s)" % (req.name, req.name))
        c.append("                     : roundtrip<%s>(version, seed, sample_%s);" % (resp.name, resp.name))
    c += ["    default:", "      return \"unknown api key\";", "  }", "}", "",
          "std::string roundtrip_header_sample(bool request, int16_t version, uint64_t seed) {",
          "  return request ? roundtrip<%s>(version, seed, sample_%s)" % (headers[0].name, headers[0].name),
          "                 : roundtrip<%s>(version, seed, sample_%s);" % (headers[1].name, headers[1].name),
          "}", "", "}  // namespace floe::proto"]
    write_if_changed(os.path.join(base, "msg_sample.cc"), "\n".join(c) + "\n")


if __name__ == "__main__":
    main()
