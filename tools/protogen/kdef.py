"""The project's compact protocol definition format (.kdef) and the model both tools share.

A .kdef file holds the messages of one Kafka API (request then response), or the headers:

    # comment (whole lines only)
    request ProduceRequest key=0 valid=0-12 flexible=9+ [unstable]
      TransactionalId string v=3+ null=3+ default="null" ignorable
      TopicData []TopicProduceData v=0+
        Name string v=0+
        ...
    struct SomeCommonStruct v=0+          # a commonStructs entry of the message above
      Field int32 v=0+

Field lines: `Name Type attr...`, children indented two spaces deeper. Attributes:
  v=RANGE (versions)  null=RANGE (nullableVersions)  tag=N  tagv=RANGE (taggedVersions)
  flexv=RANGE (field-level flexibleVersions)  default="..."  ignorable
RANGE is `N`, `N+`, `N-M` or `none`.
"""
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import List, Optional

PRIMITIVES = {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool", "uuid", "string", "bytes",
              "records"}


class VersionRange:
    def __init__(self, text: str):
        self.text = text
        t = text.strip()
        if t == "none":
            self.lo, self.hi = 1, 0
        elif t.endswith("+"):
            self.lo, self.hi = int(t[:-1]), 32767
        elif "-" in t:
            a, b = t.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(t)

    def contains(self, v: int) -> bool:
        return self.lo <= v <= self.hi

    def empty(self) -> bool:
        return self.lo > self.hi

    def __eq__(self, other):
        return (self.lo, self.hi) == (other.lo, other.hi) or (self.empty() and other.empty())

    def __repr__(self):
        return self.text


@dataclass
class Field:
    name: str
    type: str
    versions: str
    nullable: Optional[str] = None
    tag: Optional[int] = None
    tagged: Optional[str] = None
    flexible: Optional[str] = None
    default: Optional[str] = None
    ignorable: bool = False
    fields: List["Field"] = field(default_factory=list)

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def elem(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self):
        return self.elem not in PRIMITIVES


@dataclass
class Struct:
    name: str
    versions: str
    fields: List[Field]


@dataclass
class Message:
    kind: str  # request | response | header
    name: str
    api_key: Optional[int]
    valid: str
    flexible: str
    unstable: bool = False
    fields: List[Field] = field(default_factory=list)
    common: List[Struct] = field(default_factory=list)


def normalize_default(v) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    s = str(v)
    return s.lower() if s.lower() in ("true", "false") else s


# ---------------------------------------------------------------- JSON (the Kafka project's files)

def _strip_comments(text: str) -> str:
    out = []
    for line in text.splitlines():
        # Kafka's files use // comments on their own lines or after JSON; none inside strings contain "//".
        i = line.find("//")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


def _json_field(d) -> Field:
    return Field(name=d["name"], type=d["type"], versions=d["versions"], nullable=d.get("nullableVersions"),
                 tag=d.get("tag"), tagged=d.get("taggedVersions"), flexible=d.get("flexibleVersions"),
                 default=normalize_default(d.get("default")), ignorable=bool(d.get("ignorable", False)),
                 fields=[_json_field(c) for c in d.get("fields", [])])


def load_json(path: str) -> Message:
    d = json.loads(_strip_comments(open(path).read()))
    return Message(kind=d["type"], name=d["name"], api_key=d.get("apiKey"), valid=d["validVersions"],
                   flexible=d["flexibleVersions"], unstable=bool(d.get("latestVersionUnstable", False)),
                   fields=[_json_field(f) for f in d["fields"]],
                   common=[Struct(c["name"], c["versions"], [_json_field(f) for f in c["fields"]])
                           for c in d.get("commonStructs", [])])


# ---------------------------------------------------------------- .kdef

def _field_line(f: Field) -> str:
    parts = [f.name, f.type, "v=" + f.versions]
    if f.nullable is not None:
        parts.append("null=" + f.nullable)
    if f.tag is not None:
        parts.append("tag=%d" % f.tag)
    if f.tagged is not None:
        parts.append("tagv=" + f.tagged)
    if f.flexible is not None:
        parts.append("flexv=" + f.flexible)
    if f.default is not None:
        parts.append("default=" + json.dumps(f.default))
    if f.ignorable:
        parts.append("ignorable")
    return " ".join(parts)


def _write_fields(fields, depth, out):
    for f in fields:
        out.append("  " * depth + _field_line(f))
        _write_fields(f.fields, depth + 1, out)


def write_kdef(messages: List[Message]) -> str:
    out = []
    for m in messages:
        head = "%s %s" % (m.kind, m.name)
        if m.api_key is not None:
            head += " key=%d" % m.api_key
        head += " valid=%s flexible=%s" % (m.valid, m.flexible)
        if m.unstable:
            head += " unstable"
        out.append(head)
        _write_fields(m.fields, 1, out)
        for c in m.common:
            out.append("struct %s v=%s" % (c.name, c.versions))
            _write_fields(c.fields, 1, out)
        out.append("")
    return "\n".join(out)


def _parse_attrs(tokens):
    attrs = {}
    for t in tokens:
        if "=" in t:
            k, v = t.split("=", 1)
            attrs[k] = v
        else:
            attrs[t] = True
    return attrs


def parse_kdef(text: str, origin: str = "<kdef>") -> List[Message]:
    messages: List[Message] = []
    stack = []  # (depth, list to append children to)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = "" if raw.lstrip().startswith("#") else raw.rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent % 2:
            raise ValueError("%s:%d: odd indentation" % (origin, lineno))
        depth = indent // 2
        tokens = shlex.split(line.strip())
        where = "%s:%d" % (origin, lineno)
        if depth == 0:
            kind, name, attrs = tokens[0], tokens[1], _parse_attrs(tokens[2:])
            if kind in ("request", "response", "header"):
                m = Message(kind=kind, name=name, api_key=int(attrs["key"]) if "key" in attrs else None,
                            valid=attrs["valid"], flexible=attrs["flexible"], unstable="unstable" in attrs)
                messages.append(m)
                stack = [(0, m.fields)]
            elif kind == "struct":
                if not messages:
                    raise ValueError(where + ": struct before any message")
                s = Struct(name, attrs["v"], [])
                messages[-1].common.append(s)
                stack = [(0, s.fields)]
            else:
                raise ValueError(where + ": unknown block " + kind)
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if not stack or stack[-1][0] != depth - 1:
            raise ValueError(where + ": unexpected indentation")
        attrs = _parse_attrs(tokens[2:])
        f = Field(name=tokens[0], type=tokens[1], versions=attrs["v"], nullable=attrs.get("null"),
                  tag=int(attrs["tag"]) if "tag" in attrs else None, tagged=attrs.get("tagv"),
                  flexible=attrs.get("flexv"), default=attrs.get("default"), ignorable="ignorable" in attrs)
        stack[-1][1].append(f)
        stack.append((depth, f.fields))
    return messages


def load_kdefs(paths) -> List[Message]:
    out = []
    for p in sorted(paths):
        out.extend(parse_kdef(open(p).read(), p))
    return out


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()
