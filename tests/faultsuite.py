"""The fault suite's harness: run plan/apply until converged, then check the same invariants every time.

Invariants, whatever was injected:
1. every declared-inactive user is inactive;
2. every user deactivated during the scenario had its tokens revoked after its deactivation;
3. no unmanaged user was written;
4. no DELETE /api/v2/users was ever sent;
5. a final plan is empty (and has no errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.results import ApplyResult
from reconciler.core.settings import Settings
from reconciler.engine import Runtime
from reconciler.genesys.config import connection_from_env
from tests.conftest import FIXED_NOW, SandboxHandle

# Fast retries for time-scaled runs: the policy is the same, the waits are short.
FAST = Settings(backoff_initial=0.005, backoff_max=0.05, requests_per_minute=600_000, concurrency=4)


@dataclass
class Leavers:
    """A desired state of many leavers drawn from the sandbox org (ids of active users, some with tokens)."""

    folder: Path
    inactive_ids: list[str]
    managed_ids: set[str]


def make_leavers(handle: SandboxHandle, folder: Path, count: int, *, skip: int = 12) -> Leavers:
    with handle.sandbox.org.lock:
        users = list(handle.sandbox.org.users.values())[skip:]
    active = [u for u in users if u.state == "active"][:count]
    already = [u for u in users if u.state == "inactive"][:5]
    lines = ["policy:\n  max_changes: 100000", "users:"]
    for u in active + already:
        lines.append(f"  - email: {u.email}\n    reason: fault suite")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leavers.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = [u.id for u in active + already]
    return Leavers(folder, ids, set(ids))


@dataclass
class Runs:
    results: list[ApplyResult] = field(default_factory=list)
    refused: int = 0  # runs whose plan had errors, so apply wrote nothing

    @property
    def count(self) -> int:
        return len(self.results) + self.refused


def runtime(handle: SandboxHandle, leavers: Leavers, ledger: Path, settings: Settings = FAST, **kw: Any) -> Runtime:
    return Runtime(
        desired_dir=leavers.folder,
        connection=connection_from_env(handle.env),
        ledger_path=ledger,
        settings=settings,
        clock=lambda: FIXED_NOW,
        **kw,
    )


def converge(
    handle: SandboxHandle,
    leavers: Leavers,
    ledger: Path,
    *,
    max_runs: int = 6,
    settings: Settings = FAST,
    between: Any = None,
) -> Runs:
    """Plan and apply (a fresh process each time, as CI or a scheduler would) until nothing is left."""
    runs = Runs()
    for number in range(max_runs):
        rt = runtime(handle, leavers, ledger, settings)
        try:
            planned = rt.plan().plan
            if not planned.changes and not planned.has_errors:
                return runs
            if planned.has_errors:
                runs.refused += 1
            else:
                runs.results.append(rt.apply(planned))
        finally:
            rt.close()
        if between is not None:
            between(number)
    raise AssertionError(f"did not converge in {max_runs} runs")


def assert_invariants(
    handle: SandboxHandle, leavers: Leavers, ledger: Path, before: dict[str, Any], *, ledger_kept: bool = True
) -> None:
    org = handle.sandbox.org
    with org.lock:
        for uid in leavers.inactive_ids:
            assert org.users[uid].state == "inactive", f"{uid} is {org.users[uid].state}"
    log = handle.requests()
    deactivated_at: dict[str, int] = {}
    revoked_at: dict[str, int] = {}
    for r in log:
        uid = r["path"].rsplit("/", 1)[-1]
        if r["method"] == "PATCH" and r["status"] == 200 and (r.get("body") or {}).get("state") == "inactive":
            deactivated_at[uid] = r["seq"]  # the last successful (or possibly landed) deactivation
        if r["method"] == "DELETE" and r["path"].startswith("/api/v2/tokens/") and 200 <= r["status"] < 300:
            revoked_at[uid] = r["seq"]
        assert not (r["method"] == "DELETE" and r["path"].startswith("/api/v2/users")), "a user was deleted"
    landed = {uid for uid in deactivated_at if before[uid][0] == "active"}
    for uid in landed:
        assert revoked_at.get(uid, -1) > deactivated_at[uid], (
            f"{uid} deactivated at #{deactivated_at[uid]} but not revoked after it"
        )
        with org.lock:
            assert org.users[uid].live_tokens == 0
    written = {r["path"].rsplit("/", 1)[-1] for r in log if r["method"] in ("PATCH", "DELETE")}
    assert written <= leavers.managed_ids, f"unmanaged users written: {written - leavers.managed_ids}"
    after = handle.snapshot()
    assert {k for k in before if before[k] != after[k]} <= leavers.managed_ids
    rt = runtime(handle, leavers, ledger, replace(FAST))
    try:
        final = rt.plan().plan
    finally:
        rt.close()
    assert not final.has_errors, final.problems
    if ledger_kept:
        assert final.changes == (), final.changes
    else:  # without a ledger, recent tokens are revoked again (it cannot know); states never flip
        assert {c.action.value for c in final.changes} <= {"revoke_tokens"}
