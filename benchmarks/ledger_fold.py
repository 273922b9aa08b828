"""How much a ledger of years costs a plan: fold 1,000,000 records (python benchmarks/ledger_fold.py).

Writes a ledger as the tool writes it (intent and outcome per write, every
field apply.py records) for U users over three years: each user deactivated
and revoked once, then corrected again and again (reactivated behind the
tool's back, deactivated and revoked anew) until the ledger holds N records.
Then, each in a fresh process forked from a small one (benchmarks/measure.py
explains why), it measures CPU seconds and peak memory of:

- ``compact``: the one-time full fold of every record and the summary write
  (what the first apply after an upgrade pays, once);
- ``plan read``: ``read_history`` with the summary plus a day of new records
  appended since, then every user's history decoded (the worst case: a plan
  whose managed users are all of them);
- ``plan read, 20 users``: the same, looking up 20 users (a usual plan);
- ``full fold``: folding every record with no summary (what a plan would cost without one);
- ``audit``: every record streamed into audit rows (an auditor's export).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2023, 12, 1, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _write_cycle(out: list[str], user: str, n: int, t: datetime, run: str, rng: random.Random) -> None:
    """Deactivate and revoke, each an intent and an applied outcome: four records."""
    email, version = f"user{n}@example.com", rng.randint(1, 90)
    for action, before, after in (("deactivate", "active", "inactive"), ("revoke_tokens", "inactive", "inactive")):
        attempt, when = uuid.UUID(int=rng.getrandbits(128)).hex, _iso(t)
        common = {"v": 1, "time": when, "run": run, "commit": "3f2a9c81d07e4b6a95f1c2d3e4f5a6b7c8d9e0f1"}
        out.append(json.dumps({
            **common, "event": "intent", "attempt": attempt, "action": action, "user_id": user, "email": email,
            "name": f"User Number {n}", "before": before, "after": after, "version": version,
            "source": f"desired_state/leavers/{t:%Y-%m}.yaml:{n % 400 + 2}", "reason": "Left the company",
            "ticket": f"HR-{n:06d}", "detail": None,
        }, separators=(",", ":")))  # fmt: skip
        out.append(json.dumps({
            **common, "event": "outcome", "attempt": attempt, "action": action, "user_id": user, "email": email,
            "before": before, "after": after, "source": f"desired_state/leavers/{t:%Y-%m}.yaml:{n % 400 + 2}",
            "outcome": "applied", "message": None, "error": None, "correlation_id": str(uuid.UUID(int=rng.getrandbits(128))),  # noqa: E501
            "server_time": _iso(t.replace(microsecond=0)), "version_after": version + 1,
        }, separators=(",", ":")))  # fmt: skip
        t += timedelta(milliseconds=rng.randint(50, 400))


def build(path: Path, records: int, users: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(users)]
    cycles = records // 4
    span = timedelta(days=3 * 365)
    with path.open("w", encoding="utf-8") as fh:
        for c in range(cycles):
            n = c if c < users else rng.randrange(users)  # everyone once, then corrections
            t = START + span * c / cycles
            out: list[str] = []
            _write_cycle(out, ids[n], n, t, f"run{c // 50:07d}", rng)
            fh.write("\n".join(out) + "\n")


def append_day(path: Path, records: int, users: int, seed: int = 8) -> None:
    rng = random.Random(seed)
    t = START + timedelta(days=3 * 365, hours=1)
    with path.open("a", encoding="utf-8") as fh:
        for c in range(records // 4):
            out: list[str] = []
            _write_cycle(out, str(uuid.UUID(int=rng.getrandbits(128), version=4)), users + c, t, "today", rng)
            fh.write("\n".join(out) + "\n")
            t += timedelta(seconds=30)


# --- the measured steps, each run in its own process ------------------------------------------------


def step(name: str, path: Path) -> None:
    """One measured step; writes its own CPU seconds (imports excluded) beside the ledger."""
    sys.path.insert(0, str(ROOT))
    from reconciler.core.audit import audit_rows
    from reconciler.core.history import History
    from reconciler.ledger import compact, iter_records, read_history

    started = time.process_time()
    if name == "compact":
        assert compact(path)
    elif name == "plan":
        history = read_history(path).history
        decoded = sum(1 for user_id in history.users if history.users[user_id] is not None)
        assert decoded == len(history.users), decoded
    elif name == "plan20":
        history = read_history(path).history
        for user_id in list(history.users)[:: max(1, len(history.users) // 20)][:20]:
            assert history.users[user_id] is not None
    elif name == "full":
        History.from_records(iter_records(path, []))
    elif name == "audit":
        audit_rows(iter_records(path, []))
    path.with_name(f"step-{name}.json").write_text(json.dumps({"cpu": time.process_time() - started}))


def measure(name: str, path: Path) -> dict[str, float]:
    """CPU and peak memory of one step in a fresh process, through measure.py (see there why)."""
    out = path.with_name(f"measure-{name}.json")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "measure.py"), str(out), sys.executable, __file__, "--step", name,
         str(path)],
        check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    result = json.loads(out.read_text(encoding="utf-8"))
    own = json.loads(path.with_name(f"step-{name}.json").read_text(encoding="utf-8"))
    return {"cpu": result["cpu"], "step_cpu": own["cpu"], "wall": wall, "peak_mb": result["peak_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--step", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-slow", action="store_true", help="leave out the full fold and the audit")
    parser.add_argument("--keep", metavar="DIR", help="build the ledger in DIR and keep it (reused if there)")
    args = parser.parse_args()
    if args.step:
        step(args.step[0], Path(args.step[1]))
        return
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        path = Path(args.keep or tmp) / "ledger.jsonl"
        rows = []
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            build(path, args.records, args.users)
            print(f"ledger: {args.records:,} records, {args.users:,} users, {path.stat().st_size / 1e6:,.0f} MB")
            rows.append(("compact (once: full fold + summary write)", measure("compact", path)))
            append_day(path, 1_000, args.users)
        summary = path.with_name("ledger.summary.json").stat().st_size
        rows.append(("plan read: summary + 1,000 new records, all users decoded", measure("plan", path)))
        rows.append(("plan read: summary + 1,000 new records, 20 users looked up", measure("plan20", path)))
        if not args.skip_slow:
            rows.append(("full fold of every record, no summary", measure("full", path)))
            rows.append(("audit: every record streamed into rows", measure("audit", path)))
        print(f"summary: {summary / 1e6:,.1f} MB")
        machine = f"{os.uname().sysname} {os.uname().machine}, {os.cpu_count()} CPUs"
        print(f"Machine: {machine}, Python {sys.version.split()[0]}")
        print("| step | CPU s (the step) | CPU s (whole process) | wall s | peak MB (whole process) |")
        print("|---|---|---|---|---|")
        for label, m in rows:
            print(f"| {label} | {m['step_cpu']:.2f} | {m['cpu']:.2f} | {m['wall']:.2f} | {m['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
