"""Crash safety: SIGKILL the real apply process mid-run, run again, and everything converges."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.ledger import read_ledger
from reconciler.sandbox.faults import Faults, RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import A_YEAR_AHEAD, FIXED_NOW, SandboxHandle, run_process, sandbox_wall, start_process
from tests.faultsuite import assert_invariants, make_leavers


@pytest.fixture(params=[FIXED_NOW, FIXED_NOW + A_YEAR_AHEAD], ids=["now", "a-year-ahead"])
def slow_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """Every write's answer is held 400 ms after it was processed: it lands before the client knows, and the
    test has time (even on a loaded machine) to kill the client in between.

    The CLI processes read the host's clock; Genesys's clock runs either near it or a year ahead of
    it, so a result that depended on today's date (or on the two clocks agreeing) would fail here."""
    org = Org.generate(300, wall=sandbox_wall(request.param))
    slow = Faults(write_response_delay=0.4)
    with (
        Sandbox(org, rate_limit=RateLimit(allowed=100_000, window=1.0), faults=slow) as sb,
        httpx.Client(base_url=sb.base_url) as http,
    ):
        yield SandboxHandle(sb, http)


def start_apply(handle: SandboxHandle, folder: Path, ledger: Path | None) -> subprocess.Popen[bytes]:
    ledger_args = ["--ledger", str(ledger)] if ledger else ["--no-ledger"]
    return start_process(
        "apply",
        str(folder),
        "--auto-approve",
        "--concurrency",
        "1",
        "--requests-per-minute",
        "100000",
        *ledger_args,
        env=handle.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_between_patch_and_revoke(handle: SandboxHandle, proc: subprocess.Popen[bytes], after: int) -> str:
    """SIGKILL the process as soon as the ``after``-th deactivation has landed; return that user's id."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        patched = [
            r["path"].rsplit("/", 1)[1] for r in handle.requests() if r["method"] == "PATCH" and r["status"] == 200
        ]
        if len(patched) >= after:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            return patched[after - 1]
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the apply never got that far")


@pytest.mark.parametrize("after", [1, 4])
def test_sigkill_mid_apply_then_rerun_converges(slow_sandbox: SandboxHandle, tmp_path: Path, after: int) -> None:
    leavers = make_leavers(slow_sandbox, tmp_path / "desired", 8)
    ledger = tmp_path / "ledger.jsonl"
    before = slow_sandbox.snapshot()
    victim = kill_between_patch_and_revoke(slow_sandbox, start_apply(slow_sandbox, leavers.folder, ledger), after)
    time.sleep(0.2)  # let a request already on the wire land, as it would in Genesys
    revoked = {r["path"].rsplit("/", 1)[1] for r in slow_sandbox.requests() if r["method"] == "DELETE"}
    records = read_ledger(ledger).records
    assert any(r["event"] == "intent" and r["user_id"] == victim for r in records)
    rerun = run_process("apply", str(leavers.folder), "--auto-approve", "--ledger", str(ledger), env=slow_sandbox.env)
    assert rerun.code == 0, rerun.out + rerun.err
    # The kill came while the PATCH's answer was held back: the revoke was never sent, and only the
    # intent reached the ledger. The journal owes that revoke, and the rerun pays it.
    assert victim not in revoked
    assert not any(r["event"] == "outcome" and r["user_id"] == victim for r in records)
    assert "revoke_tokens" in rerun.out
    assert_invariants(slow_sandbox, leavers, ledger, before)
    patches = [r for r in slow_sandbox.requests() if r["method"] == "PATCH" and r["status"] == 200]
    assert len(patches) == len({r["path"] for r in patches})  # no user was deactivated twice


def test_sigkill_with_the_ledger_lost_still_revokes_recent_tokens(slow_sandbox: SandboxHandle, tmp_path: Path) -> None:
    """An ephemeral CI runner loses the ledger: lastTokenIssued (48 h window) still finds the owed revoke."""
    with slow_sandbox.sandbox.org.lock:
        holders = [
            u for u in list(slow_sandbox.sandbox.org.users.values())[12:] if u.state == "active" and u.live_tokens
        ][:6]
    folder = tmp_path / "desired"
    folder.mkdir()
    (folder / "leavers.yaml").write_text("users:\n" + "".join(f"  - id: {u.id}\n" for u in holders))
    before = slow_sandbox.snapshot()
    victim = kill_between_patch_and_revoke(slow_sandbox, start_apply(slow_sandbox, folder, None), 3)
    time.sleep(0.2)
    rerun = run_process("apply", str(folder), "--auto-approve", "--no-ledger", env=slow_sandbox.env)
    assert rerun.code == 0, rerun.err
    assert slow_sandbox.user(victim)["live_tokens"] == 0
    from tests.faultsuite import Leavers

    ids = [u.id for u in holders]
    assert_invariants(slow_sandbox, Leavers(folder, ids, set(ids)), tmp_path / "none.jsonl", before, ledger_kept=False)
