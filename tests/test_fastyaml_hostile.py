"""Hostile text: the fast reader still answers exactly what PyYAML answers, or declines.

test_fastyaml.py writes documents from well-formed pieces. Here hypothesis
breaks them: it inserts, deletes and replaces characters chosen from the ones
that mean something to YAML or to Unicode (indicators, tabs, CR, NEL, U+2028,
a BOM, NUL, the noncharacters U+FFFE/U+FFFF, NBSP, zero-width space) and
compares with PyYAML type for type (``True == 1`` and ``1 == 1.0`` in Python,
not in YAML). The fast reader must never raise, and must read in linear time
(a line of spaces once made it quadratic: a 32 MB file could hang ``validate``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import fastyaml
from reconciler.core.desired.yamlload import YamlProblem, full_load, item_lines, line_at
from tests.conftest import ROOT

KEYS = ["email", "id", "state", "reason", "effective", "users", "policy", "protected", "max_changes"]
KEYS += ["on", "yes", "n", "null", "true", "OFF", "x-y", "_", "e1", "'email'", '"id"', "? email", "1", "~", "<<", "é"]
KEYS += ["k" * 1024, "k" * 1025]  # YAML's longest simple key is 1,024 characters
VALUES = ["a@b.co", "Jane.Doe@Example.com", "-j@x.io", "+j@x.io", ".j@x.io", "0@x.io", "j%a@x.io", "%j@x.io", "@x.io"]
VALUES += ["j@x.io#c", "j@x.io #c", "j@x:io", "j'@x.io", "`j@x.io", "|j", ">j", "&a j", "*a", "!!str j", "!j"]
VALUES += ["6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0", "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0", "1234-1234-1234-1234"]
VALUES += ["yes", "yEs", "no", "on", "Off", "y", "n", "true", "tRue", "null", "nULL", "~", "0", "00", "01", "08", "0o7"]
VALUES += ["0x1F", "0b101", "1_000", "_1", "1_", "-0", "+1", "1.", "1.0", ".5", "-.5", "1e3", "1.0e+3", "1.0e3", ".inf"]
VALUES += ["-.inf", ".NaN", ".", "-", "+", "1:30", "1:60", "190:20:30", "-1:30", "1:30.5", "2026-12-01", "2026-1-1"]
VALUES += ["2026-12-01T17:00:00Z", "2026-12-01 17:00:00 +01:00", "20261201", "<<", "=", "<a", "=a", "a #b", "a#b"]
VALUES += ["a:b"]
VALUES += ["a:", "a: b", "http://x", "a ,b", "a]", "[a]", "{a: 1}", "? x", "- x", "-x", "?x", ":x", ",x", '"q"', "'q'"]
VALUES += ['"a\\"b"', "'it''s'", '""', "''", '"', "'", '"a" b', '"a#b"', "' a '", "a  b", "\\", "é", "Left the company"]
VALUES += ["1" * 5000, "1_" + "0" * 5000, "0x" + "f" * 5000, "\u00a0x", "x\u00a0", "x\u200by", "x\U0001f600"]
# One character (or a short run) that means something to YAML or to Unicode.
NASTY = [*" \t\r\n:-#'\"@.%&*!|>?[]{},`~=<+019_yonTZ", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\u2028"]
NASTY += ["\u2029", "\ufeff", "\ufffe", "\uffff", "\u200b", "\r\n", "- ", ": ", " #", "---", "...", "    "]


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down, and mappings in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:  # NaN
        return b != b
    return bool(a == b)


def agrees_strictly_or_declines(text: str) -> None:
    fast = fastyaml.fast_load(text)  # never raises: anything it cannot read is None
    if fast is None:
        return
    try:
        full = full_load(text)
    except YamlProblem as exc:
        raise AssertionError(f"the fast reader accepted what PyYAML refuses ({exc.message}): {text!r}") from None
    assert same(fast.data, full.data), (fast.data, full.data, text)
    if isinstance(full.data, dict):
        for key, value in full.data.items():
            assert fast.key_lines[key] == line_at(full.root, [key]), text
            assert fast.item_lines.get(key, []) == (item_lines(full.root, key) if isinstance(value, list) else [])


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(KEYS))
        kind = draw(st.sampled_from(["list", "list", "map", "scalar", "comment"]))
        if kind == "scalar":
            lines.append(f"{key}: {draw(st.sampled_from(VALUES))}")
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["# c", "  # c", "", "  "])))
        elif kind == "list":
            lines.append(f"{key}:")
            indent = " " * draw(st.sampled_from([0, 1, 2, 4]))
            for _ in range(draw(st.integers(0, 3))):
                dash = draw(st.sampled_from(["- ", "- ", "-  "]))
                if draw(st.integers(0, 3)) == 0:
                    lines.append(indent + dash + draw(st.sampled_from(VALUES)))
                    continue
                lines.append(indent + dash + f"{draw(st.sampled_from(KEYS))}: {draw(st.sampled_from(VALUES))}")
                for _ in range(draw(st.integers(0, 2))):
                    inner = indent + " " * (len(dash) + draw(st.sampled_from([0, 0, 0, 1, -1])))
                    lines.append(inner + f"{draw(st.sampled_from(KEYS))}: {draw(st.sampled_from(VALUES))}")
        else:
            lines.append(f"{key}:")
            for _ in range(draw(st.integers(0, 3))):
                name = draw(st.sampled_from(KEYS))
                if draw(st.booleans()):
                    lines.append(f"  {name}: {draw(st.sampled_from(VALUES))}")
                    continue
                lines.append(f"  {name}:")
                for _ in range(draw(st.integers(0, 2))):
                    lines.append(" " * draw(st.sampled_from([2, 4, 4, 5])) + "- " + draw(st.sampled_from(VALUES)))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    for _ in range(draw(st.integers(0, 3))):  # then break it
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(NASTY))
        text = draw(st.sampled_from([text[:at] + piece + text[at:], text[:at] + text[at + 1 :], text[:at] + piece]))
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(documents())
def test_broken_documents_are_read_as_pyyaml_reads_them_type_for_type(text: str) -> None:
    agrees_strictly_or_declines(text)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([*NASTY, "email", "users", "a@b.co", "yes", "1", "\n  - ", "\n    "])).map("".join))
def test_character_soup_is_read_as_pyyaml_reads_it_or_declined(text: str) -> None:
    agrees_strictly_or_declines(text)


@pytest.mark.parametrize("char", ["\ufffe", "\uffff"])
def test_a_noncharacter_in_a_comment_declines(char: str) -> None:
    # Valid UTF-8 that YAML refuses anywhere, comments included: PyYAML rejects the file.
    assert fastyaml.fast_load(f"users:\n  - email: a@example.com  # {char}\n") is None
    assert fastyaml.fast_load(f"#{char}\n") is None


@pytest.mark.parametrize(
    "text",
    [
        "{key}: x\n",
        "users:\n  - {key}: a@example.com\n",  # the shortcut's line
        "users:\n  - email: a@example.com\n    {key}: x\n",
        "policy:\n  {key}:\n    - a@example.com\n",
    ],
)
def test_a_key_longer_than_yaml_allows_declines(text: str) -> None:
    # PyYAML (and libyaml) refuse a simple key of more than 1,024 characters.
    assert fastyaml.fast_load(text.format(key="k" * 1025)) is None
    agrees_strictly_or_declines(text.format(key="k" * 1024))
    assert fastyaml.fast_load(text.format(key="k" * 1024)) is not None


@pytest.mark.parametrize("number", ["1" * 5000, "1_" + "0" * 5000])
def test_a_number_python_will_not_convert_declines(number: str) -> None:
    # int() refuses more than 4,300 decimal digits: the full loader reports it at its line.
    assert fastyaml.fast_load(f"policy:\n  max_changes: {number}\n") is None


def test_a_long_line_of_spaces_is_read_in_linear_time() -> None:
    """A hang guard, not a timing: linear, these lines take a fraction of a second; quadratic, tens of minutes.

    The child is killed at the timeout, so a regression fails here instead of hanging the suite.
    """
    code = (
        "from reconciler.core.desired import fastyaml\n"
        "gap = ' ' * 500_000\n"
        "assert fastyaml.fast_load('users:\\n  - email: a@b.co\\n    reason: a' + gap + 'b\\n') is not None\n"
        "assert fastyaml.fast_load('users:\\n  -' + gap + 'email: a@b.co\\n') is not None\n"
        "assert fastyaml.fast_load('k: a' + gap + ':b' + gap + '#c\\n') is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
