"""The fast reader of plain block YAML answers exactly what PyYAML answers, or declines.

fastyaml.py reads big desired-state files without building PyYAML's node tree.
It is only allowed to answer when its answer is PyYAML's: hypothesis writes
documents from the pieces that can go wrong (YAML 1.1 booleans and numbers,
quotes, comments, indentation, flow collections, anchors, tags, duplicate keys)
and compares the data and the line of every key and list item.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import fastyaml
from reconciler.core.desired.yamlload import full_load
from tests.test_fastyaml_hostile import agrees_strictly_or_declines

VALUES = [
    "jane.doe@example.com",
    "Jane.Doe@Example.com",
    "%jane@example.com",
    "j%ane@example.com",
    "-jane@example.com",
    ".jane@example.com",
    "jane@example.com#x",
    "@example.com",
    "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0",
    "12345678-1234-1234-1234-123456789012",
    "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0",
    "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0 # c",
    "yes",
    "No",
    "on",
    "OFF",
    "null",
    "~",
    "25",
    "-5",
    "0x1F",
    "1e3",
    "1_000",
    "1.5",
    ".5",
    "+1",
    ".inf",
    "0o7",
    "0b101",
    "1:30",
    "12:30:00",
    "190:20:30",
    "2026-12-01T17:00:00Z",
    "2026-12-01",
    "2026-12-01 17:00:00 +01:00",
    "a #b",
    "a#b",
    '"quoted"',
    "'single'",
    '"with #hash"',
    '"a\\"b"',
    "'it''s'",
    "a: b",
    "a:b",
    "[a, b]",
    "{}",
    "{a: 1}",
    "&a x",
    "*a",
    "!!str x",
    "|",
    ">",
    "%x",
    "@x",
    "`x",
    "é",
    "Left the company",
    "x,y",
    "a]",
    "a}",
    "? x",
    "- x",
    "=",
    "<<",
    "y",
    "n",
    "Y",
    "true",
    "False",
    "NULL",
    "'",
    '"',
    '"unterminated',
    "a\\b",
    "\\",
    "x\u2028y",
    "x\ty",
    "x  ",
    "tail # c",
    "#notcomment",
]
KEYS = [
    "email",
    "id",
    "state",
    "reason",
    "ticket",
    "effective",
    "on",
    "yes",
    "null",
    "x-y",
    "_k",
    "policy",
    "users",
    "protected",
    "max_changes",
    "a b",
    "1",
]


@st.composite
def docs(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["block-list", "block-map", "scalar", "comment", "blank", "junk"]))
        key = draw(st.sampled_from(KEYS))
        if kind == "scalar":
            lines.append(f"{key}: {draw(st.sampled_from(VALUES))}")
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["# c", "  # c", "#"])))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  "])))
        elif kind == "junk":
            lines.append(
                draw(st.sampled_from(["---", "...", "- x", "  x", "users: [a]", "key:value", "\tx: y", "users:  # c"]))
            )
        elif kind == "block-list":
            lines.append(f"{key}:" + draw(st.sampled_from(["", " # c", "  "])))
            ind = draw(st.sampled_from([0, 1, 2, 4]))
            for _ in range(draw(st.integers(0, 3))):
                sep = draw(st.sampled_from(["- ", "-  ", "-"]))
                if draw(st.booleans()):
                    lines.append(" " * ind + sep + draw(st.sampled_from(VALUES)))
                    continue
                k = draw(st.sampled_from(KEYS))
                lines.append(" " * ind + sep + f"{k}: {draw(st.sampled_from(VALUES))}")
                for _ in range(draw(st.integers(0, 2))):
                    extra = draw(st.sampled_from([0, 0, 0, 1, -1]))
                    k2 = draw(st.sampled_from(KEYS))
                    lines.append(" " * (ind + len(sep) + extra) + f"{k2}: {draw(st.sampled_from(VALUES))}")
                    if draw(st.integers(0, 9)) == 0:
                        lines.append(draw(st.sampled_from(["", "    # c", "      nested: x", "    - y"])))
        else:
            lines.append(f"{key}:")
            ind = draw(st.sampled_from([1, 2, 4]))
            for _ in range(draw(st.integers(0, 3))):
                k = draw(st.sampled_from(KEYS))
                if draw(st.integers(0, 3)) == 0:
                    lines.append(" " * ind + f"{k}:")
                    sub = draw(st.sampled_from([ind, ind + 2, ind + 1]))
                    for _ in range(draw(st.integers(0, 2))):
                        lines.append(" " * sub + "- " + draw(st.sampled_from(VALUES)))
                else:
                    lines.append(" " * ind + f"{k}: {draw(st.sampled_from(VALUES))}")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs())
def test_the_fast_reader_agrees_with_pyyaml_or_declines(text: str) -> None:
    agrees_strictly_or_declines(text)


# What the items of a big file hold, and values that look alike but are not plain text for YAML.
ITEM_VALUES = [
    "jane.doe@example.com",
    "Jane.Doe@Example.com",
    "j%ane@example.com",
    "-jane@example.com",
    "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0",
    "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0",
]
LOOKALIKES = ["%jane@example.com", "@example.com", "jane@example.com #c", "'jane@example.com'", "jane@ex:ample", "yes"]
ITEM_KEYS = ["state", "reason", "ticket", "effective"]
ODD_KEYS = ["on", "null", "1", "a b", "x-y", "email", "id", "state"]


@st.composite
def long_lists(draw: st.DrawFn) -> str:
    """Lists of "- key: value" items, as big files are, well formed; then, in one example out of
    two, one line changed in one of the ways a line can break the pattern (indentation, spacing,
    keys and values YAML reads as something else, comments, nesting)."""
    lines = []
    for block in range(draw(st.integers(1, 3))):
        lines.append(f"users{block}:")
        ind = draw(st.sampled_from([1, 2, 4]))
        for _ in range(draw(st.integers(1, 6))):
            lines.append(
                " " * ind + f"- {draw(st.sampled_from(['email', 'id']))}: {draw(st.sampled_from(ITEM_VALUES))}"
            )
            for key in draw(st.lists(st.sampled_from(ITEM_KEYS), max_size=2, unique=True)):
                lines.append(" " * (ind + 2) + f"{key}: {draw(st.sampled_from(VALUES[:30]))}")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        indent = len(line) - len(line.lstrip(" "))
        body = line.lstrip(" ")
        lines[at] = draw(
            st.sampled_from(
                [
                    " " * (indent + 1) + body,
                    " " * max(0, indent - 1) + body,
                    " " * indent + body.replace("- ", "-  ", 1),
                    " " * indent + body.replace("- ", "-", 1),
                    line + "  # c",
                    line + "  ",
                    line + "\n" + " " * (indent + 4) + "nested: x",
                    line + "\n" + " " * (indent + 2) + "- y",
                    line + "\n" + "top: 1",
                    line + "\n",
                    line + "\n" + " " * indent + "# c",
                ]
                + [" " * indent + body.split(":")[0] + f": {odd}" for odd in LOOKALIKES]
                + [" " * indent + ("- " if body.startswith("- ") else "") + f"{key}: x@y.z" for key in ODD_KEYS]
            )
        )
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(long_lists())
def test_the_fast_reader_agrees_with_pyyaml_on_long_lists(text: str) -> None:
    agrees_strictly_or_declines(text)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(docs(), long_lists()))
def test_the_item_shortcut_reads_what_the_general_path_reads(text: str) -> None:
    """The one-match shortcut for "- key: address-or-id" lines changes nothing but the cost."""

    def read(shortcut: bool) -> tuple[object, ...] | None:
        try:
            out = fastyaml._read(text, shortcut=shortcut)
        except fastyaml._Unsupported:
            return None
        return (out.data, out.key_lines, out.item_lines)

    assert read(True) == read(False), text


def test_the_shortcut_declines_a_value_pyyaml_refuses() -> None:
    # '%' cannot open a plain scalar: PyYAML refuses the line, so the fast reader must not answer.
    assert fastyaml.fast_load("users:\n  - email: %jane@example.com\n") is None
    assert fastyaml.fast_load("users:\n  - email: j%ane@example.com\n") is not None


def test_every_character_outside_the_subset_is_unprintable() -> None:
    # _read searches for them only when a line is not printable.
    outside = [chr(c) for c in range(0x110000) if fastyaml._OUTSIDE.match(chr(c))]
    assert "\t" in outside and "\ufeff" in outside and "\n" not in outside
    assert not any(c.isprintable() for c in outside)


# U+FFFE and U+FFFF: valid UTF-8 that YAML refuses ("special characters are not allowed").
@pytest.mark.parametrize("char", ["\t", "\r", "\x00", "\x1b", "\x85", "\u2028", "\ufeff", "\ufffe", "\uffff"])
@pytest.mark.parametrize(
    "text",
    [
        "users:\n  - email: a@example.com\n  - email: b@example.com{c}\n",
        "users:\n  - email: a@example.com\n  - email: b@example.com\n    reason: x{c}y\n",
        "users:\n  - email: a@example.com\n# note{c}\n  - email: b@example.com\n",
        "users:\n  - email: a@example.com\n{c}\n  - email: b@example.com\n",
        "{c}users:\n  - email: a@example.com\n",
    ],
)
def test_a_character_outside_the_subset_anywhere_declines(text: str, char: str) -> None:
    assert fastyaml.fast_load(text.format(c=char)) is None


def test_the_usual_shapes_take_the_fast_path() -> None:
    text = (
        "# yaml-language-server: $schema=../schemas/desired-state.schema.json\n"
        "users:\n"
        "  - email: Jane.Doe@example.com   # left\n"
        "    state: inactive\n"
        '    reason: "Left the company"\n'
        "    effective: 2026-12-01T17:00:00Z\n"
        "  - id: 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0\n"
        "policy:\n"
        "  protected:\n"
        "    - breakglass.admin@example.com\n"
        "  max_changes: 25\n"
    )
    fast = fastyaml.fast_load(text)
    assert fast is not None
    assert fast.data["users"][0]["effective"] == "2026-12-01T17:00:00Z"  # text, as the full loader keeps it
    assert fast.item_lines["users"] == [3, 7] and fast.key_lines["policy"] == 8
    assert fast.data["policy"] == {"protected": ["breakglass.admin@example.com"], "max_changes": 25}


_SCALAR_PIECES = st.sampled_from(
    [
        *sorted(fastyaml._WORDS),
        *["y", "n", "Y", "on", "0", "10", "007", "1_0", "2026", "-", "+", ".", ":", "e", "E", " ", "_", "T"],
        *["Z", "inf", "nan", "x", "ü", "~", "<<", "=", "a b", "12:30", "2026-12-01", "#", "'"],
    ]
)


@settings(max_examples=800, deadline=None)
@given(st.one_of(_SCALAR_PIECES, st.lists(_SCALAR_PIECES, min_size=1, max_size=4).map("".join)))
def test_a_scalar_typed_without_pyyaml_is_typed_as_pyyaml_types_it(raw: str) -> None:
    """The shortcuts that skip PyYAML's resolver (see _RESOLVER_FIRST) give PyYAML's value and type,
    as a value and as a key."""
    for text in (f"k: {raw}\n", f"{raw}: 1\n"):
        agrees_strictly_or_declines(text)
        fast = fastyaml.fast_load(text)
        if fast is not None and isinstance(fast.data, dict):  # same types too: True == 1 in Python, not in YAML
            assert [type(v) for v in fast.data.values()] == [type(v) for v in full_load(text).data.values()]


def test_a_folder_of_plain_files_is_read_without_pyyaml() -> None:
    """The shipped folder needs no PyYAML at all (importing it was a quarter of a small validate)."""
    import subprocess
    import sys

    from tests.conftest import ROOT, SHIPPED_DESIRED

    code = (
        "import sys\n"
        "from reconciler.core.desired import load_desired\n"
        f"load_desired({str(SHIPPED_DESIRED)!r})\n"
        "print('yaml' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert proc.stdout.strip() == "False"
