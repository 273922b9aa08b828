"""Reason codes and flapping holds in the pure core: loading, planning, rendering, saved plans."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.attribution import UNKNOWN, Actor, ChangedBy
from reconciler.core.desired import load_desired
from reconciler.core.flapping import corrections_within, hold
from reconciler.core.model import Action, LiveUser, Policy
from reconciler.core.plan import build
from reconciler.core.report import jsondoc, markdown, text
from reconciler.core.saved import differences, plan_from_document
from reconciler.errors import DesiredStateError
from tests.conftest import write
from tests.planning import desired, entry, history, live

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
IDP = ChangedBy("client", None, Actor("5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", "Okta"), NOW - timedelta(minutes=5))


def user(uid: str = A, email: str = "jane@example.com", state: str = "active", version: int = 7) -> LiveUser:
    return LiveUser(id=uid, email=email, name="Jane", state=state, version=version)


def findings(folder: Path) -> list[str]:
    with pytest.raises(DesiredStateError) as info:
        load_desired(folder)
    return [str(f) for f in info.value.findings]


# --- loading -------------------------------------------------------------------------------


def test_reason_codes_load_with_the_policy_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        "users.yaml",
        "users:\n  - email: a@example.com\n    reason_code: Voluntary\n  - email: b@example.com\n"
        "policy:\n  default_reason_code: Unknown\n  flapping:\n    max_corrections: 2\n    window: 90m\n",
    )
    state = load_desired(tmp_path)
    assert [e.reason_code for e in state.entries] == ["Voluntary", None]
    assert state.policy.default_reason_code == "Unknown"
    assert (state.policy.flapping_max_corrections, state.policy.flapping_window) == (2, timedelta(minutes=90))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "users:\n  - email: a@example.com\n    reason_code: voluntary\n",
            "users.yaml:3: users[0].reason_code: 'voluntary' is not one of: Voluntary, Seasonal, Leave, "
            "Performance, Conduct, Unknown",
        ),
        (
            "users:\n  - email: a@example.com\n    state: active\n    reason_code: Leave\n",
            "users.yaml:2: users[0]: a reactivation (state: active) takes no reason_code",
        ),
        (
            "policy:\n  default_reason_code: Fired\n",
            "users.yaml:2: policy.default_reason_code: 'Fired' is not one of: Voluntary, Seasonal, Leave, "
            "Performance, Conduct, Unknown",
        ),
        (
            "policy:\n  flapping:\n    window: 1 day\n",
            "users.yaml:3: policy.flapping.window: '1 day' is not a window: minutes, hours or days, e.g. 90m, 24h, 7d",
        ),
        ("policy:\n  flapping:\n    max_corrections: 0\n", "users.yaml:3: policy.flapping.max_corrections:"),
    ],
)
def test_bad_reason_codes_and_flapping_settings_are_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "users.yaml", text)
    found = findings(tmp_path)
    assert len(found) == 1 and expected in found[0], found


# --- planning ------------------------------------------------------------------------------


def test_a_deactivation_carries_its_reason_code_or_the_policy_default() -> None:
    entries = (entry("jane@example.com", reason_code="Conduct"), entry("bob@example.com", line=2))
    both = live(user(), user(B, "bob@example.com"))
    plan = build(desired(*entries), both, now=NOW)
    assert [(c.action, c.reason_code) for c in plan.changes] == [
        (Action.DEACTIVATE, "Conduct"),
        (Action.REVOKE_TOKENS, None),
        (Action.DEACTIVATE, None),
        (Action.REVOKE_TOKENS, None),
    ]
    policy = Policy(max_changes=100, default_reason_code="Unknown")
    defaulted = build(desired(*entries, policy=policy), both, now=NOW)
    assert [c.reason_code for c in defaulted.changes if c.action is Action.DEACTIVATE] == ["Conduct", "Unknown"]


def test_a_reactivation_never_carries_the_default_reason_code() -> None:
    policy = Policy(max_changes=100, default_reason_code="Unknown")
    plan = build(
        desired(entry("jane@example.com", state="active"), policy=policy), live(user(state="inactive")), now=NOW
    )
    assert [(c.action, c.reason_code) for c in plan.changes] == [(Action.REACTIVATE, None)]


def test_the_reason_code_is_rendered_everywhere() -> None:
    plan = build(desired(entry("jane@example.com", reason_code="Seasonal")), live(user()), now=NOW)
    assert "reason code: Seasonal" in text.render_plan(plan)
    assert "reason code Seasonal" in markdown.render_plan(plan)
    doc = jsondoc.plan_document(plan)
    assert [c["reason_code"] for c in doc["changes"]] == ["Seasonal", None]


def test_a_saved_plan_keeps_its_reason_code_and_refuses_an_edited_one() -> None:
    state = desired(entry("jane@example.com", reason_code="Leave"))
    plan = build(state, live(user()), now=NOW)
    doc = jsondoc.plan_document(plan)
    again = plan_from_document(doc)
    assert again.changes == plan.changes
    assert differences(again, plan) == []
    doc["changes"][0]["reason_code"] = "Conduct"
    edited = plan_from_document(doc)
    (reason,) = differences(edited, plan)  # the re-plan (here: the same build) still says Leave
    assert "do not call for: deactivate jane@example.com" in reason and reason.endswith("with reason code Conduct")
    doc["changes"][0]["reason_code"] = "Fired"
    with pytest.raises(ValueError, match="reason_code"):
        plan_from_document(doc)


# --- drift, attribution and holds -------------------------------------------------------------


def corrections(n: int, *, hours_apart: float = 1.0, user_id: str = A) -> list[dict[str, Any]]:
    """The ledger after we deactivated the user and then corrected its drift n times."""
    records: list[dict[str, Any]] = []
    for i in range(n + 1):
        when = (NOW - timedelta(hours=hours_apart * (n - i) + 0.5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record = {"time": when, "event": "outcome", "outcome": "applied", "action": "deactivate", "user_id": user_id}
        if i:  # the first deactivation corrected nothing
            record["changed_by"] = IDP.as_dict()
        records.append(record)
    return records


def test_drift_carries_who_did_it_in_detail_and_json() -> None:
    plan = build(
        desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(0)), attribution={A: IDP}
    )
    change = plan.changes[0]
    assert change.changed_by == IDP
    assert "changed by OAuth client Okta (5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d) at 2026-11-28 11:55:00Z" in str(
        change.detail
    )
    assert jsondoc.plan_document(plan)["changes"][0]["changed_by"] == {
        "kind": "client",
        "user": None,
        "client": {"id": IDP.client.id, "name": "Okta"},  # type: ignore[union-attr]
        "at": "2026-11-28T11:55:00Z",
    }
    revoke = plan.changes[1]
    assert revoke.changed_by is None  # only the state change corrects drift


def test_drift_without_attribution_is_unknown_and_still_corrected() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(0)))
    assert plan.changes[0].changed_by is UNKNOWN and plan.changes[0].action is Action.DEACTIVATE


def test_a_first_deactivation_is_not_drift() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, attribution={A: IDP})
    assert plan.changes[0].changed_by is None and jsondoc.plan_document(plan)["changes"][0]["changed_by"] is None


def test_the_fourth_reactivation_in_a_day_is_held_and_the_others_are_planned() -> None:
    records = corrections(3) + corrections(3, user_id=B)[:1]  # A corrected 3 times; B only deactivated once
    state = desired(entry("jane@example.com"), entry("bob@example.com", line=2))
    both = live(user(), user(B, "bob@example.com"))
    plan = build(state, both, now=NOW, history=history(records), attribution={A: IDP})
    assert {c.user_id for c in plan.changes} == {B}
    assert [(h.user_id, h.corrections, h.changed_by) for h in plan.held] == [(A, 4, IDP)]
    (flapping,) = [p for p in plan.problems if p.code == "user.flapping"]
    assert flapping.severity == "warning" and not plan.has_errors
    assert "reactivated 4 times in 24h, last by OAuth client Okta" in flapping.message
    assert "another system is managing this user; fix its scope or remove the entry" in flapping.message
    assert jsondoc.plan_document(plan)["held"] == [
        {
            "id": A,
            "email": "jane@example.com",
            "corrections": 4,
            "window": "24h",
            "changed_by": IDP.as_dict(),
            "source": "users.yaml:1",
        }
    ]
    assert jsondoc.plan_document(plan)["summary"]["held"] == 1
    assert text.summary_line(plan).endswith("; 1 held.")
    assert "Held (another system" in text.render_plan(plan) and "**1** held" in markdown.render_plan(plan)


def test_a_saved_plan_keeps_its_held_users() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(3)))
    doc = jsondoc.plan_document(plan)
    assert doc["held"] and jsondoc.plan_document(plan_from_document(doc)) == doc


def test_three_corrections_are_not_yet_a_hold() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(2)))
    assert plan.held == () and plan.changes[0].action is Action.DEACTIVATE


def test_corrections_outside_the_window_lift_the_hold() -> None:
    spread = history(corrections(3, hours_apart=12))  # corrected 24.5 h, 12.5 h and 0.5 h ago
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=spread)
    assert plan.held == () and plan.changes[0].action is Action.DEACTIVATE
    tight = Policy(max_changes=100, flapping_max_corrections=2, flapping_window=timedelta(hours=13))
    assert len(build(desired(entry("jane@example.com"), policy=tight), live(user()), now=NOW, history=spread).held) == 1


@pytest.mark.parametrize("name", ["jane@example.com", "JANE@example.com", A])
def test_release_lifts_the_hold_for_one_plan(name: str) -> None:
    plan = build(
        desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(3)), release=(name,)
    )
    assert plan.held == () and plan.changes[0].action is Action.DEACTIVATE
    assert "hold released for this run" in str(plan.changes[0].detail)
    assert "release.no_match" not in [p.code for p in plan.problems]


def test_a_release_that_matches_no_held_user_is_a_warning() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, release=("nobody@example.com",))
    assert [(p.severity, p.code) for p in plan.problems] == [("warning", "release.no_match")]


def test_a_held_user_falls_back_to_the_last_known_actor() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(3)))
    assert plan.held[0].changed_by == replace(IDP, own=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=12),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=72),
)
def test_held_exactly_when_the_corrections_in_the_window_plus_this_one_exceed_the_limit(
    hours_ago: list[float], limit: int, window_hours: int
) -> None:
    times = [NOW - timedelta(hours=h) for h in hours_ago]
    window = timedelta(hours=window_hours)
    held = hold(
        user_id=A,
        email=None,
        name=None,
        source="x:1",
        live_state="active",
        corrections=times,
        changed_by=UNKNOWN,
        now=NOW,
        max_corrections=limit,
        window=window,
    )
    inside = sum(1 for h in hours_ago if 0 <= h < window_hours)
    assert corrections_within(times, NOW, window) == inside
    assert (held is not None) == (inside + 1 > limit)


def test_the_longest_window_the_schema_allows_holds_instead_of_crashing(tmp_path: Path) -> None:
    """window: 999999d passes the schema (up to six digits) and reaches back before year 1."""
    write(tmp_path, "users.yaml", "users:\n  - email: jane@example.com\npolicy:\n  flapping:\n    window: 999999d\n")
    state = load_desired(tmp_path)
    plan = build(state, live(user()), now=NOW, history=history(corrections(3)), attribution={A: IDP})
    assert [(h.user_id, h.corrections, h.window) for h in plan.held] == [(A, 4, timedelta(days=999999))]
    assert "reactivated 4 times in 999999d" in plan.held[0].message


def test_a_plan_whose_only_difference_is_a_held_user_does_not_claim_genesys_matches() -> None:
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(corrections(3)))
    assert plan.changes == () and len(plan.held) == 1
    for rendered in (text.render_plan(plan), markdown.render_plan(plan)):
        assert "matches the desired state" not in rendered
        assert "No changes to make, but the desired state is not met: 1 held" in rendered


def test_a_flapping_limit_the_history_cannot_count_to_is_refused(tmp_path: Path) -> None:
    """The fold keeps the last MAX_CORRECTIONS_KEPT corrections: a larger limit could never hold anyone."""
    from reconciler.core.desired import load_desired
    from reconciler.core.history import MAX_CORRECTIONS_KEPT
    from reconciler.errors import DesiredStateError

    folder = tmp_path / "d"
    folder.mkdir()
    body = "policy:\n  flapping:\n    max_corrections: {}\nusers:\n  - email: a@example.com\n"
    (folder / "p.yaml").write_text(body.format(MAX_CORRECTIONS_KEPT - 1))
    load_desired(folder)
    (folder / "p.yaml").write_text(body.format(MAX_CORRECTIONS_KEPT))
    with pytest.raises(DesiredStateError, match=r"p\.yaml:3"):
        load_desired(folder)
