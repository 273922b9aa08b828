"""The loader's shortcuts for big files change its cost, never its answer.

load_desired builds entries without the dataclass __init__, finds duplicates in
the same pass that builds them, and pauses the cyclic garbage collector while it
works. Hypothesis writes desired-state trees (repeated and re-cased addresses,
ids, states, unreadable instants, long lists, flow style that the fast reader
declines) and compares the result with the straightforward reading: PyYAML's
full loader, DesiredEntry(...), then a second pass for duplicates.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import FrozenInstanceError, fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import load_desired
from reconciler.core.desired.files import read_tree
from reconciler.core.desired.yamlload import full_load, item_lines, line_at
from reconciler.core.instants import parse_instant
from reconciler.core.model import DesiredEntry, Source, UserState, loaded_entry, source_at
from reconciler.errors import DesiredStateError, Finding
from tests.conftest import write

EMAILS = ["Jane@Example.com", "jane@example.com", "john@example.com", "JOHN@example.com", "x.y@example.org"]
IDS = ["6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0", "9531985d-5d9d-49f8-9818-e811892f902b"]
INSTANTS = ["2026-12-01T17:00:00Z", "2026-12-01 17:00:00+01:00", "2026-02-30T17:00:00Z"]  # the last: no such day


def test_the_builders_make_the_values_init_makes() -> None:
    when = parse_instant("2026-12-01T17:00:00Z")
    source = source_at("desired/a.yaml", 7)
    assert source == Source("desired/a.yaml", 7) and str(source) == "desired/a.yaml:7" == source.text
    args: dict[str, Any] = {
        "email": "Jane@Example.com",
        "id": IDS[0],
        "state": UserState.ACTIVE,
        "source": source,
        "reason": "r",
        "ticket": "T-1",
        "effective": when,
        "reason_code": "Leave",
    }
    assert [f.name for f in fields(DesiredEntry)] == list(args)  # a new field must be added to loaded_entry too
    built, reference = loaded_entry(**args), DesiredEntry(**args)
    assert built == reference and hash(built) == hash(reference) and repr(built) == repr(reference)
    with pytest.raises(FrozenInstanceError):
        built.email = "other@example.com"  # type: ignore[misc]  # the point: it is frozen


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("text", ["users:\n  - email: a@example.com\n", "users:\n  - email: bad\n"])
def test_the_garbage_collector_is_left_as_it_was(tmp_path: Path, enabled: bool, text: str) -> None:
    write(tmp_path, "a.yaml", text)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with contextlib.suppress(DesiredStateError):
            load_desired(tmp_path)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def reference(folder: Path) -> tuple[list[DesiredEntry], list[str]]:
    """The straightforward reading of a schema-valid tree."""
    files, findings = read_tree(folder, max_file_bytes=10**7)
    assert not findings
    entries: list[DesiredEntry] = []
    problems: list[Finding] = []
    for file in files:
        loaded = full_load(file.text)
        lines = item_lines(loaded.root, "users")
        for index, raw in enumerate(loaded.data.get("users") or []):
            effective = None
            if "effective" in raw:
                try:
                    effective = parse_instant(raw["effective"])
                except ValueError as exc:
                    where = line_at(loaded.root, ["users", index, "effective"])
                    problems.append(Finding(file.path, where, f"users[{index}].effective: {exc}"))
                    continue
            entries.append(
                DesiredEntry(
                    email=raw.get("email"),
                    id=raw.get("id"),
                    state=UserState(raw.get("state", "inactive")),
                    source=Source(file.path, lines[index]),
                    reason=raw.get("reason"),
                    effective=effective,
                )
            )
    first: dict[tuple[str, str], DesiredEntry] = {}
    for entry in entries:
        for kind, key in (("email", entry.email_key), ("id", entry.id)):
            if key is None:
                continue
            previous = first.setdefault((kind, key), entry)
            if previous is entry:
                continue
            if previous.state != entry.state:
                what = (
                    f"declared twice with different states: {entry.state} here, {previous.state} at {previous.source}"
                )
            else:
                what = f"declared twice: also at {previous.source}; keep one entry"
            label = key if kind == "id" else repr(entry.email)
            problems.append(Finding(entry.source.path, entry.source.line, f"{kind} {label} {what}"))
            break
    return entries, [str(p) for p in problems]


@st.composite
def entry_text(draw: st.DrawFn) -> dict[str, str]:
    out: dict[str, str] = {}
    which = draw(st.sampled_from(["email", "id", "both"]))
    if which != "id":
        out["email"] = draw(st.sampled_from(EMAILS))
    if which != "email":
        out["id"] = draw(st.sampled_from(IDS))
    if draw(st.booleans()):
        out["state"] = draw(st.sampled_from(["inactive", "active"]))
    if draw(st.integers(0, 3)) == 0:
        out["effective"] = draw(st.sampled_from(INSTANTS))
    if draw(st.integers(0, 3)) == 0:
        out["reason"] = "Left the company"
    return out


def file_text(entries: list[dict[str, str]], padding: int, flow: bool, start: int) -> str:
    padded = entries + [{"email": f"pad.{start + i}@example.net"} for i in range(padding)]
    if flow:  # the fast reader declines flow style: PyYAML reads it
        return (
            "users: [" + ", ".join("{" + ", ".join(f"{k}: '{v}'" for k, v in e.items()) + "}" for e in padded) + "]\n"
        )
    lines = ["users:"]
    for e in padded:
        items = list(e.items())
        lines.append(f"  - {items[0][0]}: {items[0][1]}")
        lines.extend(f"    {k}: {v}" for k, v in items[1:])
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.lists(entry_text(), min_size=1, max_size=6),
            st.sampled_from([0, 0, 120]),
            st.integers(0, 4).map(lambda n: n == 0),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_the_loader_answers_what_the_straightforward_reading_answers(
    tmp_path_factory: pytest.TempPathFactory, tree: list[tuple[list[dict[str, str]], int, bool]]
) -> None:
    folder = tmp_path_factory.mktemp("tree")
    for number, (entries, padding, flow) in enumerate(tree):
        write(folder, f"f{number}.yaml", file_text(entries, padding, flow, start=number * 1000))
    expected_entries, expected_findings = reference(folder)
    if expected_findings:
        with pytest.raises(DesiredStateError) as caught:
            load_desired(folder)
        assert [str(f) for f in caught.value.findings] == expected_findings
        return
    state = load_desired(folder)
    assert state.entries == tuple(expected_entries)
    assert [e.source.line for e in state.entries] == [e.source.line for e in expected_entries]
