"""How many workers a run uses: sized from the rate and the measured latency (Little's law).

No test here times anything: they check the number of workers chosen at a
sandbox latency, and that reads overlap. How fast that runs is measured in
benchmarks/ (rate by default, at latencies from 20 to 800 ms).
"""

from __future__ import annotations

import gc
import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core import collector
from reconciler.core.settings import Settings
from reconciler.errors import Unreachable
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.live import read_users
from reconciler.genesys.pacer import HEADROOM
from reconciler.genesys.session import ApiSession
from reconciler.genesys.workers import ASSUMED_LATENCY, MARGIN, SPARE, run_all, workers_for
from reconciler.sandbox.faults import RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import SandboxHandle, sandbox_wall, write

LATENCY = 0.05  # seconds the sandbox adds to every API request
RATE = 6_000  # requests a minute: 100 a second, so 5 requests must be in flight to keep the pace
ENV = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "workers-test-secret"}


@pytest.fixture
def slow_org() -> Iterator[SandboxHandle]:
    org = Org.generate(1_000, wall=sandbox_wall())
    with (
        Sandbox(org, rate_limit=RateLimit(allowed=1_000_000, window=1)) as sb,
        httpx.Client(base_url=sb.base_url) as h,
    ):
        handle = SandboxHandle(sb, h)
        handle.faults(latency=LATENCY)
        yield handle


def actives(handle: SandboxHandle, n: int) -> list[Any]:
    with handle.sandbox.org.lock:
        return [u for u in list(handle.sandbox.org.users.values())[12:] if u.state == "active"][:n]


def test_littles_law_sizes_the_pool_and_the_cap_bounds_it() -> None:
    # Genesys's 300 a minute at 800 ms: 4 requests in flight, plus the margin and spares.
    assert workers_for(5.0, 0.8, 64) == math.ceil(5 * 0.8 * MARGIN) + SPARE == 10
    assert workers_for(5.0, 0.02, 64) == 1 + SPARE  # latency well under the spacing: one in flight is enough
    assert workers_for(300.0, 0.8, 64) == 64  # a time-scaled limit at 800 ms: the ceiling
    assert workers_for(300.0, 0.8, 6) == 6  # --concurrency 6
    assert workers_for(300.0, 0.8, 0) == 1


