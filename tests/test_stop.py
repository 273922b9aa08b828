"""Ctrl-C and SIGTERM stop a real `apply` process: no new user starts, the users in flight finish.

A 60-user apply against a sandbox that holds every write's answer, so the signal lands mid-run.
The sandbox's request log is the witness: it counts the writes that reached Genesys after the
signal, which may only belong to users already in flight.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox.faults import Faults, RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import SandboxHandle, sandbox_wall, start_process
from tests.faultsuite import make_leavers

USERS = 60
CONCURRENCY = 4


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxHandle]:
    org = Org.generate(300, wall=sandbox_wall())
    with (
        Sandbox(org, rate_limit=RateLimit(allowed=100_000, window=1.0), faults=Faults(write_response_delay=0.3)) as sb,
        httpx.Client(base_url=sb.base_url) as http,
    ):
        yield SandboxHandle(sb, http)


def start_apply(handle: SandboxHandle, folder: Path, ledger: Path) -> subprocess.Popen[str]:
    args = ["--format", "json", "--concurrency", str(CONCURRENCY), "--ledger", str(ledger)]
    return start_process(
        "apply",
        str(folder),
        "--auto-approve",
        "--requests-per-minute",
        "100000",
        *args,
        env=handle.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def patched(handle: SandboxHandle, since: int = 0) -> list[str]:
    return [r["path"].rsplit("/", 1)[1] for r in handle.requests(since) if r["method"] == "PATCH"]


def written(handle: SandboxHandle, since: int = 0) -> set[str]:
    """Users with any write (PATCH or token DELETE) in the log since ``since``."""
    return {r["path"].rsplit("/", 1)[1] for r in handle.requests(since) if r["method"] in ("PATCH", "DELETE")}


def wait_for_patches(handle: SandboxHandle, proc: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 60
    while len(patched(handle)) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the apply never got that far")
        time.sleep(0.005)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_apply_starts_no_new_user_and_finishes_those_in_flight(
    slow_sandbox: SandboxHandle, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    leavers = make_leavers(slow_sandbox, tmp_path / "desired", USERS)
    proc = start_apply(slow_sandbox, leavers.folder, tmp_path / "ledger.jsonl")
    wait_for_patches(slow_sandbox, proc, 6)
    mark = len(slow_sandbox.requests())
    before = written(slow_sandbox)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == code, err
    started_after = written(slow_sandbox, mark) - before
    # Only users already in flight (each worker may have begun one just before the signal) write after it.
    assert len(started_after) <= CONCURRENCY
    everyone = before | started_after
    assert len(everyone) < USERS  # the brake worked: most users never started
    revoked = {r["path"].rsplit("/", 1)[1] for r in slow_sandbox.requests() if r["method"] == "DELETE"}
    assert everyone <= revoked  # every user that was started finished all its writes
    for user_id in everyone:
        assert slow_sandbox.user(user_id)["state"] == "inactive" and slow_sandbox.user(user_id)["live_tokens"] == 0

    doc = json.loads(out)  # the results so far, as a complete document
    planned = {c["id"] for c in doc["changes"]}
    assert len(planned) >= USERS
    assert doc["stopped"] == f"{sig.name} received"
    by_user: dict[str, set[str]] = {}
    for r in doc["results"]:
        by_user.setdefault(r["id"], set()).add(r["outcome"])
    assert {u for u, outcomes in by_user.items() if outcomes == {"applied"}} == everyone
    skipped = [r for r in doc["results"] if r["outcome"] == "skipped"]
    assert {r["id"] for r in skipped} == planned - everyone
    assert all(r["message"] == f"not started: {sig.name} received" for r in skipped)
    assert f"{sig.name} received: starting no new user" in err
    assert "Traceback" not in err


def test_a_second_ctrl_c_exits_at_once(slow_sandbox: SandboxHandle, tmp_path: Path) -> None:
    slow_sandbox.faults(write_response_delay=3.0)  # users in flight would take seconds to finish
    leavers = make_leavers(slow_sandbox, tmp_path / "desired", 20)
    proc = start_apply(slow_sandbox, leavers.folder, tmp_path / "ledger.jsonl")
    wait_for_patches(slow_sandbox, proc, 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - sent < 2.5  # did not wait for the 3-second answers in flight
    assert out == ""  # no results: it left at once
    assert "SIGINT again: exiting now" in err
