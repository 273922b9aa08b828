"""Did the write land? Decided by Genesys's answer, per status class, and audited as it happened.

Each case drives the real client (respx serves the exact answers) through apply, and checks
whether the user's sessions were ended: only a definite 4xx refusal proves that the PATCH
changed nothing; after any other answer the revoke is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from reconciler.core.history import History
from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan
from reconciler.core.results import Outcome
from reconciler.core.settings import Settings
from reconciler.genesys.apply import execute
from reconciler.ledger import Ledger, read_ledger
from tests.conftest import LOGIN, FakeTime
from tests.test_client import API, USER_ID, error_body, make_client, user

PATCH_URL = f"{API}/api/v2/users/{USER_ID}"
REVOKE_URL = f"{API}/api/v2/tokens/{USER_ID}"
# Transient failures are retried; two attempts keep the cases short (the backoff is on a fake clock).
SETTINGS = Settings(retry_attempts=2)


@pytest.fixture
def mock() -> Any:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{LOGIN}/oauth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "tok", "expires_in": 86400})
        )
        router.delete(REVOKE_URL).mock(return_value=httpx.Response(204))
        yield router


def leaver_plan() -> Plan:
    c: dict[str, Any] = {"user_id": USER_ID, "email": "jane.doe@example.com", "name": "Jane", "version": 12}
    return Plan(
        changes=(
            Change(Action.DEACTIVATE, before="active", after="inactive", source="a.yaml:1", **c),
            Change(Action.REVOKE_TOKENS, before="inactive", after="inactive", source="a.yaml:1", **c),
        )
    )


def apply_with(mock: Any, *answers: Any, ledger: Ledger | None = None) -> tuple[list[Outcome], bool]:
    """Apply the leaver plan with the PATCH answered by ``answers`` (one per attempt)."""
    mock.patch(PATCH_URL).mock(side_effect=list(answers))
    result = execute(leaver_plan(), make_client(FakeTime(), SETTINGS), settings=SETTINGS, ledger=ledger)
    revoked = any(call.request.method == "DELETE" for call in mock.calls)
    return [r.outcome for r in result.results], revoked


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=error_body(status, f"status.{status}", "no"))


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([answer(500)], id="500"),
        pytest.param([answer(501)], id="501"),
        pytest.param([answer(505)], id="505"),
        pytest.param([answer(302, Location="https://elsewhere.example/")], id="302"),
        pytest.param([answer(307, Location="https://elsewhere.example/")], id="307"),
        pytest.param([answer(503), answer(503)], id="503-retried-out"),
        pytest.param([httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow")], id="timeout"),
        pytest.param([httpx.RemoteProtocolError("dropped"), httpx.RemoteProtocolError("dropped")], id="dropped"),
        pytest.param([httpx.Response(200, text="<html>gateway</html>")], id="2xx-not-json"),
        pytest.param([httpx.Response(200, json=["not", "a", "user"])], id="2xx-not-a-user"),
        # The first attempt got no answer, so it may have landed, whatever the retry is told.
        pytest.param([httpx.ReadTimeout("slow"), answer(403)], id="timeout-then-403"),
        pytest.param([answer(502), answer(404)], id="502-then-404"),
    ],
)
def test_after_any_answer_but_a_refusal_the_sessions_are_ended(mock: Any, answers: list[Any]) -> None:
    outcomes, revoked = apply_with(mock, *answers)
    assert outcomes == [Outcome.FAILED, Outcome.APPLIED]
    assert revoked


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429])
def test_only_a_definite_4xx_refusal_skips_the_revoke(mock: Any, status: int) -> None:
    # 401 twice is an auth error after one token refresh; 429 is retried until the budget is spent.
    answers = [answer(status, **({"Retry-After": "0"} if status == 429 else {}))] * 25
    outcomes, revoked = apply_with(mock, *answers)
    assert outcomes == [Outcome.FAILED, Outcome.SKIPPED]
    assert not revoked


def conflict() -> httpx.Response:
    return httpx.Response(409, json=error_body(409, "general.conflict", "version conflict"))


def test_a_patch_whose_answer_was_lost_but_which_landed_is_audited_applied(mock: Any, tmp_path: Path) -> None:
    # The first PATCH lands but its answer is lost; the retry is refused as stale; the re-read shows it landed.
    mock.get(f"{API}/api/v2/users").mock(
        return_value=httpx.Response(200, json={"entities": [user("inactive", 13)], "pageCount": 1})
    )
    with Ledger(tmp_path / "ledger.jsonl") as ledger:
        outcomes, revoked = apply_with(mock, httpx.ReadTimeout("lost"), conflict(), ledger=ledger)
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED] and revoked
    records = read_ledger(tmp_path / "ledger.jsonl").records
    deactivation = next(r for r in records if r["event"] == "outcome" and r["action"] == "deactivate")
    assert deactivation["outcome"] == "applied"
    assert "the first answer was lost" in deactivation["message"]
    assert History.from_records(records).users[USER_ID].last_set_state == "inactive"


def test_a_conflict_without_a_lost_answer_is_someone_else_and_skipped(mock: Any) -> None:
    mock.get(f"{API}/api/v2/users").mock(
        return_value=httpx.Response(200, json={"entities": [user("inactive", 13)], "pageCount": 1})
    )
    outcomes, revoked = apply_with(mock, conflict())
    assert outcomes == [Outcome.SKIPPED, Outcome.APPLIED] and revoked


def test_a_refused_deactivation_records_no_deactivation_time(mock: Any, tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger(path) as ledger:
        apply_with(mock, answer(403), ledger=ledger)
    history = History.from_records(read_ledger(path).records).users[USER_ID]
    # Nothing changed: a later login is no "impossible login", and no revoke is owed.
    assert history.last_deactivated is None and not history.revoke_owed and history.last_set_state is None


def test_a_deactivation_that_may_have_landed_keeps_its_time_and_its_owed_revoke(tmp_path: Path) -> None:
    records = [
        {"event": "intent", "action": "deactivate", "user_id": USER_ID, "time": "2026-11-28T12:00:00.000Z"},
        {"event": "outcome", "action": "deactivate", "user_id": USER_ID, "time": "2026-11-28T12:00:01.000Z",
         "outcome": "failed", "refused": False},
    ]  # fmt: skip
    history = History.from_records(records).users[USER_ID]
    assert history.last_deactivated is not None and history.revoke_owed
