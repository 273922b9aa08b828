"""A ledger that grows for years: the summary beside the history, read without the history behind it.

The invariant under everything: folding the summary and then the records
appended since gives exactly the fold of every record (property-tested over
any split point). On top of it: a plan reads only the tail, a summary that
does not match its history is ignored, the swap leaves no half file, and
``audit`` still shows every record ever written.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import ledger as ledger_module
from reconciler.core.audit import audit_rows
from reconciler.core.history import MAX_CORRECTIONS_KEPT, History, HistoryFold
from reconciler.core.summary import LazyUsers, encode_users
from reconciler.errors import LedgerError
from reconciler.ledger import compact, iter_records, read_history, read_ledger, summary_path
from tests.conftest import FIXED_NOW, JANE, SandboxHandle

USERS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(4)]
ACTORS = [
    {"kind": "client", "user": None, "client": {"id": "5a6b", "name": "Okta"}, "at": "2026-11-28T09:00:00Z"},
    {"kind": "user", "user": {"id": "1f2e", "name": "Pat Admin"}, "client": None, "at": None},
    {"kind": "unknown", "user": None, "client": None, "at": None},
]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@st.composite
def ledgers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Plausible ledgers: per write an intent and (usually) an outcome, times moving forward in ms."""
    records: list[dict[str, Any]] = []
    t = FIXED_NOW
    for n in range(draw(st.integers(0, 25))):
        t += timedelta(milliseconds=draw(st.integers(0, 10**8)))
        user = draw(st.sampled_from(USERS))
        action = draw(st.sampled_from(["deactivate", "reactivate", "revoke_tokens"]))
        base = {"v": 1, "time": _iso(t), "run": "r", "commit": draw(st.sampled_from([None, "abc", "def"]))}
        base |= {"attempt": f"a{n}", "action": action, "user_id": user}
        records.append({**base, "event": "intent"})
        outcome = draw(st.sampled_from(["applied", "skipped", "failed", None]))
        if outcome is not None:
            server = draw(st.sampled_from([None, _iso(t.replace(microsecond=0))]))
            record = {**base, "event": "outcome", "outcome": outcome, "server_time": server}
            if draw(st.booleans()):  # a correction of drift, naming who had caused it
                record["changed_by"] = draw(st.sampled_from(ACTORS))
            records.append(record)
    return records


@settings(max_examples=200, deadline=None)
@given(ledgers(), st.data())
def test_summary_then_tail_folds_exactly_like_every_record(records: list[dict[str, Any]], data: st.DataObject) -> None:
    split = data.draw(st.integers(0, len(records)))
    whole = History.from_records(records)
    rows = json.loads(json.dumps(encode_users(History.from_records(records[:split]).users)))
    fold = HistoryFold(LazyUsers(rows))
    for r in records[split:]:
        fold.add(r)
    resumed = fold.history()
    assert dict(resumed.users) == dict(whole.users)
    # and a summary made from a resumed fold is the same summary
    assert json.loads(json.dumps(encode_users(resumed.users))) == json.loads(json.dumps(encode_users(whole.users)))


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")


def _cycle(user: str, t: datetime, n: int, *, run: str = "r") -> list[dict[str, Any]]:
    """A deactivation and its revoke, both applied: four records, about 800 bytes."""
    out: list[dict[str, Any]] = []
    for k, action in enumerate(("deactivate", "revoke_tokens")):
        when = _iso(t + timedelta(seconds=k))
        base = {"v": 1, "time": when, "run": run, "commit": "c0ffee", "attempt": f"{n}-{k}", "action": action}
        base |= {"user_id": user, "email": f"{user[-4:]}@example.com", "reason": "Left the company"}
        out += [{**base, "event": "intent"}, {**base, "event": "outcome", "outcome": "applied", "server_time": when}]
    return out


def _big_ledger(path: Path, users: int = 40) -> None:
    records: list[dict[str, Any]] = []
    for n in range(users):
        records += _cycle(f"00000000-0000-4000-8000-{n:012d}", FIXED_NOW + timedelta(minutes=n), n)
    _write(path, records)


