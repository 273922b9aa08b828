"""Benchmark reconciler against the sandbox, side by side with a tutorial-style baseline.

    python benchmarks/run.py             # the full table (several minutes)
    python benchmarks/run.py --quick     # U = 1,000 only, for a smoke test

For each org size U and number of managed leavers M it starts a fresh sandbox
(in its own process, with a time-scaled rate limit, default 300 requests/s:
60x Genesys's 300 a minute) and measures, for `reconciler apply`, a no-op
`reconciler plan` right after, and the baseline (benchmarks/baseline.py): API
calls by endpoint, 429 answers, wall time, the rate-limit floor (calls / allowed
rate: no client can be faster), the share of the allowed rate achieved, CPU
seconds and peak memory of the client process. A last row plans 100,000 managed
users in a 100,000-user org and reports the CPU of each stage (plan_cpu.py).
Results go to benchmarks/results.json; the table is printed as Markdown.
"""

from __future__ import annotations

import argparse
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

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def floor(self) -> float:
        return self.total / self.allowed_rate

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total, "floor": round(self.floor, 3)}


class SandboxProcess:
    def __init__(self, users: int, rate: str) -> None:
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
    """Run a process; return (exit code, wall s, CPU s, peak MB, stdout), measured for that process alone."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        result = Path(tmp.name)
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
    after = sandbox.stats()
    row.exit_code = code
    row.calls = {
        k: v - before["by_endpoint"].get(k, 0)
        for k, v in after["by_endpoint"].items()
        if v - before["by_endpoint"].get(k, 0) > 0
    }
    row.rate_limited = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    log = httpx.get(f"{sandbox.base}/_sandbox/requests", params={"since": before["requests"]}, timeout=120).json()
    writes = [r for r in log if r["method"] in ("PATCH", "DELETE")]
    if len(writes) >= 500:  # shorter runs fit in a window or two: a rate over them means little
        span = [r for r in log if writes[0]["seq"] <= r["seq"] <= writes[-1]["seq"]]
        row.write_rate = (len(span) - 1) / max(1e-9, writes[-1]["t"] - writes[0]["t"])
    return row


def run_case(users: int, managed: int, rate: str, baseline_noop: bool) -> list[Row]:
    allowed, window = rate.split("/")
    per_second = int(allowed) / float(window.rstrip("s"))
    emails = pick(users, managed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        folder = Path(tmp) / "desired_state"
        folder.mkdir()
        (folder / "leavers.yaml").write_text(
            f"policy:\n  max_changes: {managed + 10}\nusers:\n" + "".join(f"  - email: {e}\n" for e in emails)
        )
        (Path(tmp) / "emails.txt").write_text("\n".join(emails))
        ours = [sys.executable, "-m", "reconciler"]
        common = [
            "--ledger",
            str(Path(tmp) / "ledger.jsonl"),
            "--requests-per-minute",
            str(per_second * 60),
            "--concurrency",
            "8",
        ]
        sandbox = SandboxProcess(users, rate)
        try:
            rows.append(
                measured(
                    sandbox,
                    Row(users, managed, "reconciler apply", allowed_rate=per_second),
                    [*ours, "apply", str(folder), "--auto-approve", "--format", "json", *common],
                )
            )
            rows.append(
                measured(
                    sandbox,
                    Row(users, managed, "reconciler plan (no-op)", allowed_rate=per_second),
                    [*ours, "plan", str(folder), "--detailed-exitcode", *common],
                )
            )
        finally:
            sandbox.close()
        sandbox = SandboxProcess(users, rate)
        try:
            base = [sys.executable, str(HERE / "baseline.py"), str(Path(tmp) / "emails.txt")]
            rows.append(measured(sandbox, Row(users, managed, "baseline", allowed_rate=per_second), base))
            if baseline_noop:
                rows.append(measured(sandbox, Row(users, managed, "baseline (again)", allowed_rate=per_second), base))
        finally:
            sandbox.close()
    return rows


def plan_cpu(users: int) -> dict[str, Any]:
    """Plan every user of a U-user org (half by email, half by id) and report each stage's CPU."""
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        every_user_file(users, Path(tmp) / "all.yaml")
        sandbox = SandboxProcess(users, "1000000/1s")
        try:
            _, wall, cpu, peak, out = child([sys.executable, str(HERE / "plan_cpu.py"), tmp], sandbox.env)
        finally:
            sandbox.close()
    result: dict[str, Any] = json.loads(out)
    result.update({"users": users, "wall": round(wall, 2), "cpu_total": round(cpu, 2), "peak_mb_rusage": peak})
    return result


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


def table(rows: list[Row]) -> str:
    out = [
        "| U | M | tool | API calls | 429s | wall s | floor s | wall / floor | write-phase rate | CPU s | peak MB |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        phase = f"{r.write_rate / r.allowed_rate * 100:.0f}% of allowed" if r.write_rate else "-"
        out.append(
            f"| {r.users:,} | {r.managed:,} | {r.tool} | {r.total:,} ({short(r.calls)}) | {r.rate_limited} | "
            f"{r.wall:.1f} | {r.floor:.1f} | {r.wall / max(r.floor, 1e-9):.1f} | {phase} | {r.cpu:.2f} | "
            f"{r.peak_mb:.0f} |"
        )
    return "\n".join(out)


def ratios(rows: list[Row]) -> str:
    out = ["| U | M | calls, ours / baseline | wall time, ours / baseline |", "|---:|---:|---:|---:|"]
    for r in rows:
        if r.tool != "reconciler apply":
            continue
        b = next(x for x in rows if (x.users, x.managed, x.tool) == (r.users, r.managed, "baseline"))
        out.append(f"| {r.users:,} | {r.managed:,} | {r.total / b.total:.2f} | {r.wall / b.wall:.2f} |")
    return "\n".join(out)


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        match = re.search(r"model name\s*:\s*(.+)", info.read_text())
        cpu = match.group(1).strip() if match else cpu
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="U = 1,000 only")
    parser.add_argument("--rate", default="300/1s", help="sandbox rate limit per token (default 300/1s)")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    cases = (
        [(1_000, 10), (1_000, 100)]
        if args.quick
        else [
            (1_000, 10),
            (1_000, 500),
            (10_000, 10),
            (10_000, 1_000),
            (100_000, 10),
            (100_000, 1_000),
            (100_000, 10_000),
        ]
    )
    rows: list[Row] = []
    for users, managed in cases:
        print(f"U={users:,} M={managed:,} ...", file=sys.stderr, flush=True)
        rows += run_case(users, managed, args.rate, baseline_noop=managed <= 1_000)
    local = plan_cpu(1_000 if args.quick else 100_000)
    report = (
        f"Machine: {machine()}\nSandbox rate limit: {args.rate} per token (time-scaled; Genesys: 300/min)\n\n"
        f"{table(rows)}\n\n{ratios(rows)}\n\n"
        f"Local cost, {local['entries']:,} managed users in a {local['users']:,}-user org (plan only): "
        f"diff+plan {local['cpu_build']} s CPU; loading files {local['cpu_load']} s; reading live users "
        f"{local['cpu_read']} s ({local['strategy']}: {short(local['calls'])}); peak {local['peak_mb']} MB."
    )
    print(report)
    Path(args.out).write_text(
        json.dumps(
            {"machine": machine(), "rate": args.rate, "rows": [r.as_dict() for r in rows], "local": local}, indent=2
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
