"""API call counts for small cases: a regression in the number of calls fails here, silently nowhere else.

The rule (see live.py): M managed users cost about M/100 batched GETs plus the
email searches they need (100 values a search), never a call per user; a full
cursor listing (U/500 pages) replaces them when it is cheaper, decided with
one count probe. Applying N deactivations costs exactly N PATCH + N revokes,
with no verification GET unless a write's answer was lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox.faults import RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import FakeTime, SandboxHandle, sandbox_wall, write
from tests.faultsuite import FAST


@pytest.fixture
def org5k() -> Iterator[SandboxHandle]:
    org = Org.generate(5_000, wall=sandbox_wall())
    with Sandbox(org, rate_limit=RateLimit(allowed=1_000_000, window=1)) as sb, httpx.Client(base_url=sb.base_url) as h:
        yield SandboxHandle(sb, h)


def actives(handle: SandboxHandle, n: int) -> list[Any]:
    with handle.sandbox.org.lock:
        users = list(handle.sandbox.org.users.values())[12:]
    return [u for u in users if u.state == "active" and u.email == u.email.lower()][:n]


def counts(handle: SandboxHandle, since: int = 0) -> dict[str, int]:
    from reconciler.endpoints import endpoint_name

    out: dict[str, int] = {}
    for r in handle.requests(since):
        key = endpoint_name(r["method"], r["path"])
        out[key] = out.get(key, 0) + 1
    return out


def leavers_file(folder: Path, lines: list[str], budget: int = 100_000) -> Path:
    write(folder, "leavers.yaml", f"policy:\n  max_changes: {budget}\nusers:\n" + "".join(lines))
    return folder


def test_small_plan_apply_noop(org5k: SandboxHandle, tmp_path: Path, runtime_for: Any) -> None:
    users = actives(org5k, 3)
    folder = leavers_file(tmp_path / "d", [f"  - email: {u.email}\n" for u in users])
    runtime = runtime_for(org5k, folder, settings=FAST)
    plan = runtime.plan().plan
    assert counts(org5k) == {"POST /oauth/token": 1, "POST /api/v2/users/search": 1, "GET /api/v2/users": 1}
    mark = len(org5k.requests())
    runtime.apply(plan)
    assert counts(org5k, mark) == {"PATCH /api/v2/users/{id}": 3, "DELETE /api/v2/tokens/{id}": 3}
    mark = len(org5k.requests())
    assert runtime.plan().plan.changes == ()
    assert counts(org5k, mark) == {"POST /api/v2/users/search": 1, "GET /api/v2/users": 1}  # no-op: no writes


def test_n_deactivations_cost_exactly_n_patches_and_n_revokes(
    org5k: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    users = actives(org5k, 250)
    folder = leavers_file(tmp_path / "d", [f"  - id: {u.id}\n" for u in users])
    runtime = runtime_for(org5k, folder, settings=FAST)
    plan = runtime.plan().plan
    assert counts(org5k) == {"POST /oauth/token": 1, "GET /api/v2/users": 3}  # 250 ids: 3 batches, no search
    mark = len(org5k.requests())
    runtime.apply(plan)
    assert counts(org5k, mark) == {"PATCH /api/v2/users/{id}": 250, "DELETE /api/v2/tokens/{id}": 250}


def test_emails_cost_a_search_per_100_and_a_get_per_100(org5k: SandboxHandle, tmp_path: Path, runtime_for: Any) -> None:
    users = actives(org5k, 300)
    folder = leavers_file(tmp_path / "d", [f"  - email: {u.email}\n" for u in users])
    runtime_for(org5k, folder, settings=FAST, read_strategy="targeted").plan()
    assert counts(org5k) == {"POST /oauth/token": 1, "POST /api/v2/users/search": 3, "GET /api/v2/users": 3}


def test_the_auto_strategy_probes_once_and_lists_only_when_cheaper(
    org5k: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    # The choice compares time; on an injected clock the latency measured is nil, so time is calls
    # (on the wall clock, one slow answer on a loaded machine could tip it).
    paced = replace(FAST, requests_per_minute=600)
    fake = FakeTime()
    timed = {"settings": paced, "monotonic": fake.clock, "sleep": fake.sleep}
    few = actives(org5k, 1_000)  # targeted: 10 searches + 10 GETs; listing: 1 probe + 10 pages
    folder = leavers_file(tmp_path / "a", [f"  - email: {u.email}\n" for u in few])
    assert runtime_for(org5k, folder, **timed).plan().live.strategy == "listing"
    assert counts(org5k) == {"POST /oauth/token": 1, "GET /api/v2/users": 1, "GET /api/v2/users/query": 10}
    mark = len(org5k.requests())
    some = actives(org5k, 150)  # targeted: 3 + 2 = 5 calls, under the probe threshold: no probe at all
    folder = leavers_file(tmp_path / "b", [f"  - email: {u.email}\n" for u in some])
    assert runtime_for(org5k, folder, **timed).plan().live.strategy == "targeted"
    assert counts(org5k, mark) == {"POST /oauth/token": 1, "POST /api/v2/users/search": 2, "GET /api/v2/users": 2}


def test_a_lost_answer_costs_one_retry_and_one_read_back(
    org5k: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    (user,) = actives(org5k, 1)
    folder = leavers_file(tmp_path / "d", [f"  - id: {user.id}\n"])
    runtime = runtime_for(org5k, folder, settings=FAST)
    plan = runtime.plan().plan
    org5k.faults(drop_after_write=1)  # the PATCH lands, its answer is lost
    mark = len(org5k.requests())
    result = runtime.apply(plan)
    # The first PATCH landed (its answer was lost): it is our write, audited as applied.
    assert [r.outcome.value for r in result.results] == ["applied", "applied"]
    assert counts(org5k, mark) == {
        "PATCH /api/v2/users/{id}": 2,
        "GET /api/v2/users": 1,
        "DELETE /api/v2/tokens/{id}": 1,
    }
