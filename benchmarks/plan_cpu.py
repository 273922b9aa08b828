"""Measure one plan's local cost, stage by stage, in a fresh process. Prints one JSON object.

    python benchmarks/plan_cpu.py DESIRED_DIR    (GENESYSCLOUD_* from the environment)

CPU seconds per stage (imports, loading the files, reading live users,
building the plan: the pure diff/plan, rendering it as JSON) and the
process's peak memory. The cyclic collector is off, as `reconciler plan`
runs (cli/main.py::entry). Environment: BENCH_RPM, the pace (default:
lifted); BENCH_STRATEGY, auto | targeted | listing (default auto);
BENCH_CONCURRENCY, a cap on the workers.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

started = time.process_time()
gc.disable()
from reconciler.core.plan import build  # noqa: E402
from reconciler.core.report.jsondoc import dumps, plan_document  # noqa: E402
from reconciler.core.settings import Settings  # noqa: E402
from reconciler.engine import Runtime  # noqa: E402
from reconciler.genesys.config import connection_from_env  # noqa: E402  # imports are part of what is measured
from reconciler.genesys.live import read_live  # noqa: E402


def main() -> int:
    imported = time.process_time()
    runtime = Runtime(
        desired_dir=Path(sys.argv[1]),
        connection=connection_from_env(os.environ),
        use_ledger=False,
        settings=Settings(
            requests_per_minute=float(os.environ.get("BENCH_RPM", "6000000")),
            concurrency=int(os.environ["BENCH_CONCURRENCY"]) if "BENCH_CONCURRENCY" in os.environ else None,
        ),
    )
    desired = runtime.load()
    loaded = time.process_time()
    strategy = os.environ.get("BENCH_STRATEGY", "auto")
    live = read_live(runtime.client(), desired.entries, settings=runtime.settings, strategy=strategy)
    read = time.process_time()
    now = datetime.now(UTC)
    plan = build(desired, live, now=now, token_window_start=now - timedelta(hours=48))
    built = time.process_time()
    rendered_chars = len(dumps(plan_document(plan)))
    rendered = time.process_time()
    print(
        json.dumps(
            {
                "entries": len(desired.entries),
                "changes": len(plan.changes),
                "strategy": live.strategy,
                "cpu_import": round(imported - started, 3),
                "cpu_load": round(loaded - imported, 3),
                "cpu_read": round(read - loaded, 3),
                "cpu_build": round(built - read, 3),
                "cpu_render": round(rendered - built, 3),
                "json_chars": rendered_chars,
                "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "calls": dict(runtime.client().stats.calls),
            }
        )
    )
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
