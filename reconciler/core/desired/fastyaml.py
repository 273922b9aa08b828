"""A fast reader for the plain block YAML that desired-state files are, with PyYAML as the judge.

Pure. PyYAML's composer builds a node (with two position marks) for every scalar,
which costs seconds for a 100,000-entry file. Desired-state files almost always
use a small subset of YAML: block mappings and block lists, ``- key: value``
items, plain or simply quoted scalars, comments. ``fast_load`` reads exactly
that subset line by line and returns None for anything else (flow collections,
anchors, tags, multi-line scalars, escapes, tabs, documents markers...), so the
caller falls back to the full safe loader: the fast path only ever answers when
the answer is the one PyYAML gives (a property test compares them).

Plain scalars are typed by PyYAML's own resolver (``yes`` is true, ``25`` a
number), except where YAML 1.1 leaves no doubt: email addresses and UUIDs (the
shapes that dominate big files), scalars whose first character opens no
implicit type and that are not a boolean or null word (``inactive``, ``Left
the company``), plain decimal numbers, and dates (kept as text either way).
A folder of such files is read without importing PyYAML. The line that makes up
most of a big file (``  - email: a@b.c``, ``  - id: <uuid>``) is read by one
regular expression before the general line reader; a property test checks
that this shortcut reads every text exactly as the general path does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FastYaml", "fast_load"]

# One line of the subset: indentation, an optional "- ", an optional "key:", an optional value.
# It is matched against lines with no trailing spaces (_strip_comment), so the value runs to the
# end: no lazy ".*?" before " *$", which backtracked once per space (a line of 100,000 spaces took
# minutes, and a 32 MB file could hang `validate`).
_LINE = re.compile(r"(?P<indent> *)(?P<dash>- +)?(?:(?P<key>[A-Za-z_][A-Za-z0-9_-]*):(?= |$))?(?: *(?P<value>[^ ].*))?")
# Values that are certainly strings for every YAML 1.1 implicit resolver: they contain '@'
# or are a UUID (8-4-4-4-12 hex, never a number, date or boolean), with no YAML indicator.
# '%' may not open a plain scalar (PyYAML refuses "%a@b"), so it is allowed after the first character only.
_PLAIN_STRING_TEXT = (
    r"[A-Za-z0-9._+-][A-Za-z0-9._%+-]*+@[A-Za-z0-9.-]++"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_PLAIN_STRING = re.compile(_PLAIN_STRING_TEXT)
# The line that makes up most of a big file: a list item opening with an address or an id
# ("  - email: a@b.c"), nothing after it. One match reads it, instead of the general line
# pattern, a comment cut and a value check (see _read).
_ITEM_LINE = re.compile(r"( *+)- ([A-Za-z_][A-Za-z0-9_-]*+): (" + _PLAIN_STRING_TEXT + ")")
_SAFE_PLAIN = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:[^#:]|:(?![ ]|$)|(?<! )#)*")  # ":" ends no plain scalar
# Tabs, carriage returns, YAML 1.1's other line breaks, a byte-order mark, control characters,
# and what YAML refuses outright although it is valid UTF-8: the noncharacters U+FFFE and U+FFFF
# (and surrogates, which strict decoding never yields).
_OUTSIDE = re.compile("[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ufeff\\ud800-\\udfff\\ufffe\\uffff]")
# YAML 1.1 types a plain scalar by its first character (PyYAML's implicit resolvers are keyed by
# it): only these open a number, timestamp, null ("~"), merge ("<<"), value ("=") or "yaml" scalar.
# Any other first character makes text, unless the whole scalar is one of the boolean or null
# words. Such scalars, most keys and values, need no resolver, and often no PyYAML at all.
_RESOLVER_FIRST = frozenset("-+.0123456789~<=!&*")
_WORDS = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE"}
    | {"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
)
_LONGEST_KEY = 1024  # YAML's limit on a simple key; PyYAML and libyaml refuse a longer one
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # an int for YAML 1.1 (a leading 0 would be octal)
# A timestamp or text, and both stay text: no number has a "-" after four digits.
_DATE_LIKE = re.compile(r"[0-9]{4}-")
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_TYPED = frozenset(
    {"tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:float"}
)


@dataclass(slots=True)
class FastYaml:
    data: Any
    key_lines: dict[str, int] = field(default_factory=dict)  # top-level key -> its line
    item_lines: dict[str, list[int]] = field(default_factory=dict)  # top-level key -> each list item's line


class _Unsupported(Exception):
    """The text uses YAML beyond the subset: let PyYAML read it."""


class _Scalars:
    def __init__(self) -> None:
        self._resolver: Any = None  # PyYAML's, made (and PyYAML imported) for the first scalar that needs it
        self._constructor: Any = None
        self._cache: dict[str, Any] = {}
        self.known_keys: set[str] = set()  # keys already found to be text

    def key(self, raw: str) -> str:
        """A key as text; a key YAML would read as something else (``yes``, ``null``) is not in the subset,
        nor one longer than YAML's longest simple key (1,024 characters: PyYAML refuses the file)."""
        if raw not in self.known_keys:
            if (raw[0] in _RESOLVER_FIRST or raw in _WORDS) and self._tag(raw) != _STR:
                raise _Unsupported
            if len(raw) > _LONGEST_KEY:
                raise _Unsupported
            self.known_keys.add(raw)
        return raw

    def _tag(self, raw: str) -> str:
        """The tag PyYAML's resolver gives a plain scalar (as in ``key: raw``)."""
        import yaml
        from yaml.nodes import ScalarNode

        if self._resolver is None:
            self._resolver = yaml.resolver.Resolver()
            self._constructor = yaml.constructor.SafeConstructor()
        tag: str = self._resolver.resolve(ScalarNode, raw, (True, False))
        return tag

    def value(self, raw: str) -> Any:
        if raw[0] in "\"'":
            quote = raw[0]
            inner = raw[1:-1]
            if len(raw) < 2 or raw[-1] != quote or quote in inner or "\\" in inner:
                raise _Unsupported
            return inner
        if _PLAIN_STRING.fullmatch(raw):
            return raw
        if not _SAFE_PLAIN.fullmatch(raw):
            raise _Unsupported
        if raw[0] not in _RESOLVER_FIRST and raw not in _WORDS:
            return raw
        if _DECIMAL.fullmatch(raw):
            try:
                return int(raw)
            except ValueError:  # more digits than int() converts (4,300): the full loader reports it
                raise _Unsupported from None
        if _DATE_LIKE.match(raw):
            return raw
        cached = self._cache.get(raw, self)
        if cached is not self:
            return cached
        tag = self._tag(raw)
        if tag in (_STR, _TIMESTAMP):  # timestamps stay text, as in the full loader
            result: Any = raw
        elif tag in _TYPED:
            from yaml.nodes import ScalarNode

            try:
                result = self._constructor.construct_object(ScalarNode(tag, raw), deep=True)
            except ValueError:  # "1_000..." past int()'s digit limit: the full loader reports it
                raise _Unsupported from None
        else:
            raise _Unsupported
        if len(self._cache) < 1024:
            self._cache[raw] = result
        return result


