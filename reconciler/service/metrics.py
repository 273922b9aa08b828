"""Prometheus metrics and the /healthz, /status and /metrics endpoints of `reconciler run`.

/healthz is liveness (is the scheduler ticking?); /status is a JSON document
for monitoring (backoff, held users) that never fails liveness.

A private registry (not the process-global one), so tests and several
services in one process never share counters. The HTTP server is stdlib
``http.server`` because it must serve two paths; prometheus-client renders
the exposition format.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["HealthServer", "Metrics"]


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

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Headers and body go out in separate writes; with Nagle on, the second waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # http.server's naming
        if self.path.split("?")[0] == "/metrics":
            body, status, ctype = self.server.metrics.render(), 200, CONTENT_TYPE_LATEST
        elif self.path.split("?")[0] == "/status" and self.server.status is not None:
            body = (json.dumps(self.server.status(), indent=2) + "\n").encode()
            status, ctype = 200, "application/json"
        elif self.path.split("?")[0] == "/healthz":
            healthy, detail = self.server.health()
            body, status, ctype = (detail + "\n").encode(), 200 if healthy else 503, "text/plain; charset=utf-8"
        else:
            body, status, ctype = b"not found\n", 404, "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib signature
        """Probes every few seconds would flood the log; stay quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    metrics: Metrics
    health: Callable[[], tuple[bool, str]]
    status: Callable[[], dict[str, Any]] | None


class HealthServer:
    """Serves /metrics, /healthz and /status in a background thread."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], tuple[bool, str]],
        *,
        host: str,
        port: int,
        status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.metrics = metrics
        self._server.health = health
        self._server.status = status
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
