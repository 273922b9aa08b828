"""Edge cases found in review: each one once crashed a run, stalled it, or could mislead it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from reconciler.core.desired import load_desired
from reconciler.core.model import Action, LiveUser, Policy
from reconciler.core.plan import Change, Plan, build
from reconciler.core.results import Outcome
from reconciler.core.settings import Settings
from reconciler.errors import DesiredStateError, LedgerError, RateLimited, UnexpectedResponse
from reconciler.genesys.apply import execute
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.live import parse_user, read_live
from reconciler.genesys.pacer import Pacer
from reconciler.genesys.session import ApiResponse, ApiSession
from reconciler.service.notify import Notifier
from tests.conftest import JANE, JOHN, LOGIN, FakeTime, SandboxHandle, write
from tests.planning import desired, entry, live
from tests.test_client import API, ENV, USER_ID, make_client

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def mock() -> Any:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{LOGIN}/oauth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "tok", "expires_in": 86400})
        )
        yield router


# --- pacing --------------------------------------------------------------------------


def test_a_retry_after_beyond_the_ceiling_does_not_stall_the_next_request(mock: Any) -> None:
    fake = FakeTime()
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}, json={"code": "too.many.requests.retry.after"}),
            httpx.Response(200, json={}),
        ]
    )
    client = make_client(fake)
    with pytest.raises(RateLimited):
        client.whoami()
    client.whoami()
    assert route.call_count == 2 and sum(fake.sleeps) < 5


@pytest.mark.parametrize("value", ["1e999", "nan", "-inf"])
def test_a_non_finite_retry_after_is_treated_as_missing(mock: Any, value: str) -> None:
    fake = FakeTime()
    mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": value}, json={}), httpx.Response(200, json={})]
    )
    make_client(fake).whoami()
    assert sum(fake.sleeps) < 5


def test_a_worker_asleep_when_a_429_arrives_waits_out_the_pause_too() -> None:
    fake = FakeTime()
    pacer = Pacer(60, clock=fake.clock, sleep=lambda s: None)
    started = fake.now
    calls: list[float] = []

    def sleep(seconds: float) -> None:  # while this worker sleeps, another is told Retry-After: 5
        calls.append(seconds)
        fake.now += seconds
        if len(calls) == 1:
            pacer.rate_limited_for(5.0)

    pacer._sleep = sleep
    pacer.acquire()  # first slot: now
    pacer.acquire()  # second slot: ~1 s later, but a 429 arrives meanwhile
    assert fake.now >= started + 5.0


def test_an_unreadable_body_is_an_unexpected_response(mock: Any) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(side_effect=httpx.DecodingError("bad gzip"))
    with pytest.raises(UnexpectedResponse, match="unreadable answer"):
        make_client(FakeTime()).whoami()


# --- apply: failures that may or may not have landed ---------------------------------------


class StubClient:
    """A GenesysClient stand-in whose PATCH fails the way a test asks."""

    def __init__(self, patch_error: Exception) -> None:
        self.patch_error = patch_error
        self.revoked: list[str] = []

    def set_state(self, user_id: str, state: str, version: int) -> Any:
        raise self.patch_error

    def revoke_tokens(self, user_id: str) -> Any:
        self.revoked.append(user_id)
        return type("R", (), {"server_time": None, "correlation_id": None})()

    def users_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        return []

    def workers(self, tasks: int) -> int:
        return 1


def plan_for_one() -> Plan:
    c = {"user_id": USER_ID, "email": "j@example.com", "name": "J", "version": 3, "source": "a.yaml:1"}
    return Plan(
        changes=(
            Change(Action.DEACTIVATE, before="active", after="inactive", **c),  # type: ignore[arg-type]
            Change(Action.REVOKE_TOKENS, before="inactive", after="inactive", **c),
        )
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "revoked"),
    [
        (RuntimeError("a bug"), True),
        (__import__("reconciler.errors", fromlist=["ServerError"]).ServerError("gateway", status=503), True),
        (__import__("reconciler.errors", fromlist=["Forbidden"]).Forbidden("no", status=403), False),
    ],
)
def test_the_revoke_is_skipped_only_when_the_deactivation_was_refused(error: Exception, revoked: bool) -> None:
    client = StubClient(error)
    result = execute(plan_for_one(), client, settings=Settings())  # type: ignore[arg-type]
    assert result.results[0].outcome is Outcome.FAILED
    assert (client.revoked == [USER_ID]) is revoked
    assert result.results[1].outcome is (Outcome.APPLIED if revoked else Outcome.SKIPPED)


def test_a_ledger_that_cannot_be_written_is_reported_but_never_stops_the_lock_out() -> None:
    class BrokenLedger:
        def append(self, record: dict[str, Any]) -> None:
            raise LedgerError("disk full")

    client = StubClient(RuntimeError("unused"))
    answer = ApiResponse(200, {"state": "inactive", "version": 4}, {}, "c")
    client.set_state = lambda *a: answer  # type: ignore[method-assign]
    result = execute(plan_for_one(), client, settings=Settings(), ledger=BrokenLedger())  # type: ignore[arg-type]
    assert [r.outcome for r in result.results] == [Outcome.APPLIED, Outcome.APPLIED]
    assert result.ledger_failures == 4 and not result.ok


# --- planning ---------------------------------------------------------------------------


def test_target_still_sees_a_user_declared_twice_outside_it() -> None:
    a = "aaaaaaaa-0000-4000-8000-000000000001"
    user = LiveUser(id=a, email="jane@example.com", name="Jane", state="inactive", version=3)
    both = desired(entry("jane@example.com", line=1), entry(id=a, state="active", line=9))
    plan = build(both, live(user), now=NOW, targets=(a,))
    assert "user.declared_twice" in [p.code for p in plan.problems] and plan.has_errors


def test_a_naive_token_date_is_read_as_utc() -> None:
    user = parse_user(
        {"id": "x", "state": "inactive", "version": 1, "lastTokenIssued": {"dateIssued": "2026-11-28T11:00:00"}}
    )
    assert user.last_token_issued == datetime(2026, 11, 28, 11, tzinfo=UTC)
    build(desired(entry(id="x")), live(user), now=NOW)  # comparable with aware times: no TypeError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"version": 7, "state": "active", "email": "a@x.io", "name": "A"}, (7, "active", "a@x.io", "A")),
        ({"version": "152"}, (152, "", None, None)),  # search has been seen to send a string
        ({"version": True, "state": 3, "email": ["a"], "name": {"n": 1}}, (None, "", None, None)),
        ({"version": 7.0, "state": None}, (None, "", None, None)),
        ({"version": "-1"}, (None, "", None, None)),
    ],
)
def test_a_user_field_of_the_wrong_type_is_unknown_never_coerced(
    raw: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    user = parse_user({"id": "x", **raw})
    assert (user.version, user.state, user.email, user.name) == expected


@pytest.mark.parametrize("raw", [{}, {"id": ""}, {"id": 5}])
def test_a_user_without_an_id_spoils_the_answer(raw: dict[str, Any]) -> None:
    with pytest.raises(UnexpectedResponse):
        parse_user(raw)


def test_an_unreadable_active_count_is_budget_unknown_not_a_crash(mock: Any) -> None:
    mock.get(f"{API}/api/v2/users", params={"state": "active"}).mock(return_value=httpx.Response(403, json={}))
    mock.get(f"{API}/api/v2/users", params={"state": "any"}).mock(
        return_value=httpx.Response(
            200, json={"entities": [{"id": USER_ID, "email": "j@example.com", "state": "active", "version": 2}]}
        )
    )
    client = GenesysClient(ApiSession(connection_from_env(ENV), Settings(requests_per_minute=1e6)))
    state = read_live(client, [entry(id=USER_ID)], settings=client.session.settings, need_active_count=True)
    client.close()
    assert state.active_users is None
    plan = build(desired(entry(id=USER_ID), policy=Policy(max_changes=10, max_changes_percent=5)), state, now=NOW)
    assert "plan.budget_unknown" in [p.code for p in plan.problems]


# --- files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "users:\n  - <<: {state: inactive}\n    email: a@example.com\n",
            "a.yaml:2: YAML merge keys (<<) are not allowed",
        ),
        ("users:\n  - email: !secret a@example.com\n", "a.yaml:2: unsupported YAML tag !secret"),
        ("users: !!python/object:os.system {}\n", "unsupported YAML tag tag:yaml.org,2002:python/object:os.system"),
        ("policy:\n  max_changes_percent: .nan\n", "a.yaml:2: policy.max_changes_percent must be a number above 0"),
        (
            'users:\n  - email: "a@example.com\\n"\n',
            "a.yaml:2: users[0].email: 'a@example.com\\n' is not a valid email",
        ),
    ],
)
def test_odd_yaml_is_a_located_finding_not_a_crash(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "a.yaml", text)
    write(tmp_path, "b.yaml", "users:\n  - email: not-an-email\n")  # still reported alongside
    with pytest.raises(DesiredStateError) as info:
        load_desired(tmp_path)
    found = [str(f) for f in info.value.findings]
    assert any(message in f for f in found), found
    assert any("b.yaml:2" in f for f in found)


# --- saved plans that were edited by hand --------------------------------------------------


def test_a_hand_edited_plan_cannot_touch_an_undeclared_user(
    cli: Any, sandbox: SandboxHandle, desired_copy: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli("plan", str(desired_copy), "--out", str(plan_file), env=sandbox.env).code == 0
    doc = json.loads(plan_file.read_text())
    taylor = sandbox.user("301850c5-a38f-4547-923a-736994e3bf91")
    doc["changes"].append(
        {**doc["changes"][0], "id": taylor["id"], "email": taylor["email"], "version": taylor["version"]}
    )
    plan_file.write_text(json.dumps(doc))
    result = cli("apply", str(plan_file), env=sandbox.env)
    assert result.code == 1 and "do not call for: deactivate taylor.green@example.com" in result.err
    assert sandbox.writes() == []


def test_a_hand_edited_plan_cannot_set_another_state(
    cli: Any, sandbox: SandboxHandle, desired_copy: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli("plan", str(desired_copy), "--out", str(plan_file), env=sandbox.env).code == 0
    doc = json.loads(plan_file.read_text())
    doc["changes"][0]["after"] = "deleted"
    plan_file.write_text(json.dumps(doc))
    result = cli("apply", str(plan_file), env=sandbox.env)
    assert result.code == 1 and "do not call for: deactivate Jane.Doe@example.com" in result.err
    assert sandbox.writes() == [] and sandbox.user(JANE)["state"] == "active" and sandbox.user(JOHN)["version"] == 4


@pytest.fixture
def desired_copy(desired: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(desired.parent)
    return Path("desired_state")


# --- notifications ------------------------------------------------------------------------


def test_a_webhook_url_with_a_trailing_newline_works_and_a_broken_one_never_raises() -> None:
    seen: list[str] = []
    transport = httpx.MockTransport(lambda request: (seen.append(str(request.url)), httpx.Response(204))[1])
    good = Notifier("https://hooks.example.invalid/x\n", transport=transport)
    good.send("tick_failed", "x")
    assert seen == ["https://hooks.example.invalid/x"] and good.sent == 1
    broken = Notifier("ht!tp://\x00", transport=transport)
    broken.send("tick_failed", "x")
    assert broken.failed == 1
    good.close()
    broken.close()


def test_run_refuses_a_webhook_that_is_not_a_url(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    result = cli("run", str(desired), "--once", "--notify-webhook", "hooks.slack.com/x", env=sandbox.env)
    assert result.code == 1 and "must be an http(s) URL" in result.err
