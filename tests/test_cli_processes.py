"""The CLI as people run it: real processes, a real terminal for the confirmation prompt."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import JANE, SandboxHandle, run_process


def read_until(stream: int, pattern: str, timeout: float = 20) -> str:
    """Read a file descriptor until ``pattern`` appears (or fail after ``timeout`` seconds)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            chunk = os.read(stream, 65536)
            if not chunk:
                break
            buf += chunk
            if re.search(pattern, buf.decode(errors="replace")):
                return buf.decode(errors="replace")
    raise AssertionError(f"{pattern!r} not seen in: {buf.decode(errors='replace')}")


def test_sandbox_command_prints_its_environment_and_serves(desired: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--users", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        text = read_until(proc.stdout.fileno(), r"GENESYSCLOUD_API_URL=\S+\n")
        env = dict(re.findall(r"^export (\w+)=(\S+)$", text, re.M))
        assert set(env) == {
            "GENESYSCLOUD_OAUTHCLIENT_ID",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
            "GENESYSCLOUD_REGION",
            "GENESYSCLOUD_API_URL",
        }
        assert env["GENESYSCLOUD_API_URL"].startswith("http://127.0.0.1:")
        result = run_process("plan", str(desired), "--no-ledger", env=env)
        assert result.code == 0, result.err
        assert "Plan: 2 to deactivate" in result.out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_apply_on_a_terminal_asks_and_only_yes_proceeds(sandbox: SandboxHandle, desired: Path) -> None:
    for answer, expected_code in (("no", 1), ("yes", 0)):
        controller, terminal = os.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", str(desired), "--no-ledger"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, **sandbox.env},
        )
        try:
            read_until(controller, r"Only 'yes' will be accepted")
            os.write(controller, f"{answer}\n".encode())
            out, _ = proc.communicate(timeout=30)
        finally:
            os.close(terminal)
            os.close(controller)
        assert proc.returncode == expected_code
        if answer == "no":
            assert sandbox.writes() == []
        else:
            assert b"Apply complete: 5 applied" in out
            assert sandbox.user(JANE)["state"] == "inactive"
