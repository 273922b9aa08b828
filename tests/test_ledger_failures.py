"""Every way the ledger can fail: reported, naming the file and the cause; the run fails; the lock-out happens.

The real CLI against the sandbox. The revocation rule without a ledger covers a journal that could not
be kept, so the leavers are deactivated and their sessions ended whatever happened to the ledger.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JANE, JOHN, SandboxHandle

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def read_only_file(tmp: Path, desired: Path) -> tuple[list[str], str]:
    ledger = tmp / "ledger.jsonl"
    ledger.write_text("")
    ledger.chmod(0o444)
    return ["--ledger", str(ledger)], f"cannot open the ledger {ledger} for appending: Permission denied"


def folder_is_a_file(tmp: Path, desired: Path) -> tuple[list[str], str]:
    folder = desired.resolve().parent / ".reconciler"
    folder.write_text("not a folder\n")
    return [], f"cannot create the folder {folder} for the ledger {folder / 'ledger.jsonl'}: File exists (a file"


def uncreatable(tmp: Path, desired: Path) -> tuple[list[str], str]:
    # sysfs refuses to create files, even for root: a stand-in for a read-only mount.
    return ["--ledger", "/sys/kernel/ledger.jsonl"], "cannot open the ledger /sys/kernel/ledger.jsonl for appending"


def full_disk(tmp: Path, desired: Path) -> tuple[list[str], str]:
    # Planning reports it is no regular file (reading a device would never end); appending finds the disk full.
    return ["--ledger", "/dev/full"], "cannot read the ledger /dev/full: it is not a regular file"


def a_folder(tmp: Path, desired: Path) -> tuple[list[str], str]:
    ledger = tmp / "ledger-is-a-folder"
    ledger.mkdir()
    # Read when planning (planned as without a ledger), then refused for appending.
    return ["--ledger", str(ledger)], f"cannot read the ledger {ledger}: it is a directory"


CASES = [
    pytest.param(
        read_only_file,
        id="read-only-file",
        marks=pytest.mark.skipif(IS_ROOT, reason="root writes to a read-only file; see 'uncreatable'"),
    ),
    pytest.param(folder_is_a_file, id="dot-reconciler-is-a-file"),
    pytest.param(uncreatable, id="read-only-filesystem"),
    pytest.param(full_disk, id="dev-full"),
    pytest.param(a_folder, id="ledger-is-a-folder"),
]


@pytest.mark.parametrize("breakage", CASES)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_ledger_that_cannot_be_kept_never_stops_a_lock_out(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path, breakage: Any, fmt: str
) -> None:
    options, message = breakage(tmp_path, desired)
    result = cli("apply", str(desired), "--auto-approve", "--format", fmt, *options, env=sandbox.env)
    assert result.code == 1  # the run fails...
    for leaver in (JANE, JOHN):  # ...but the leavers are locked out
        assert sandbox.user(leaver)["state"] == "inactive"
        assert sandbox.user(leaver)["live_tokens"] == 0
    writes = [(w["method"], w["path"].rsplit("/", 1)[1]) for w in sandbox.writes()]
    assert ("DELETE", JANE) in writes and ("DELETE", JOHN) in writes
    assert message in result.err  # logged once, naming the file and the cause
    # The rendering names the file too (its first failure: reading when planning, or appending).
    shown = next(word for word in message.split() if word.startswith("/")).rstrip(":")
    if fmt == "json":
        doc = json.loads(result.out)
        assert doc["ledger_failures"] > 0 and shown in doc["ledger_error"]
        assert {r["outcome"] for r in doc["results"]} == {"applied"}
    else:
        assert "The audit ledger could not be written" in result.out and shown in result.out
    assert "Traceback" not in result.err


def test_a_ledger_that_cannot_be_read_plans_as_without_one(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger-is-a-folder"
    ledger.mkdir()
    result = cli("plan", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert result.code == 0, result.err
    assert f"cannot read the ledger {ledger}: it is a directory; planning as without a ledger" in result.err
    assert "2 to deactivate" in result.out
