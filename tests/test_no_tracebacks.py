"""No input produces a Python traceback: hostile paths and ports give one line, exit 1, no stray files.

Every verb is run with paths that name a folder, a device or a missing folder,
and with ports that are busy or out of range. Each must end with one
``reconciler: error:`` line naming the path or port, exit 1, and leave the
folders it touched as they were. A crash handler catches anything unforeseen
with one line that points to ``-vv``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import validate as validate_module
from tests.conftest import SandboxHandle, run_process


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def listing(*folders: Path) -> set[str]:
    return {str(p) for folder in folders for p in folder.rglob("*")}


def assert_one_line_error(result: Any, *names: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out
    errors = [line for line in result.err.splitlines() if line.startswith("reconciler: error:")]
    assert len(errors) == 1, result.err
    for name in names:  # named in the error line, or in the located findings printed above it
        assert name in result.err, (name, result.err)


def hostile_cases(desired: Path, tmp: Path, busy: int) -> list[tuple[list[str], tuple[str, ...]]]:
    folder = tmp / "a-folder"
    folder.mkdir()
    missing = tmp / "no-such-folder" / "deeper"
    return [
        (["validate", str(missing)], (str(missing),)),
        (["validate", "/dev/null"], ("/dev/null",)),
        (["plan", str(desired), "--out", str(folder)], (str(folder), "folder")),
        (["plan", str(desired), "--out", "/dev/full"], ("/dev/full",)),
        (["apply", "/dev/null"], ("/dev/null",)),
        (["apply", str(desired / "leavers" / "2026-11.yaml")], ("desired-state file", "apply")),
        (["audit", str(desired), "--ledger", "/dev/zero"], ("/dev/zero",)),
        (["audit", str(desired), "--ledger", str(folder)], (str(folder),)),
        (["export", str(desired), "--out", str(folder)], (str(folder), "folder")),
        (["export", str(desired), "--out", "/dev/full"], ("/dev/full",)),
        (["run", str(desired), "--once", "--metrics-port", str(busy)], (str(busy),)),
        (["run", str(desired), "--once", "--cron", "0 0 30 2 *"], ("0 0 30 2 *",)),
        (["sandbox", "--port", str(busy)], (str(busy),)),
        (["sandbox", "--port", "0", "--state-file", str(missing / "org.json")], (str(missing.parent.parent),)),
        (["propose", str(desired), "--from-csv", "/dev/zero"], ("/dev/zero",)),
        (["propose", str(desired), "--from-csv", str(missing / "hr.csv")], (str(missing / "hr.csv"),)),
        (["propose", str(desired), "--from-csv", str(folder)], (str(folder),)),
        (["propose", str(desired), "--dormant", "90d", "--out", str(folder), "--force"], (str(folder),)),
        (["propose", str(desired), "--dormant", "90d", "--out", "/dev/full", "--force"], ("/dev/full",)),
    ]


def test_every_verb_with_hostile_paths_and_ports_fails_in_one_line(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path, busy_port: int
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cases = hostile_cases(desired, work, busy_port)
    for argv, names in cases:
        before = listing(work, desired.parent)
        result = cli(*argv, env=sandbox.env)
        assert_one_line_error(result, *names)
        assert listing(work, desired.parent) == before, f"{argv} left files behind"
    assert not sandbox.writes(), "no hostile case may write to Genesys"


def test_an_unforeseen_crash_is_one_line_that_points_to_vv(
    cli: Any, desired: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(args: Any) -> int:
        raise TypeError("a bug of ours")

    monkeypatch.setattr(validate_module, "run", boom)
    result = cli("validate", str(desired))
    assert_one_line_error(result, "TypeError", "a bug of ours", "-vv")
    traced = cli("-vv", "validate", str(desired))
    assert traced.code == 1 and "Traceback" in traced.err  # asked for: the trace, for a bug report


def test_real_processes_on_busy_ports_fail_in_one_line(busy_port: int, desired: Path, tmp_path: Path) -> None:
    """The console entry point too: a second sandbox on a busy port, metrics on a busy port."""
    sandbox = run_process("sandbox", "--port", str(busy_port), timeout=60)
    assert_one_line_error(sandbox, str(busy_port), "in use")
    env = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
        "GENESYSCLOUD_API_URL": f"http://127.0.0.1:{busy_port}",
    }
    before = listing(tmp_path)
    run = run_process("run", str(desired), "--once", "--metrics-port", str(busy_port), env=env, cwd=tmp_path)
    assert_one_line_error(run, str(busy_port), "in use")
    assert listing(tmp_path) == before
