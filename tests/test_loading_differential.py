"""The whole loader, fast paths and all, against the slow reading: PyYAML's full loader and jsonschema.

load_desired reads most files with fastyaml.py, checks long lists by kind of
entry (shapes.py) with a pre-generated fastjsonschema validator, and builds
entries and finds duplicates in one pass. This is a security control (it
decides whose access is removed), so hypothesis writes desired-state trees as
people write them, and as they get them wrong: addresses with YAML indicators
in them, ids in upper case, YAML 1.1 words for states, instants in every
spelling, quoted and plain values, comments, indentation, long lists, a policy
block with numbers of every kind. The same loader with only the slow parts
(PyYAML's full loader, jsonschema for every verdict) must give exactly the same
entries, sources, policy and findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import load_desired
from reconciler.core.desired import schema as schema_module
from reconciler.core.desired import state as state_module
from reconciler.core.desired.yamlload import full_load
from reconciler.errors import DesiredStateError
from tests.conftest import write

EMAILS = ["jane@example.com", "Jane@Example.com", "JANE@EXAMPLE.COM", "j%x@example.com", "-j@example.com"]
EMAILS += ["+j@example.com", ".j@example.com", "0@example.com", "j'o@example.com", "j#o@example.com", "j|o@example.com"]
EMAILS += ["j`o@example.com", "j&o@example.com", "j*o@example.com", "j!o@example.com", "j?o@example.com"]
EMAILS += [
    "%j@example.com",
    "@example.com",
    "j@ex",
    "j@-ex.com",
    "j@example.com.",
    "jöe@example.com",
    "j:o@example.com",
]
EMAILS += ["a" * 242 + "@example.com", "a" * 243 + "@example.com", "yes", "~", "1"]
IDS = [
    "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0",
    "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0",
    "9531985d-5d9d-49f8-9818-e811892f902b",
]
IDS += ["12345678-1234-1234-1234-123456789012", "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c"]
STATES = ["inactive", "active", "Inactive", "deleted", "yes", "no", "on", "off", "true", "~", "null", "1"]
INSTANTS = ["2026-12-01T17:00:00Z", "2026-12-01t17:00:00z", "2026-12-01 17:00:00Z", "2026-12-01T17:00:00+0100"]
INSTANTS += ["2026-12-01T17:00:00.123456789Z", "2026-12-01T17:00Z", "2026-12-01T17:00:00", "2026-12-01"]
INSTANTS += ["2026-02-30T17:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01 17:00:00 +01:00"]
TEXTS = [
    "Left",
    "Left the company",
    "a: b",
    "a #b",
    "a#b",
    "x" * 501,
    "",
    "yes",
    "1",
    "1.5",
    "~",
    "[a]",
    "a, b",
    "it's",
]
TEXTS += ['say "hi"', "@home", "`x`", "=cmd()", "- x", "|", "%x", "2026-12-01", "1:30", "0x1F", ".inf", "Left\u00a0x"]
CODES = ["Voluntary", "Leave", "leave", "Other", "yes"]
POLICY = {
    "max_changes": ["25", "0", "-1", "1.5", "5.0", "'25'", "yes", "1_000", "0x10", "010", "1e3", ".nan", "~", "1:30"],
    "max_changes_percent": ["50", "0", "100", "100.5", ".nan", ".inf", "-.inf", "1e2", "1.0e+2", "0.0001", "5_0"],
    "missing_users": ["error", "warn", "Warn", "yes", "~"],
    "default_reason_code": CODES,
}


def scalar(draw: st.DrawFn, value: str) -> str:
    """The value as a person might write it: plain, or quoted (single quotes doubled, double escaped)."""
    style = draw(st.sampled_from(["plain", "plain", "plain", "single", "double"]))
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "double":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def mostly(draw: st.DrawFn, good: list[str], pool: list[str], clean: bool) -> str:
    return draw(st.sampled_from(good if clean or draw(st.integers(0, 9)) else pool))


@st.composite
def entry_lines(draw: st.DrawFn, indent: str, serial: int, clean: bool) -> list[str]:
    """One entry. A clean entry is valid and names a user no other entry names (``serial``)."""
    pairs: list[tuple[str, str]] = []
    which = draw(st.sampled_from(["email", "email", "id", "both"] if clean else ["email", "id", "both", "neither"]))
    if which in ("email", "both"):
        email = mostly(draw, EMAILS[:12], EMAILS, clean)
        pairs.append(("email", email.replace("@", f".{serial}@", 1) if clean else email))
    if which in ("id", "both"):
        pairs.append(
            ("id", f"{serial:08x}-0e9f-4a8b-b7c6-d5e4f3a2b1c0" if clean else mostly(draw, IDS[:3], IDS, clean))
        )
    for key, good, pool in (
        ("state", ["inactive", "active"], STATES),
        ("reason", TEXTS[:5], TEXTS),
        ("ticket", ["HR-1"], TEXTS),
        ("effective", INSTANTS[:6], INSTANTS),
        ("reason_code", CODES[:2], CODES),
    ):
        if draw(st.integers(0, 3)) == 0 and not (clean and key == "reason_code" and ("state", "active") in pairs):
            pairs.append((key, mostly(draw, good, pool, clean)))
    if not clean and draw(st.integers(0, 20)) == 0:
        pairs.append(draw(st.sampled_from([("name", "x"), ("Email", "a@b.co"), ("email", "b@example.com")])))
    pairs = draw(st.permutations(pairs))
    if not pairs:
        return [indent + "- {}"]
    dash = draw(st.sampled_from(["- ", "- ", "- ", "-  "]))
    comment = draw(st.sampled_from(["", "", "", "  # left", " #c"]))
    first, *rest = pairs
    lines = [f"{indent}{dash}{first[0]}: {scalar(draw, first[1])}{comment}"]
    lines += [f"{indent}{' ' * len(dash)}{key}: {scalar(draw, value)}" for key, value in rest]
    return lines


@st.composite
def file_texts(draw: st.DrawFn, number: int, clean: bool) -> str:
    blocks: list[list[str]] = []
    if draw(st.integers(0, 5)):
        indent = draw(st.sampled_from(["  ", "  ", "    ", " "]))
        users = ["users:"]
        for serial in range(draw(st.integers(1 if clean else 0, 5))):
            users += draw(entry_lines(indent, number * 100 + serial, clean))
        padding = draw(st.sampled_from([0, 0, 0, 101]))  # past 100 entries, the lists are checked by kind
        users += [f"{indent}- email: pad.{number}.{i}@example.net" for i in range(padding)]
        blocks.append(users)
    if draw(st.integers(0, 3)) == 0 and not (clean and number):  # one policy block in a clean tree
        indent = draw(st.sampled_from(["  ", "    "]))
        policy = ["policy:"]
        for key, values in POLICY.items():
            if draw(st.integers(0, 2)) == 0:
                policy.append(f"{indent}{key}: {mostly(draw, values[:2], values, clean)}")
        if draw(st.booleans()):
            policy.append(f"{indent}protected:")
            for item_number in range(draw(st.integers(0, 2))):
                item = scalar(
                    draw, draw(st.sampled_from(EMAILS[item_number::2][:2] if clean else EMAILS[:4] + IDS[:2]))
                )
                policy.append(f"{indent}{draw(st.sampled_from(['', '  ']))}- {item}")
        blocks.append(policy)
    blocks = draw(st.permutations(blocks))
    return "".join(line + "\n" for block in blocks for line in block)


def slow_schema_errors(data: Any) -> Iterator[tuple[list[str | int], str]]:
    """schema_errors with jsonschema alone: no compiled validator, no checking by kind of entry."""
    if data is None:
        yield [], "file is empty: expected a 'users:' list or a 'policy:' mapping"
        return
    errors = sorted(schema_module._validator().iter_errors(data), key=schema_module._in_document_order)
    for error in errors:
        yield list(error.absolute_path), schema_module._message(error)


def outcome(folder: Path) -> tuple[Any, ...]:
    try:
        state = load_desired(folder)
    except DesiredStateError as exc:
        return ("refused", [str(f) for f in exc.findings])
    entries = [(e, e.source.line) for e in state.entries]
    return ("loaded", entries, state.policy, state.files, state.digest)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_the_loader_answers_what_pyyaml_and_jsonschema_answer(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("tree")
    clean = data.draw(st.booleans())  # half the trees are valid: their entries must come out the same
    for number in range(data.draw(st.integers(1, 3))):
        write(folder, f"f{number}.yaml", data.draw(file_texts(number, clean)))
    fast = outcome(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_module, "load_yaml", full_load)
        patch.setattr(state_module, "schema_errors", slow_schema_errors)
        slow = outcome(folder)
    assert fast == slow
