"""The service's routes: liveness about the process, readiness and /status about the last tick.

A tick that fails on an invalid file must not make Kubernetes restart-loop a
pod (a restart cannot fix a file), so /healthz stays 200; /readyz turns 503
and /status and the metrics say why. The routes are prometheus-client's WSGI
app behind a bounded pool with a socket timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.settings import Settings
from reconciler.service.metrics import HealthServer, Metrics
from reconciler.service.runner import Schedule, Service
from tests.conftest import FIXED_NOW, SandboxHandle, write

FAST = Settings(requests_per_minute=100_000)


@pytest.fixture
def service(sandbox: SandboxHandle, desired: Path, runtime_for: Any) -> Service:
    runtime = runtime_for(sandbox, desired, settings=FAST, clock=lambda: FIXED_NOW)
    return Service(runtime, Schedule(every=60.0))


def serve(service: Service, **kw: Any) -> HealthServer:
    return HealthServer(
        service.metrics,
        service.health,
        ready=service.ready,
        status=service.status,
        host="127.0.0.1",
        port=0,
        **kw,
    ).start()


def test_a_failing_tick_turns_readiness_red_and_leaves_liveness_green(
    service: Service, desired: Path, sandbox: SandboxHandle
) -> None:
    server = serve(service)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(f"{base}/readyz").status_code == 503  # no tick yet: not ready
        bad = write(desired, "broken.yaml", "users:\n  - email: jane.doe@example.com\n    state: gone\n")
        assert service.tick().code == 1
        assert httpx.get(f"{base}/healthz").status_code == 200  # the process is fine: never restart-loop
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503 and "the last tick failed (invalid_files)" in ready.text
        status = httpx.get(f"{base}/status").json()
        assert (status["last_code"], status["last_reason"], status["ready"], status["live"]) == (
            1,
            "invalid_files",
            False,
            True,
        )
        assert "broken.yaml:3" in status["last_message"] and status["consecutive_failures"] == 1
        assert "reconciler_last_tick_success 0.0" in httpx.get(f"{base}/metrics").text
        bad.unlink()
        assert service.tick().code == 0
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/status").json()["consecutive_failures"] == 0
        assert "reconciler_last_tick_success 1.0" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.close()


def test_idle_clients_time_out_and_threads_stay_bounded(service: Service) -> None:
    server = serve(service, workers=2, timeout=0.5)
    idle = []
    try:
        for _ in range(6):  # more silent clients than workers
            sock = socket.create_connection(("127.0.0.1", server.port))
            idle.append(sock)
        started = time.monotonic()
        answer = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        assert answer.status_code == 200
        assert time.monotonic() - started < 8  # the idle ones were dropped after their timeout
        workers = [t for t in threading.enumerate() if t.name.startswith("metrics-http_")]
        assert len(workers) <= 2
    finally:
        for sock in idle:
            sock.close()
        server.close()


def test_a_busy_port_is_an_os_error_and_leaks_no_thread() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        before = threading.active_count()
        with pytest.raises(OSError, match="in use"):
            HealthServer(Metrics(), lambda: (True, "ok"), host="127.0.0.1", port=sock.getsockname()[1])
        assert threading.active_count() == before
