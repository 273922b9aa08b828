"""What every benchmark needs: a sandbox in its own process, a measured child process, call counts.

Used by run.py (the goals table) and matrix.py (the U x M table). Each child is
forked from measure.py, a small process, so its CPU and peak memory are its own.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LAST_START = 0.0


@dataclass
class Row:
    users: int
    managed: int
    tool: str
    calls: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    allowed_rate: float = 0.0
    exit_code: int = 0
    write_rate: float | None = None  # requests/s between the first and the last write (the apply phase)
    started: float = 0.0  # the process's start on the monotonic clock the sandbox's log uses
    log: list[dict[str, Any]] = field(default_factory=list, repr=False)  # its API requests, as the sandbox saw them

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def floor(self) -> float:
        return self.total / self.allowed_rate

    def as_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "total": self.total, "floor": round(self.floor, 3)}
        out.pop("log")
        return out


class SandboxProcess:
    def __init__(self, users: int, rate: str, latency: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "sandbox",
                "--port",
                "0",
                "--users",
                str(users),
                "--rate-limit",
                rate,
                "--fractional-retry-after",
                "--latency",
                str(latency),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=HERE.parent,
        )
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        while len(self.env) < 4:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox did not start")
            name, _, value = line.strip().removeprefix("export ").partition("=")
            self.env[name] = value
        self.base = self.env["GENESYSCLOUD_API_URL"]

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base}/_sandbox/stats", timeout=30).json())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()


def pick(users: int, managed: int) -> list[str]:
    """M active users with lower-case emails from the deterministic org the sandbox will generate.

    Computed in a child process: a 100,000-user org in this process would be
    inherited by every child we fork and inflate their measured peak memory.
    """
    code = (
        "import sys; from reconciler.sandbox.org import WELL_KNOWN, Org; "
        f"users = list(Org.generate({users}, wall=lambda: 0.0).users.values())[len(WELL_KNOWN):]; "
        "print('\\n'.join(u.email for u in users if u.state == 'active' and u.email == u.email.lower()))"
    )
    emails = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=HERE.parent
    ).stdout.split()
    if len(emails) < managed:
        raise ValueError(f"only {len(emails)} active users in an org of {users}")
    return emails[:managed]


def every_user_file(users: int, path: Path) -> None:
    """Desired state naming every user of the org (half by email, half by id), written by a child process."""
    code = (
        "from reconciler.sandbox.org import Org; "
        f"users = list(Org.generate({users}, wall=lambda: 0.0).users.values()); "
        f"lines = ['policy:', '  max_changes: {users * 2}', 'users:']; seen = set()\n"
        "for i, u in enumerate(users):\n"
        "    if i % 2 == 0 and u.email == u.email.lower() and u.email not in seen:\n"
        "        seen.add(u.email); lines.append(f'  - email: {u.email}')\n"
        "    else:\n"
        "        lines.append(f'  - id: {u.id}')\n"
        f"open({str(path)!r}, 'w').write('\\n'.join(lines) + '\\n')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=HERE.parent)


def child(argv: list[str], env: dict[str, str]) -> tuple[int, float, float, float, str]:
    """Run a process; return (exit code, wall s, CPU s, peak MB, stdout), measured for that process alone.

    ``LAST_START`` keeps when it started on the monotonic clock, which the sandbox's
    request log also uses (CLOCK_MONOTONIC is one clock for every process).
    """
    global LAST_START
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        result = Path(tmp.name)
    LAST_START = time.monotonic()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE / "measure.py"), str(result), *argv],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=HERE.parent,
        check=False,
    )
    wall = time.perf_counter() - start
    usage = json.loads(result.read_text())
    result.unlink()
    return proc.returncode, wall, usage["cpu"], usage["peak_mb"], proc.stdout


def measured(sandbox: SandboxProcess, row: Row, argv: list[str]) -> Row:
    before = sandbox.stats()
    code, row.wall, row.cpu, row.peak_mb, _ = child(argv, sandbox.env)
    row.started = LAST_START
    after = sandbox.stats()
    row.exit_code = code
    row.calls = {
        k: v - before["by_endpoint"].get(k, 0)
        for k, v in after["by_endpoint"].items()
        if v - before["by_endpoint"].get(k, 0) > 0
    }
    row.rate_limited = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    log = httpx.get(f"{sandbox.base}/_sandbox/requests", params={"since": before["requests"]}, timeout=120).json()
    row.log = [r for r in log if r["path"].startswith("/api/")]
    writes = [r for r in log if r["method"] in ("PATCH", "DELETE")]
    if len(writes) >= 500:  # shorter runs fit in a window or two: a rate over them means little
        span = [r for r in log if writes[0]["seq"] <= r["seq"] <= writes[-1]["seq"]]
        row.write_rate = (len(span) - 1) / max(1e-9, writes[-1]["t"] - writes[0]["t"])
    return row


def short(calls: dict[str, int]) -> str:
    names = {
        "POST /oauth/token": "token",
        "POST /api/v2/users/search": "search",
        "GET /api/v2/users/search": "search",
        "GET /api/v2/users": "get",
        "GET /api/v2/users/query": "list",
        "PATCH /api/v2/users/{id}": "patch",
        "DELETE /api/v2/tokens/{id}": "revoke",
        "GET /api/v2/users/{id}": "get1",
    }
    merged: dict[str, int] = {}
    for key, n in calls.items():
        merged[names.get(key, key)] = merged.get(names.get(key, key), 0) + n
    return " ".join(f"{k} {v}" for k, v in sorted(merged.items()))


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        match = re.search(r"model name\s*:\s*(.+)", info.read_text())
        cpu = match.group(1).strip() if match else cpu
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def compile_package() -> None:
    """Byte-compile reconciler/ once, as installing a wheel does, before anything is measured.

    Without it an editable checkout run under PYTHONDONTWRITEBYTECODE (as some CI and
    sandboxed shells set) compiles every module from source in every measured process:
    about a third of a small `validate`, a cost no installed copy pays.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "reconciler")], check=True)
