"""Measure `reconciler propose --dormant` on a big sandbox org. Prints one JSON object.

    python benchmarks/propose_dormant.py [USERS]        (default 100,000)
    BENCH_RPM=6000000 python benchmarks/propose_dormant.py   (pacing lifted: local cost only)

Starts `reconciler sandbox --users USERS` as its own process (with its default
rate limit, 300 requests a minute per token, as Genesys documents), then runs
`reconciler propose --dormant 90d --format json` as a real process with the
tool's default pacing, and reports the API calls (by the tool's own count and
by the sandbox's request log), the wall time and the proposing process's
peak memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def main() -> int:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    python = sys.executable
    rpm = ["--requests-per-minute", os.environ["BENCH_RPM"]] if os.environ.get("BENCH_RPM") else []
    sandbox = subprocess.Popen(
        [python, "-m", "reconciler", "sandbox", "--users", str(users), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        env = dict(os.environ)
        while not env.get("GENESYSCLOUD_API_URL") or "GENESYSCLOUD_OAUTHCLIENT_SECRET" not in env:
            line = sandbox.stdout.readline()
            if not line:
                raise SystemExit("the sandbox exited before printing its environment")
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                env[name] = value
        base = env["GENESYSCLOUD_API_URL"]
        before = len(httpx.get(f"{base}/_sandbox/requests").json())
        with tempfile.TemporaryDirectory() as tmp:
            desired = Path(tmp) / "desired_state"
            desired.mkdir()
            started = time.monotonic()
            proc = subprocess.run(
                [python, "-m", "reconciler", "propose", str(desired), "--dormant", "90d", "--format", "json", *rpm],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        doc = json.loads(proc.stdout)
        log = httpx.get(f"{base}/_sandbox/requests").json()[before:]
        by_endpoint: dict[str, int] = {}
        for r in log:
            if not r["path"].startswith("/_sandbox"):
                key = f"{r['method']} {r['path']}"
                by_endpoint[key] = by_endpoint.get(key, 0) + 1
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; the sandbox still runs
        print(
            json.dumps(
                {
                    "users": users,
                    "requests_per_minute": float(rpm[1]) if rpm else "default",
                    "summary": doc["summary"],
                    "calls_seen_by_sandbox": by_endpoint,
                    "wall_seconds": round(wall, 2),
                    "peak_rss_mb_propose": round(peak / 1024, 1),
                },
                indent=2,
            )
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
