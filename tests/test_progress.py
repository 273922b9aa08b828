"""Long work shows progress; verbosity means something (issue 15 §1); rich styles from the data (14).

``-v`` logs each API call (method, path, status, time); ``-vv`` adds retries,
pacing decisions and the journal. Never a secret or a token. On a terminal a
rich bar and each user's outcome as it happens; without one, a short line at a
bounded rate. Colour comes from each line's tag, only on a terminal, never
with NO_COLOR.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.common import emit
from reconciler.cli.progress import LineProgress
from reconciler.core.report.text import Line
from tests.conftest import SandboxHandle
from tests.test_cli_processes import read_until

SECRET = "sandbox-secret-not-for-production"


def test_v_logs_each_api_call_with_method_path_status_and_time(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    quiet = cli("plan", str(desired), env=sandbox.env)
    assert "INFO" not in quiet.err
    loud = cli("-v", "plan", str(desired), env=sandbox.env)
    calls = re.findall(r"reconciler: INFO: (\w+) (/\S+) -> (\d{3}) \(\d+ ms\)", loud.err)
    api = [c for c in calls if c[1].startswith("/api/")]
    assert len(api) == len(sandbox.api_requests()) // 2  # the quiet run made the same calls
    assert ("POST", "/api/v2/users/search", "200") in calls and ("GET", "/api/v2/users", "200") in calls
    assert "DEBUG" not in loud.err and SECRET not in loud.err and "Bearer" not in loud.err


def test_vv_adds_retries_pacing_and_the_journal(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    sandbox.faults(rate_limit_storm=1, storm_retry_after=1)
    result = cli("-vv", "apply", str(desired), "--auto-approve", env=sandbox.env)
    assert result.code == 0, result.err
    assert re.search(r"DEBUG: \w+ /api/v2/\S+: .*\[429 .*waiting Retry-After 1 s \(all workers\)", result.err)
    assert "DEBUG: pacing: 429, every worker holds 1.0 s" in result.err
    assert re.search(r"DEBUG: journal: intent deactivate [0-9a-f-]{36}", result.err)
    assert re.search(r"DEBUG: journal: outcome revoke_tokens [0-9a-f-]{36} -> applied", result.err)
    assert SECRET not in result.err and "Bearer" not in result.err


# --- progress ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_progress_is_a_line_at_a_bounded_rate() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = LineProgress(stream, interval=10.0, clock=clock)
    progress.phase("applying", 300)
    for _ in range(300):  # 300 users over 65 s, as in the issue
        clock.now += 65 / 300
        progress.advance(1)
    progress.done()
    lines = stream.getvalue().splitlines()
    assert 5 <= len(lines) <= 7  # one every 10 s, never one per user
    assert re.fullmatch(r"reconciler: applying: \d+/300 \(\d+%\), 4\.6/s, about \d+ s left", lines[0])
    quick = io.StringIO()
    short = LineProgress(quick, interval=10.0, clock=FakeClock())
    short.phase("reading users", 3)
    short.advance(3)
    assert quick.getvalue() == ""  # work that ends sooner than the interval prints nothing


def test_the_engine_reports_reads_and_each_finished_user(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any
) -> None:
    seen: list[tuple[str, int | None]] = []
    finished: list[str] = []

    class Recorder:
        def phase(self, name: str, total: int | None) -> None:
            seen.append((name, total))

        def advance(self, steps: int = 1, results: Any = ()) -> None:
            finished.extend(r.change.action.value for r in results)

        def done(self) -> None:
            seen.append(("done", None))

    runtime = runtime_for(sandbox, desired, progress=Recorder())
    plan = runtime.plan().plan
    runtime.apply(plan)
    assert [name for name, _ in seen] == ["reading users", "done", "applying", "done"]
    assert sorted(finished) == sorted(c.action.value for c in plan.changes)


def test_on_a_terminal_apply_shows_each_user_as_it_happens(sandbox: SandboxHandle, desired: Path) -> None:
    """The real CLI on two pseudo-terminals (stdout, stderr): progress and each user's outcome go to
    stderr as they happen, styled by rich from the data; stdout then ends with the verdict only."""
    out_ctl, out_tty = os.openpty()
    err_ctl, err_tty = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(desired), "--auto-approve", "--no-ledger"],
        stdin=subprocess.DEVNULL,
        stdout=out_tty,
        stderr=err_tty,
        env={**env, **sandbox.env, "TERM": "xterm-256color", "COLUMNS": "160"},
    )
    try:
        out = read_until(out_ctl, r"Apply complete: 5 applied")
        err = read_until(err_ctl, r"revoke_tokens.*\n(?s:.*)revoke_tokens")  # at least two live lines
        proc.wait(timeout=30)
    finally:
        for fd in (out_tty, out_ctl, err_tty, err_ctl):
            os.close(fd)
    assert proc.returncode == 0
    plain_err = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", err)
    assert "ok      deactivate    Jane.Doe@example.com" in plain_err  # live, on stderr
    assert "\x1b[32m  ok      " in err  # styled by the outcome's tag
    assert "ok      deactivate" not in out  # not repeated: the person watched them appear
    assert "\x1b[1;33m  # Jane.Doe@example.com (Jane Doe) will be deactivated" in out  # the plan, styled by tag
    assert SECRET not in out + err


def test_colour_comes_from_the_data_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    lines = [
        Line("  # [bold]x@example.com will be deactivated", "deactivate"),
        Line("plain"),
        Line("Plan: 1", "summary"),
    ]
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = Tty()
    emit(lines, tty)
    assert "\x1b[1;33m  # [bold]x@example.com will be deactivated" in tty.getvalue()  # markup is not obeyed
    piped = io.StringIO()
    emit(lines, piped)
    assert piped.getvalue() == "  # [bold]x@example.com will be deactivated\nplain\nPlan: 1\n"
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = Tty()
    emit(lines, no_color)
    assert no_color.getvalue() == piped.getvalue()
