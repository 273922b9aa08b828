"""When Genesys is unreachable, say so once and stop (issue 15 §3).

A plan that cannot reach Genesys is one error naming the URL and the cause,
not one ``user.read_failed`` per user. An apply whose API dies midway stops
starting new users after ``Settings.unreachable_after`` connection failures in
a row, reports the rest ``skipped`` (Genesys unreachable), and its journal
still owes the revoke of a user whose PATCH may have landed. Retries sleep
through an injected no-op, so these tests take no waiting time.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.model import Action
from reconciler.core.results import UNREACHABLE, Outcome, not_started
from reconciler.core.settings import Settings
from reconciler.errors import Unreachable
from reconciler.genesys.transport import transport_cause
from tests.conftest import SandboxHandle
from tests.faultsuite import make_leavers

FAST = Settings(concurrency=4, requests_per_minute=1_000_000)


class Outage(httpx.BaseTransport):
    """The road to the sandbox, until the API dies: after ``after`` PATCHes, the next ones (those in
    flight) land but their answers are lost, and from then on every connection to the API is refused
    (login still works)."""

    def __init__(self, after: int | None) -> None:
        self.inner = httpx.HTTPTransport()
        self.after = after
        self.patches = 0
        self.down = after == 0
        self.sent_while_down: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        api = request.url.path.startswith("/api/")
        if self.down and api:
            self.sent_while_down.append(f"{request.method} {request.url.path}")
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        response = self.inner.handle_request(request)
        if request.method == "PATCH":
            self.patches += 1
            if self.after is not None and self.patches > self.after:
                response.read()
                response.close()
                self.down = True
                raise httpx.RemoteProtocolError("Server disconnected without sending a response", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: nothing listens there


def test_a_plan_that_cannot_reach_the_api_is_one_error_naming_url_and_cause(
    sandbox: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    leavers = make_leavers(sandbox, tmp_path / "desired", 150)  # two batches of ids, several searches
    outage = Outage(after=0)
    one_at_a_time = Settings(concurrency=1, requests_per_minute=1_000_000)
    runtime = runtime_for(sandbox, leavers.folder, transport=outage, sleep=lambda s: None, settings=one_at_a_time)
    with pytest.raises(Unreachable) as caught:
        runtime.plan()
    message = str(caught.value)
    assert f"cannot reach Genesys Cloud at {sandbox.sandbox.base_url}: connection refused" in message
    # The first request's retries, then stop: never one attempt (or one error) per batch or per user.
    assert len(outage.sent_while_down) == FAST.retry_attempts


def test_the_cli_says_it_once_in_every_format(cli: Any, desired: Path, sandbox: SandboxHandle) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_API_URL": f"http://127.0.0.1:{dead_port()}"}
    text = cli("plan", str(desired), env=env)
    assert text.code == 1 and text.out == ""
    (line,) = [x for x in text.err.splitlines() if x.startswith("reconciler: error:")]  # one error, once
    assert line.startswith("reconciler: error: Genesys Cloud API: cannot reach the login endpoint http://127.0.0.1:")
    assert line.endswith("connection refused (nothing listens there)")
    assert "read_failed" not in text.err
    doc = json.loads(cli("apply", str(desired), "--auto-approve", "--format", "json", env=env).out)
    assert [p["code"] for p in doc["problems"]] == ["genesys.unreachable"]


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "DNS lookup failed"),
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "DNS lookup failed"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "TLS failed"),
        (httpx.ConnectTimeout("timed out"), "timed out connecting"),
        (httpx.ReadTimeout("timed out"), "timed out waiting for the answer"),
        (httpx.RemoteProtocolError("Server disconnected"), "dropped before an answer"),
    ],
)
def test_each_cause_is_named_in_words(error: httpx.TransportError, cause: str) -> None:
    assert cause in transport_cause(error)


def test_apply_stops_starting_users_when_the_api_dies_and_the_journal_still_owes_the_revoke(
    sandbox: SandboxHandle, tmp_path: Path, runtime_for: Any
) -> None:
    leavers = make_leavers(sandbox, tmp_path / "desired", 40)
    outage = Outage(after=6)
    runtime = runtime_for(sandbox, leavers.folder, transport=outage, sleep=lambda s: None, settings=FAST)
    plan = runtime.plan().plan
    users = {c.user_id for c in plan.changes}
    assert len(users) == 40

    result = runtime.apply(plan)

    assert result.unreachable and not result.ok
    skipped = [r for r in result.results if r.message == not_started(UNREACHABLE)]
    started = {r.change.user_id for r in result.results if r.message != not_started(UNREACHABLE)}
    # Bounded: the users that had connected, plus at most `unreachable_after` failures and the workers in flight.
    assert len(started) <= outage.after + FAST.unreachable_after + FAST.concurrency  # type: ignore[operator]
    assert {r.outcome for r in skipped} == {Outcome.SKIPPED} and len(skipped) >= 40 * 2 - 2 * len(started)
    # Bounded in calls too: each failing change spends one retry budget, no more.
    failed = [r for r in result.results if r.outcome is Outcome.FAILED]
    assert len(outage.sent_while_down) <= len(failed) * FAST.retry_attempts
    assert all("cannot reach Genesys Cloud at" in (r.error or {}).get("message", "") for r in failed)

    # The PATCH whose answer was lost did land; the next plan (Genesys back) still owes its revoke.
    lost = [
        r.change.user_id
        for r in failed
        if r.change.action is Action.DEACTIVATE and sandbox.user(r.change.user_id)["state"] == "inactive"
    ]
    assert 1 <= len(lost) <= FAST.concurrency  # the PATCHes in flight when the API died
    again = runtime_for(sandbox, leavers.folder, settings=FAST).plan().plan
    for user_id in lost:
        owed = [c for c in again.changes if c.user_id == user_id]
        assert [c.action for c in owed] == [Action.REVOKE_TOKENS] and "resume" in (owed[0].detail or "")