def test_a_plan_reads_the_summary_and_only_the_records_appended_since(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _big_ledger(path)
    assert compact(path, min_bytes=0)
    # Vandalise a record in the middle, in place, keeping its length: only a reader of the old
    # records would notice. The summary's probes (the first and last 4 KiB) do not cover it.
    data = path.read_bytes()
    assert len(data) > 3 * 4096
    middle = data.index(b'"user_id":"00000000-0000-4000-8000-000000000020"')
    path.write_bytes(data[:middle] + b'"user_id":"ffffffff-0000-4000-8000-000000000020"' + data[middle + 48 :])
    tail = _cycle(USERS[1], FIXED_NOW + timedelta(days=3), 999)
    _write(path, tail)
    read = read_history(path)
    assert read.summary_offset == len(data) and read.end == path.stat().st_size and not read.warnings
    assert "00000000-0000-4000-8000-000000000020" in read.history.users  # from the summary
    assert not any(u.startswith("ffffffff") for u in read.history.users)  # the old bytes were not read
    assert read.history.users[USERS[1]].last_revoked == FIXED_NOW + timedelta(days=3, seconds=1)
    # audit still reads every record ever written, vandalised one included
    assert any(r["user_id"].startswith("ffffffff") for r in iter_records(path, []))


@pytest.mark.parametrize(
    "damage",
    ["truncate", "replace", "summary-bytes", "summary-garbage", "row-shape"],
)
def test_a_summary_that_does_not_match_its_history_is_ignored(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "ledger.jsonl"
    _big_ledger(path)
    compact(path, min_bytes=0)
    spath = summary_path(path)
    if damage == "truncate":  # e.g. an older copy restored from a CI cache
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        path.write_bytes(path.read_bytes()[: path.read_bytes().rindex(b"\n") + 1])
    elif damage == "replace":  # another ledger of the same size
        path.write_bytes(path.read_bytes().replace(b"c0ffee", b"deadbe"))
    elif damage == "summary-bytes":
        raw = spath.read_bytes()
        spath.write_bytes(raw[:-30] + b"7" + raw[-29:])
    elif damage == "row-shape":  # a summary of another version: same header, rows of another shape
        head, _, body = spath.read_bytes().partition(b"\n")
        rows = {k: v[:7] for k, v in json.loads(body).items()}
        new_body = json.dumps(rows).encode()
        header = json.loads(head) | {"users_sha256": hashlib.sha256(new_body).hexdigest()}
        spath.write_bytes(json.dumps(header).encode() + b"\n" + new_body)
    else:
        spath.write_text("{not json\n")
    read = read_history(path)
    assert read.summary_offset == 0
    assert any("does not match the ledger" in w for w in read.warnings)
    assert dict(read.history.users) == dict(History.from_records(read_ledger(path).records).users)


def test_the_swap_never_leaves_a_half_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.jsonl"
    _big_ledger(path)
    compact(path, min_bytes=0)
    before = summary_path(path).read_bytes()
    _write(path, _cycle(USERS[2], FIXED_NOW + timedelta(days=9), 77))

    def crash(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(LedgerError, match=r"cannot write the ledger summary .*No space left on device"):
        compact(path, min_bytes=0)
    assert summary_path(path).read_bytes() == before  # the old summary, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.jsonl", "ledger.summary.json"]  # no temp file
    assert read_history(path).history.users[USERS[2]].last_revoked is not None  # the tail still counts


def test_a_small_tail_does_not_rewrite_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _big_ledger(path)
    assert compact(path, min_bytes=0)
    _write(path, _cycle(USERS[3], FIXED_NOW, 5))
    assert not compact(path, min_bytes=10_000)
    assert compact(path, min_bytes=100)
    assert read_history(path).summary_offset == path.stat().st_size


def test_a_torn_last_line_is_never_covered_by_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _big_ledger(path, users=3)
    good = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b'{"v":1,"event":"intent","user_id":"x"')  # the write the machine died in
    assert compact(path, min_bytes=0)
    read = read_history(path)
    assert read.summary_offset == good and any("torn last line" in w for w in read.warnings)


def test_corrections_and_their_actor_survive_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records: list[dict[str, Any]] = []
    for n in range(MAX_CORRECTIONS_KEPT + 5):
        cycle = _cycle(USERS[0], FIXED_NOW + timedelta(hours=n), n)
        cycle[1]["changed_by"] = ACTORS[n % 2]  # the deactivation's outcome corrected drift
        records += cycle
    _write(path, records)
    whole = History.from_records(records).users[USERS[0]]
    assert len(whole.corrections) == MAX_CORRECTIONS_KEPT
    assert whole.corrections[-1] == FIXED_NOW + timedelta(hours=MAX_CORRECTIONS_KEPT + 4)
    assert whole.last_changed_by is not None and whole.last_changed_by.kind == "client"  # the last one
    assert compact(path, min_bytes=0)
    assert read_history(path).history.users[USERS[0]] == whole


def test_a_run_over_the_threshold_refreshes_the_summary_and_the_next_plan_uses_it(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "COMPACT_AFTER_BYTES", 1)
    runtime = runtime_for(sandbox, desired)
    runtime.apply(runtime.plan().plan)
    path = tmp_path / "ledger.jsonl"
    read = read_history(path)
    assert summary_path(path).exists() and read.summary_offset == path.stat().st_size
    assert read.history.users[JANE].last_set_state == "inactive"
    assert not runtime.plan().plan.changes  # the converged plan, from the summary alone
    rows = audit_rows(iter_records(path, []))
    assert len(rows) == 5 and {r.outcome for r in rows} == {"applied"}


def test_a_summary_that_cannot_be_written_never_fails_the_run(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "COMPACT_AFTER_BYTES", 1)
    (tmp_path / ".ledger.summary.json.blocker").mkdir()
    summary_path(tmp_path / "ledger.jsonl").mkdir()  # os.replace onto a folder fails
    runtime = runtime_for(sandbox, desired)
    result = runtime.apply(runtime.plan().plan)
    assert result.ledger_failures == 0 and {r.outcome.value for r in result.results} == {"applied"}
    assert not runtime.plan().plan.changes


def test_the_summary_is_small_beside_the_history(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    for n in range(50):  # the same 4 users, fought over for a long time
        _write(path, _cycle(USERS[n % 4], FIXED_NOW + timedelta(days=n), n))
    compact(path, min_bytes=0)
    assert summary_path(path).stat().st_size < path.stat().st_size / 10
    assert datetime(2026, 1, 1, tzinfo=UTC) < read_history(path).history.users[USERS[0]].last_revoked  # type: ignore[operator]
