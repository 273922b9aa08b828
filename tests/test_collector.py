"""The cyclic collector is paused around bulk stages and always comes back as it was (core/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reconciler.engine
import reconciler.genesys.live
from reconciler.core import collector
from reconciler.core.report import jsondoc
from tests.conftest import SandboxHandle


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_nests_and_restores_what_it_found() -> None:
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not end the outer one
    assert gc.isenabled()
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()  # never switched on by us when it was off


def test_the_collector_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_reading_planning_and_rendering_run_paused(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real_read = reconciler.genesys.live.read_live

    def read_live(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_read(*args, **kwargs)

    monkeypatch.setattr(reconciler.engine, "read_live", read_live)
    plan = runtime_for(sandbox, desired).plan().plan
    assert seen == [False] and gc.isenabled()
    real_dict = jsondoc.change_dict

    def change_dict(change: Any) -> Any:
        seen.append(gc.isenabled())
        return real_dict(change)

    monkeypatch.setattr(jsondoc, "change_dict", change_dict)
    jsondoc.dumps(jsondoc.plan_document(plan))
    assert plan.changes and set(seen) == {False} and gc.isenabled()


def test_a_read_leaves_no_response_body_for_the_cyclic_collector(sandbox: SandboxHandle, runtime_for: Any) -> None:
    """httpx binds a response's stream back to the response; the session breaks that cycle, so with
    the collector off (one-shot verbs) every body is freed when its answer is read, not at exit."""
    import weakref

    import httpx

    runtime = runtime_for(sandbox, Path("."))
    session = runtime.client().session
    bodies: list[weakref.ref[httpx.Response]] = []
    real_request = session.http.request

    def request(*args: Any, **kwargs: Any) -> httpx.Response:
        response = real_request(*args, **kwargs)
        if "/api/v2/" in str(response.request.url):  # the token's answer is read once an hour
            bodies.append(weakref.ref(response))
        return response

    session.http.request = request  # type: ignore[method-assign]
    gc.disable()
    try:
        for _ in range(3):
            session.request("GET", "/api/v2/users", params={"pageSize": 25, "pageNumber": 1, "state": "any"})
        assert bodies and all(ref() is None for ref in bodies)
    finally:
        gc.enable()