def test_apply_sizes_its_workers_from_the_latency_the_reads_measured(
    slow_org: SandboxHandle, tmp_path: Path, runtime_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    users = actives(slow_org, 60)
    folder = tmp_path / "d"
    write(folder, "leavers.yaml", "policy:\n  max_changes: 100\nusers:\n" + "".join(f"  - id: {u.id}\n" for u in users))
    runtime = runtime_for(slow_org, folder, settings=Settings(requests_per_minute=RATE))
    plan = runtime.plan().plan
    latency = runtime.client().session.pacer.latency
    assert latency is not None and latency >= LATENCY  # measured on the plan's own reads
    with caplog.at_level(logging.INFO, logger="reconciler.genesys.apply"):
        result = runtime.apply(plan)
    assert all(r.outcome.value == "applied" for r in result.results)
    (line,) = [r.getMessage() for r in caplog.records if "worker(s)" in r.getMessage()]
    workers = int(re.search(r"with (\d+) worker", line).group(1))  # type: ignore[union-attr]  # the line is ours
    # At least rate x latency (with the margin), never more than the users there are: the old fixed 4 is too few.
    assert math.ceil(RATE / 60 * HEADROOM * LATENCY * MARGIN) + SPARE <= workers <= 60
    assert workers > 4


def test_concurrency_caps_the_workers(slow_org: SandboxHandle, tmp_path: Path, cli: Any) -> None:
    users = actives(slow_org, 10)
    folder = tmp_path / "d"
    write(folder, "leavers.yaml", "users:\n" + "".join(f"  - id: {u.id}\n" for u in users))
    common = ["--no-ledger", "--requests-per-minute", str(RATE), "-v"]
    result = cli("apply", str(folder), "--auto-approve", "--concurrency", "3", *common, env=slow_org.env)
    assert result.code == 0, result.err
    assert "applying 10 user(s) with 3 worker(s)" in result.err


def test_batched_reads_run_in_parallel_under_the_one_pacer(slow_org: SandboxHandle) -> None:
    users = actives(slow_org, 800)
    settings = Settings(requests_per_minute=RATE)
    client = GenesysClient(ApiSession(connection_from_env(slow_org.env), settings))
    try:
        found, failed = read_users(client, [u.id for u in users], settings)
    finally:
        client.close()
    assert len(found) == 800 and not failed
    gets = [r for r in slow_org.api_requests() if r["method"] == "GET"]
    assert len(gets) == 8
    # Some batch started while another was still being answered: reads are no longer serial.
    assert any(b["arrived"] < a["t"] for a in gets for b in gets if b["seq"] > a["seq"])


def test_paced_reads_and_writes_run_with_the_old_heap_frozen_out_of_the_collector(
    slow_org: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    # A full collection over the heap stalled every worker for 50-130 ms per 1,000-user apply,
    # costing the pacer its slots; the paced phases freeze what existed before them (core/collector.py).
    assert gc.get_freeze_count() == 0
    users = actives(slow_org, 30)
    folder = tmp_path / "d"
    write(folder, "leavers.yaml", "policy:\n  max_changes: 100\nusers:\n" + "".join(f"  - id: {u.id}\n" for u in users))
    stay = actives(slow_org, 330)[30:]  # found by search: 300 addresses, 3 searches, no change
    write(folder, "stay.yaml", "users:\n" + "".join(f"  - email: {u.email}\n    state: active\n" for u in stay))
    settings = Settings(requests_per_minute=RATE, id_batch_size=10)
    runtime = runtime_for(slow_org, folder, settings=settings, read_strategy="targeted")
    frozen: dict[str, list[int]] = {}

    def seen(endpoint: str, status: int) -> None:  # called in the worker thread, as each answer arrives
        frozen.setdefault(endpoint, []).append(gc.get_freeze_count())

    runtime.client().stats.listeners.append(seen)
    plan = runtime.plan().plan
    assert gc.get_freeze_count() == 0  # thawed between phases
    result = runtime.apply(plan)
    assert gc.get_freeze_count() == 0  # and after: the service's next tick collects as usual
    assert len(result.results) == 2 * 30 and all(r.outcome.value == "applied" for r in result.results)
    paced = ("POST /api/v2/users/search", "GET /api/v2/users", "PATCH /api/v2/users/{id}", "DELETE /api/v2/tokens/{id}")
    for endpoint in paced:
        assert frozen[endpoint] and min(frozen[endpoint]) > 0, endpoint  # every batched read and every write


def test_the_frozen_heap_nests_and_thaws_once() -> None:
    with collector.frozen():
        outer = gc.get_freeze_count()
        with collector.frozen():
            pass
        assert gc.get_freeze_count() >= outer > 0  # the inner block did not thaw the outer one's heap
    assert gc.get_freeze_count() == 0


def test_the_read_pool_grows_when_the_measured_latency_needs_more_workers() -> None:
    # The first pool of a run is sized on ASSUMED_LATENCY (0.5 s), before any answer. At 2 s per
    # request it must grow to rate x latency (with the margin), not stay at its first size.
    settings = Settings(requests_per_minute=600)  # 10 a second, less the headroom
    session = ApiSession(connection_from_env({**ENV, "GENESYSCLOUD_API_URL": "http://127.0.0.1:9"}), settings)
    rate = session.pacer.rate
    first, grown = workers_for(rate, ASSUMED_LATENCY, 64), workers_for(rate, 2.0, 64)
    assert (first, grown) == (12, 34)
    gate = threading.Semaphore(0)
    lock = threading.Condition()
    running = 0

    def work(item: int) -> int:
        nonlocal running
        with lock:
            running += 1
            lock.notify_all()
        gate.acquire()
        with lock:
            running -= 1
        return item * 2

    def wait_for(n: int) -> bool:
        with lock:
            return lock.wait_for(lambda: running == n, timeout=10)

    results: list[int] = []
    reader = threading.Thread(target=lambda: results.extend(run_all(session, work, list(range(60)))))
    reader.start()
    try:
        assert wait_for(first)
        session.pacer.release({}, sent=time.monotonic() - 2.0)  # an answer after 2 s
        gate.release()  # one item ends: its thread sizes the pool again
        assert wait_for(grown), f"{running} at once"
    finally:
        gate.release(60)
        reader.join(timeout=10)
        session.close()
    assert results == [i * 2 for i in range(60)]


def test_a_failing_item_stops_the_pool_and_is_raised_after_the_running_ones_end() -> None:
    session = ApiSession(connection_from_env({**ENV, "GENESYSCLOUD_API_URL": "http://127.0.0.1:9"}), Settings())
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 3:
            raise Unreachable("no answer")
        return item

    try:
        with pytest.raises(Unreachable):
            run_all(session, work, list(range(500)))
    finally:
        session.close()
    assert len(started) < 500  # the queue stopped