def fast_load(text: str) -> FastYaml | None:
    """The document, if it is within the subset; None to say "use the full loader"."""
    try:
        return _read(text)
    except _Unsupported:
        return None


def _strip_comment(line: str) -> str:
    cut = line.find(" #")
    if cut >= 0:
        line = line[:cut]
    return line.rstrip(" ")


def _read(text: str, *, shortcut: bool = True) -> FastYaml:
    """Read ``text``; ``shortcut=False`` reads every line the general way (tests compare the two)."""
    lines = text.split("\n")
    item_line = _ITEM_LINE.fullmatch if shortcut else lambda _line: None
    scalars = _Scalars()
    known_keys = scalars.known_keys
    out = FastYaml({})
    top: dict[str, Any] = out.data
    current_key: str | None = None  # the top-level key whose block we are in
    block: Any = None  # its value: None (not yet known), a list or a dict
    block_indent = -1
    item: dict[str, Any] | None = None  # the mapping of the current list item
    item_indent = -1
    sub: list[Any] | None = None  # a list under a key of a mapping block (policy.protected)
    sub_indent = -1
    sub_key, sub_owner = "", top
    block_lines: list[int] = []  # the lines of the items of the list block we are in
    for number, raw_line in enumerate(lines, start=1):
        # The shortcut: an "- key: address-or-id" item at the indentation of the list we are in.
        # It does exactly what the general path below does with such a line, with fewer steps.
        if current_key is not None and type(block) is list and (shortcut_match := item_line(raw_line)) is not None:
            indent_text, key, value = shortcut_match.groups()
            if len(indent_text) == block_indent and (key in known_keys or scalars.key(key)):
                block_lines.append(number)
                item = {key: value}
                item_indent = block_indent + 2
                block.append(item)
                continue
        # A character outside the subset declines the whole text. The shortcut's pattern matches
        # none of them, and str.isprintable refuses every one (a control, format or line separator
        # character), so only an unprintable line that the shortcut did not read is searched.
        if not raw_line.isprintable() and _OUTSIDE.search(raw_line):
            raise _Unsupported
        stripped = raw_line.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        line = _strip_comment(raw_line)
        match = _LINE.fullmatch(line)
        if match is None:
            raise _Unsupported
        indent = len(match["indent"])
        dash, key, value = match["dash"], match["key"], match["value"]
        if key is not None:
            key = scalars.key(key)
        if sub is not None and indent > block_indent:  # the items of policy.protected and the like
            if not dash or key is not None or value is None or (sub and indent != sub_indent):
                raise _Unsupported
            sub_indent = indent
            sub.append(scalars.value(value))
            sub_owner[sub_key] = sub
            continue
        sub = None
        if indent == 0:
            if dash or key is None:
                raise _Unsupported
            if key in top:
                raise _Unsupported  # duplicate key: the full loader reports it with both lines
            if value is not None:
                top[key] = scalars.value(value)
                current_key = None
            else:
                top[key] = None
                current_key, block, block_indent, item = key, None, -1, None
            out.key_lines[key] = number
            continue
        if current_key is None:
            raise _Unsupported
        if block is None:  # the first line of a block decides its kind and indentation
            block_indent = indent
            block = [] if dash else {}
            top[current_key] = block
            if dash:
                block_lines = out.item_lines[current_key] = []
        if dash:
            if indent != block_indent or not isinstance(block, list):
                raise _Unsupported
            block_lines.append(number)
            if key is None:
                if value is None:
                    raise _Unsupported
                block.append(scalars.value(value))
                item = None
                continue
            if value is None:
                raise _Unsupported  # a nested block under an item key
            item = {key: scalars.value(value)}
            item_indent = indent + len(dash)
            block.append(item)
            continue
        if key is not None and value is None and isinstance(block, dict) and indent == block_indent:
            if key in block:
                raise _Unsupported
            block[key] = None  # null, unless a list follows
            sub = []
            sub_key, sub_owner = key, block
            continue
        if key is None or value is None:
            raise _Unsupported
        if isinstance(block, list):
            if item is None or indent != item_indent or key in item:
                raise _Unsupported
            item[key] = scalars.value(value)
        else:
            if indent != block_indent or key in block:
                raise _Unsupported
            block[key] = scalars.value(value)
    if not out.key_lines:
        out.data = None  # comments only: an empty document, as PyYAML reads it
    return out
