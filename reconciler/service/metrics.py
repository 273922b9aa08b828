"""Prometheus metrics and the HTTP routes of `reconciler run`: /metrics, /healthz, /readyz, /status.

Effectful (serves HTTP). A private registry (not the process-global one), so
tests and several services in one process never share counters.
``/metrics`` is prometheus-client's own WSGI app; the health routes are a thin
WSGI layer in front of it. It is served by wsgiref with a bounded pool of
worker threads and a socket timeout, so a slow or hostile scraper can hold
neither a thread for ever nor make the process start threads without end.

    /metrics  the exposition format
    /healthz  liveness: 200 while a tick finished within two periods, else 503
    /readyz   readiness: 200 when the last tick did not fail, else 503 (why in the body)
    /status   the service status as JSON (last tick, backoff, held users), always 200
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

__all__ = ["HealthServer", "Metrics"]

WORKERS = 4  # probes and scrapes are tiny; four at once is plenty, and a flood queues instead of forking
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request or read the answer


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ticks = Counter("reconciler_ticks", "Reconciliation ticks run, by outcome", ["outcome"], registry=r)
        self.changes = Counter(
            "reconciler_changes",
            "Planned changes by action and outcome (applied, failed, skipped)",
            ["action", "outcome"],
            registry=r,
        )
        self.drift = Counter("reconciler_drift_detected", "Users found drifted from the desired state", registry=r)
        self.drift_by = Counter(
            "reconciler_drift_attributed",
            "Drift corrections by who had made the change (user, client, own, unknown)",
            ["kind"],
            registry=r,
        )
        self.held = Gauge("reconciler_held_users", "Users held for flapping in the last plan", registry=r)
        self.backoff = Gauge(
            "reconciler_backoff_seconds",
            "Seconds the service waits between ticks beyond its schedule (0: normal)",
            registry=r,
        )
        self.failures = Counter("reconciler_tick_failures", "Ticks that failed, by reason", ["reason"], registry=r)
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "Unix time of the last tick that ended without a failure",
            registry=r,
        )
        self.last_tick = Gauge("reconciler_last_tick_timestamp_seconds", "Unix time the last tick finished", registry=r)
        self.last_ok = Gauge(
            "reconciler_last_tick_success",
            "1 when the last tick ended without a failure, 0 when it failed (alert on 0)",
            registry=r,
        )
        self.api_requests = Counter(
            "reconciler_api_requests", "Genesys API requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.rate_limited = Counter("reconciler_api_rate_limited", "Genesys API answers 429 (rate limited)", registry=r)
        self.duration = Histogram(
            "reconciler_tick_duration_seconds",
            "Tick duration",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
            registry=r,
        )

    def record_api(self, endpoint: str, status: int) -> None:
        self.api_requests.labels(endpoint=endpoint, status=str(status)).inc()
        if status == 429:
            self.rate_limited.inc()


Check = Callable[[], tuple[bool, str]]
StartResponse = Callable[..., Any]


def routes(metrics: Metrics, live: Check, ready: Check, status: Callable[[], dict[str, Any]]) -> Any:
    """The WSGI app: the health routes, and prometheus-client's app for /metrics."""
    exposition = make_wsgi_app(metrics.registry)

    def text(start: StartResponse, ok: bool, body: str) -> Iterable[bytes]:
        data = (body + "\n").encode()
        start("200 OK" if ok else "503 Service Unavailable", _headers("text/plain; charset=utf-8", data))
        return [data]

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: Iterable[bytes] = exposition(environ, start)
            return result
        if path == "/healthz":
            return text(start, *live())
        if path == "/readyz":
            return text(start, *ready())
        if path == "/status":
            data = (json.dumps(status(), indent=2) + "\n").encode()
            start("200 OK", _headers("application/json", data))
            return [data]
        return _not_found(start)

    return app


def _headers(ctype: str, data: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", ctype), ("Content-Length", str(len(data)))]


def _not_found(start: StartResponse) -> Iterable[bytes]:
    data = b"not found: try /metrics, /healthz, /readyz or /status\n"
    start("404 Not Found", _headers("text/plain; charset=utf-8", data))
    return [data]


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT  # socket timeout for reading the request and writing the answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib signature
        """Probes every few seconds would flood the log; stay quiet."""


class _PooledServer(WSGIServer):
    """wsgiref's server, with each connection handled on a bounded pool instead of inline or a new thread."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], workers: int, timeout: float) -> None:
        # Before binding: a failed bind calls server_close(), which shuts the pool down.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metrics-http")
        super().__init__(address, type("_TimedHandler", (_Handler,), {"timeout": timeout}))

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except (OSError, ValueError):  # a client that hung up or timed out: nothing to answer
            pass
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=True, cancel_futures=True)


class _PooledServer6(_PooledServer):
    address_family = socket.AF_INET6


class HealthServer:
    """Serves the routes in a background thread. Raises OSError if the address cannot be bound."""

    def __init__(
        self,
        metrics: Metrics,
        live: Check,
        *,
        host: str,
        port: int,
        ready: Check | None = None,
        status: Callable[[], dict[str, Any]] | None = None,
        workers: int = WORKERS,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._server = (_PooledServer6 if ":" in host else _PooledServer)((host, port), workers, timeout)
        self._server.set_app(routes(metrics, live, ready or live, status or (lambda: {})))
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="metrics-http", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
