"""The sandbox over real HTTP on loopback.

Adapts SandboxApp to ``http.server`` (HTTP/1.1, keep-alive, one thread per
connection), with the test API (testapi.py) answering under ``/_sandbox/``.
``Sandbox`` runs it in a background thread for the demo and the tests;
``reconciler sandbox`` runs it in the foreground. With a state file, the
org survives restarts (saved at most twice a second, and on close).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.sandbox.app import SandboxApp
from reconciler.sandbox.auth import ALL_PERMISSIONS, Client
from reconciler.sandbox.faults import Faults, RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.testapi import TestApi
from reconciler.sandbox.wire import Request, Response

__all__ = ["SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "Sandbox"]

SANDBOX_CLIENT_ID = "reconciler-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret-not-for-production"  # noqa: S105  # a local fake org's credential


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        req = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        resp = self.server.answer(req)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if resp.body and self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header follows the org's clock, so tests can move Genesys's time."""
        return super().date_time_string(self.server.app.org.wall() if timestamp is None else timestamp)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib signature
        """Silence the per-request stderr line; the app keeps its own request log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxApp
    test_api: TestApi

    def answer(self, req: Request) -> Response:
        """The test API under /_sandbox/ (not Genesys: no auth, no faults, not logged); Genesys otherwise."""
        if req.path.startswith("/_sandbox/"):
            return self.test_api.handle(req)
        return self.app.handle(req)


class Sandbox:
    """A running sandbox: ``base_url``, ``app`` (for in-process inspection), ``close()``."""

    def __init__(
        self,
        org: Org | None = None,
        *,
        users: int = 500,
        seed: int = 7,
        port: int = 0,
        host: str = "127.0.0.1",
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        state_file: str | os.PathLike[str] | None = None,
        search_lag: float = 0.0,
    ) -> None:
        self.state_file = Path(state_file) if state_file else None
        if org is None and self.state_file is not None and self.state_file.exists():
            org = Org.from_json(json.loads(self.state_file.read_text(encoding="utf-8")), search_lag=search_lag)
        self.org = org or Org.generate(users, seed=seed, search_lag=search_lag)
        self.app = SandboxApp(
            self.org,
            clients=[Client(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, ALL_PERMISSIONS)],
            rate_limit=rate_limit,
            faults=faults,
        )
        self._server = _Server((host, port), _Handler)
        self._server.app = self.app
        self._server.test_api = TestApi(self.app)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://{host}:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment a reconciler process needs to talk to this sandbox."""
        return {
            "GENESYSCLOUD_OAUTHCLIENT_ID": SANDBOX_CLIENT_ID,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": SANDBOX_CLIENT_SECRET,
            "GENESYSCLOUD_REGION": "us-east-1",
            "GENESYSCLOUD_API_URL": self.base_url,
        }

    def start(self) -> Sandbox:
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
        )
        serve.start()
        self._threads.append(serve)
        if self.state_file is not None:
            saver = threading.Thread(target=self._save_loop, name="sandbox-save", daemon=True)
            saver.start()
            self._threads.append(saver)
        return self

    def _save_loop(self) -> None:
        while not self._stop.wait(0.5):
            if self.org.dirty and self.state_file is not None:
                self.org.save(self.state_file)

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        if self.state_file is not None and self.org.dirty:
            self.org.save(self.state_file)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
