"""The U x M table: apply, a no-op plan and the baseline for org sizes U and leavers M.

    python benchmarks/matrix.py             # the full table (about 8 minutes)
    python benchmarks/matrix.py --quick     # U = 1,000 only

For each org size U and number of managed leavers M it starts a fresh sandbox
(in its own process, with a time-scaled rate limit, default 300 requests/s:
60x Genesys's 300 a minute) and measures, for `reconciler apply`, a no-op
`reconciler plan` right after, and the baseline (benchmarks/baseline.py): API
calls by endpoint, 429 answers, wall time, the rate-limit floor (calls / allowed
rate: no client can be faster), the share of the allowed rate achieved, CPU
seconds and peak memory of the client process. A last row plans 100,000 managed
users in a 100,000-user org and reports the CPU of each stage (plan_cpu.py).
The goals of issue 13 are measured by run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import HERE, Row, SandboxProcess, child, every_user_file, machine, measured, pick, short


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="U = 1,000 only")
    parser.add_argument("--rate", default="300/1s", help="sandbox rate limit per token (default 300/1s)")
    parser.add_argument("--out", default=str(HERE / "matrix.json"))
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
