"""Long user lists are validated by kind of entry (shapes.py): the verdict must be the full schema's.

Hypothesis builds lists of more than 100 entries from valid and invalid pieces
(addresses, ids, states, reasons, instants, unknown keys, wrong types) and
compares "no schema error" with the compiled full schema's verdict on the
whole document. A bad entry deep in a long file is still reported at its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import load_desired
from reconciler.core.desired.schema import _fast, schema_errors
from reconciler.errors import DesiredStateError

EMAILS = ["jane.doe@example.com", "Jane.Doe@Example.com", "not-an-address", "a@b", "", "x@example.com\n", 7]
IDS = ["6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0", "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0", "123", None]
STATES = ["inactive", "active", "deleted", True, None]
REASONS = ["Left the company", "", "x" * 501, 5]
EFFECTIVE = ["2026-12-01T17:00:00Z", "2026-12-01", "2026-12-01T17:00:00", 20261201]
CODES = ["Voluntary", "Other"]


@st.composite
def entry(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from(["text", 5, None, ["a"]]))
    out: dict[str, Any] = {}
    for key, pool in (
        ("email", EMAILS),
        ("id", IDS),
        ("state", STATES),
        ("reason", REASONS),
        ("effective", EFFECTIVE),
        ("reason_code", CODES),
        ("bogus", [1]),
    ):
        if draw(st.integers(0, 4 if key in ("email", "id") else 12)) == 0 or (key == "email" and draw(st.booleans())):
            out[key] = draw(st.sampled_from(pool))
    return out


def full_verdict(doc: Any) -> bool:
    try:
        _fast()(doc)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(entry(), min_size=101, max_size=140), st.integers(0, 100))
def test_the_verdict_by_kind_of_entry_is_the_full_schemas(users: list[Any], valid_prefix: int) -> None:
    for i in range(min(valid_prefix, len(users))):  # mostly valid lists, as real files are
        users[i] = {"email": f"user.{i}@example.com"} if i % 2 else {"id": f"{i:08x}-0e9f-4a8b-b7c6-d5e4f3a2b1c0"}
    doc = {"users": users}
    assert (not list(schema_errors(doc))) == full_verdict(doc)


def test_a_bad_entry_deep_in_a_long_file_is_reported_at_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    lines = ["users:"] + [f"  - email: user.{i}@example.com" for i in range(300)]
    lines[251] = "  - email: not-an-address"  # entry 250, line 252
    (folder / "big.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(DesiredStateError) as caught:
        load_desired(folder)
    assert [(f.line, "not a valid email address" in f.message) for f in caught.value.findings] == [(252, True)]
