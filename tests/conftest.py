"""Shared fixtures: a sandbox over a real loopback socket, a fixed clock, CLI runners.

No test talks to anything but 127.0.0.1. ``NO_NETWORK_GUARD`` below makes any
attempt to resolve or connect to another host fail loudly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from reconciler.cli.main import main as cli_main
from reconciler.engine import Runtime
from reconciler.genesys.config import connection_from_env
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DESIRED = ROOT / "desired_state"
FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# The calendar-independence check: time-sensitive scenarios also run with Genesys's clock this far
# ahead of FIXED_NOW (and of the host's clock, which CLI subprocesses read).
A_YEAR_AHEAD = timedelta(days=400)


def sandbox_wall(start: datetime = FIXED_NOW) -> Callable[[], float]:
    """Genesys's clock for a test sandbox: starts at ``start`` and ticks in real time.

    Never the host's calendar: the generated org's token times follow this clock, so a scenario
    sees the same token ages on whatever day the suite runs.
    """
    origin, began = start.timestamp(), time.monotonic()
    return lambda: origin + (time.monotonic() - began)


# Ids of the sandbox's well-known users (deterministic from seed 7; see sandbox/org.py WELL_KNOWN).
JANE = "6513270e-269e-4d37-b2a7-4de452e6b438"
JOHN = "9531985d-5d9d-49f8-9818-e811892f902b"
PRIYA = "6f03675a-1600-435a-8999-50d836f675cc"
CARLOS = "8d116ece-1738-47d9-bd9c-172411e20b8f"
BREAKGLASS = "1fb17c23-90c1-42cf-93ac-94af0f21ddb6"
ALEX_1 = "f29d0da9-953f-48f1-a09f-76b5a170b338"
ALEX_2 = "3898d190-f9eb-4acc-8cb1-e29c658cda14"
MORGAN_DELETED = "4a23d596-2217-4ead-9bc4-96cb8e81973e"
MORGAN = "92276658-1e27-41c0-8a6a-63ec24ede6a4"
ROBIN = "2e44158b-ae97-4a94-90ed-a82f8f6d0558"
TAYLOR = "301850c5-a38f-4547-923a-736994e3bf91"
DANA = "0f4205b4-907a-40c3-9012-f037b64ce422"


_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in ("127.0.0.1", "localhost", "::1", None):
        raise RuntimeError(f"tests may only talk to loopback, not {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


@dataclass
class SandboxHandle:
    sandbox: Sandbox
    http: httpx.Client

    @property
    def env(self) -> dict[str, str]:
        return self.sandbox.env

    @property
    def app(self) -> Any:
        return self.sandbox.app

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self.sandbox.app.log[since:])

    def api_requests(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.requests(since) if r["path"].startswith("/api/")]

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.api_requests(since) if r["method"] in ("PATCH", "PUT", "DELETE")]

    def user(self, user_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/_sandbox/users/{user_id}").json())

    def set_state(self, user_id: str, state: str) -> None:
        self.http.post(f"/_sandbox/users/{user_id}/state", json={"state": state}).raise_for_status()

    def set_state_as(self, user_id: str, state: str, *, repeat: int = 1, **actor: Any) -> None:
        """Another actor changes the user: as=user={"id", "name"} (an admin) or client=ID (an OAuth client)."""
        body = {"state": state, "as": actor, "repeat": repeat}
        self.http.post(f"/_sandbox/users/{user_id}/state", json=body).raise_for_status()

    def audit(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/audit").json())

    def add_client(self, client_id: str, name: str, *permissions: str, secret: str = "") -> None:
        body = {"client_id": client_id, "name": name, "secret": secret, "permissions": list(permissions)}
        self.http.post("/_sandbox/clients", json=body).raise_for_status()

    def login(self, user_id: str, **body: Any) -> None:
        self.http.post(f"/_sandbox/users/{user_id}/login", json=body).raise_for_status()

    def clear_faults(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        self.http.post("/_sandbox/clock", json={"advance": seconds}).raise_for_status()

    def faults(self, **changes: Any) -> dict[str, Any]:
        resp = self.http.put("/_sandbox/faults", json=changes)
        resp.raise_for_status()
        return dict(resp.json())

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        """Every user's (state, version, live tokens): to prove unmanaged users were not touched."""
        with self.sandbox.org.lock:
            return {u.id: (u.state, u.version, u.live_tokens) for u in self.sandbox.org.users.values()}


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    org = Org.generate(200, wall=sandbox_wall())
    with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
        yield SandboxHandle(sb, http)


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    """A private copy of the shipped desired_state/ (tests may edit it)."""
    target = tmp_path / "desired_state"
    shutil.copytree(SHIPPED_DESIRED, target)
    return target


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def runtime_for(tmp_path: Path) -> Iterator[Any]:
    """Build engine Runtimes against a sandbox with a fixed clock and a private ledger (closed afterwards)."""
    made: list[Runtime] = []

    def make(handle: SandboxHandle, desired_dir: Path, **kw: Any) -> Runtime:
        kw.setdefault("ledger_path", tmp_path / "ledger.jsonl")
        kw.setdefault("clock", lambda: FIXED_NOW)
        runtime = Runtime(desired_dir=desired_dir, connection=connection_from_env(handle.env), **kw)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the real CLI in-process (same argument parser, same engine, real HTTP to the sandbox)."""

    def run(*argv: str, env: dict[str, str] | None = None) -> CliResult:
        for name in [k for k in os.environ if k.startswith("GENESYSCLOUD_")]:
            monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = cli_main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_process(
    *argv: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> CliResult:
    """Run `python -m reconciler` as a real subprocess."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        input=stdin,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def start_process(*argv: str, env: dict[str, str], **popen: Any) -> subprocess.Popen[Any]:
    """Start `python -m reconciler` as a real subprocess, for tests that signal or kill it midway."""
    return subprocess.Popen([sys.executable, "-m", "reconciler", *argv], env={**os.environ, **env}, **popen)


# --- respx: the client's exact requests against a mocked eu-west-1 org -------------------------

LOGIN = "https://login.mypurecloud.ie"


class FakeTime:
    """An injected clock: sleeping advances it instantly, and every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mock() -> Iterator[Any]:
    """respx for the eu-west-1 org of tests/test_client.py's ENV, its token endpoint answered."""
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{LOGIN}/oauth/token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "tok-1", "token_type": "bearer", "expires_in": 86400}
            )
        )
        yield router
