"""The pure planner, case by case: each rule on both sides (acted on, and refused or left alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core.model import Action, LiveUser, MissingUsers, Policy
from reconciler.core.plan import build
from tests.planning import desired, entry, history, live, simulate_apply

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
C = "cccccccc-0000-4000-8000-000000000003"


def user(
    uid: str = A,
    email: str = "jane@example.com",
    state: str = "active",
    version: int | None = 7,
    token_hours_ago: float | None = None,
    name: str = "Jane",
) -> LiveUser:
    issued = None if token_hours_ago is None else NOW - timedelta(hours=token_hours_ago)
    return LiveUser(id=uid, email=email, name=name, state=state, version=version, last_token_issued=issued)


def codes(plan: object) -> list[str]:
    return [p.code for p in plan.problems]  # type: ignore[attr-defined]


def test_active_user_declared_inactive_is_deactivated_then_revoked() -> None:
    plan = build(desired(entry("Jane@Example.com", reason="Left", ticket="HR-1")), live(user()), now=NOW)
    assert [(c.action, c.before, c.after, c.version) for c in plan.changes] == [
        (Action.DEACTIVATE, "active", "inactive", 7),
        (Action.REVOKE_TOKENS, "inactive", "inactive", 7),
    ]
    first = plan.changes[0]
    assert (first.email, first.reason, first.ticket, first.source) == (
        "Jane@Example.com",
        "Left",
        "HR-1",
        "users.yaml:1",
    )
    assert not plan.problems and plan.unchanged == 0


def test_already_inactive_without_recent_token_is_unchanged() -> None:
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive", token_hours_ago=72)), now=NOW)
    assert plan.changes == () and plan.unchanged == 1


def test_explicit_reactivation_warns_about_roles() -> None:
    plan = build(desired(entry("jane@example.com", state="active")), live(user(state="inactive")), now=NOW)
    assert [c.action for c in plan.changes] == [Action.REACTIVATE]
    assert codes(plan) == ["user.reactivation_roles"]
    assert not plan.has_errors


def test_active_user_declared_active_is_unchanged() -> None:
    plan = build(desired(entry("jane@example.com", state="active")), live(user()), now=NOW)
    assert plan.changes == () and plan.unchanged == 1


def test_unknown_email_is_an_error_or_a_warning_by_policy() -> None:
    state = live(user())
    strict = build(desired(entry("ghost@example.com")), state, now=NOW)
    assert codes(strict) == ["user.not_found"] and strict.has_errors
    lenient = build(desired(entry("ghost@example.com"), policy=Policy(missing_users=MissingUsers.WARN)), state, now=NOW)
    assert codes(lenient) == ["user.not_found"] and not lenient.has_errors


def test_ambiguous_email_is_an_error_listing_every_match_and_nothing_is_picked() -> None:
    plan = build(
        desired(entry("alex@example.com")),
        live(user(A, "alex@example.com", name="Alex One"), user(B, "Alex@example.com", name="Alex Two")),
        now=NOW,
    )
    assert plan.changes == ()
    (problem,) = plan.problems
    assert problem.code == "user.ambiguous_email" and A in problem.message and B in problem.message


def test_a_deleted_namesake_does_not_make_an_email_ambiguous() -> None:
    plan = build(
        desired(entry("morgan@example.com")),
        live(user(A, "morgan@example.com", state="deleted"), user(B, "morgan@example.com")),
        now=NOW,
    )
    assert {c.user_id for c in plan.changes} == {B}


def test_deleted_user_is_reported_never_restored() -> None:
    deleted = live(user(state="deleted"))
    as_inactive = build(desired(entry("jane@example.com")), deleted, now=NOW)
    assert as_inactive.changes == () and codes(as_inactive) == ["user.deleted"] and not as_inactive.has_errors
    as_active = build(desired(entry("jane@example.com", state="active")), deleted, now=NOW)
    assert as_active.changes == () and as_active.has_errors


def test_pinned_id_whose_email_moved_is_an_identity_error() -> None:
    plan = build(desired(entry("jane@example.com", id=A)), live(user(A, email="someone.else@example.com")), now=NOW)
    assert plan.changes == () and codes(plan) == ["user.identity_mismatch"]


def test_pinned_id_and_email_that_agree_resolve() -> None:
    plan = build(desired(entry("JANE@example.com", id=A)), live(user(A)), now=NOW)
    assert [c.action for c in plan.changes] == [Action.DEACTIVATE, Action.REVOKE_TOKENS]


def test_unknown_id_is_an_error() -> None:
    plan = build(desired(entry(id=C)), live(user()), now=NOW)
    assert codes(plan) == ["user.not_found"] and plan.has_errors


def test_two_entries_for_one_user_are_an_error() -> None:
    plan = build(desired(entry("jane@example.com", line=1), entry(id=A, line=5)), live(user()), now=NOW)
    assert "user.declared_twice" in codes(plan)
    assert any("users.yaml:1" in p.message for p in plan.problems)


def test_unknown_live_state_is_never_guessed() -> None:
    plan = build(desired(entry("jane@example.com")), live(user(state="outdated_sdk_version")), now=NOW)
    assert plan.changes == () and codes(plan) == ["user.unknown_state"]


def test_missing_version_blocks_the_write() -> None:
    plan = build(desired(entry("jane@example.com")), live(user(version=None)), now=NOW)
    assert plan.changes == () and codes(plan) == ["user.missing_version"]


def test_a_user_that_could_not_be_read_is_an_error_not_a_guess() -> None:
    plan = build(desired(entry("jane@example.com")), live(read_errors={"email:jane@example.com": "503"}), now=NOW)
    assert codes(plan) == ["user.read_failed"]


def test_protected_users_are_refused_by_email_or_id() -> None:
    for protected in ("JANE@example.com", A):
        plan = build(
            desired(entry("jane@example.com"), policy=Policy(protected=frozenset({protected.lower()}))),
            live(user()),
            now=NOW,
        )
        assert plan.changes == () and codes(plan) == ["user.protected"]


def test_protected_user_already_in_desired_state_is_fine() -> None:
    plan = build(
        desired(entry("jane@example.com"), policy=Policy(protected=frozenset({"jane@example.com"}))),
        live(user(state="inactive")),
        now=NOW,
    )
    assert not plan.problems and plan.unchanged == 1


def test_budget_counts_state_changes_not_revocations() -> None:
    users = [user(f"{i:08d}-0000-4000-8000-000000000000", f"u{i}@example.com") for i in range(3)]
    entries = [entry(f"u{i}@example.com", line=i) for i in range(3)]
    at_limit = build(desired(*entries, policy=Policy(max_changes=3)), live(*users), now=NOW)
    assert not at_limit.has_errors and at_limit.state_changes == 3 and len(at_limit.changes) == 6
    over = build(desired(*entries, policy=Policy(max_changes=2)), live(*users), now=NOW)
    assert codes(over) == ["plan.over_budget"] and over.has_errors
    assert "3 state changes exceed the budget (max_changes is 2)" in over.problems[0].message
    lifted = build(desired(*entries, policy=Policy(max_changes=2)), live(*users), now=NOW, allow_mass_change=True)
    assert not lifted.has_errors and codes(lifted) == ["plan.over_budget"]


def test_percentage_budget_uses_the_active_user_count() -> None:
    users = [user(f"{i:08d}-0000-4000-8000-000000000000", f"u{i}@example.com") for i in range(3)]
    entries = [entry(f"u{i}@example.com", line=i) for i in range(3)]
    policy = Policy(max_changes=100, max_changes_percent=5)
    over = build(desired(*entries, policy=policy), live(*users, active_users=40), now=NOW)
    assert "5% of 40 active users = 2" in over.problems[0].message
    ok = build(desired(*entries, policy=policy), live(*users, active_users=60), now=NOW)
    assert not ok.has_errors


def test_future_effective_entry_is_pending_then_due() -> None:
    later = NOW + timedelta(days=3)
    state = live(user())
    before = build(desired(entry("jane@example.com", effective=later)), state, now=NOW)
    assert before.changes == () and [p.effective for p in before.pending] == [later]
    due = build(desired(entry("jane@example.com", effective=later)), state, now=later)
    assert [c.action for c in due.changes] == [Action.DEACTIVATE, Action.REVOKE_TOKENS] and not due.pending


def test_targets_limit_the_plan_and_an_unmatched_target_is_an_error() -> None:
    state = live(user(A, "jane@example.com"), user(B, "john@example.com"))
    both = desired(entry("jane@example.com", line=1), entry("john@example.com", line=2))
    only_john = build(both, state, now=NOW, targets=("JOHN@example.com",))
    assert {c.user_id for c in only_john.changes} == {B} and only_john.managed == 1
    missing = build(both, state, now=NOW, targets=("nobody@example.com",))
    assert codes(missing) == ["target.no_match"]


# --- tokens: the ledger-aware revocation rule --------------------------------------------


def test_inactive_user_with_a_recent_token_and_no_ledger_gets_a_revoke() -> None:
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive", token_hours_ago=5)), now=NOW)
    assert [c.action for c in plan.changes] == [Action.REVOKE_TOKENS]
    assert "may still be valid" in (plan.changes[0].detail or "")


def test_a_user_read_without_last_token_issued_is_unknown_and_gets_a_revoke() -> None:
    # Genesys resolves expansions on a best-effort basis: no lastTokenIssued is "unknown", never "no token".
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive")), now=NOW)
    assert [c.action for c in plan.changes] == [Action.REVOKE_TOKENS]
    assert "did not return when this user's last token was issued" in (plan.changes[0].detail or "")
    assert not plan.problems


def test_an_unknown_token_after_a_recorded_revoke_needs_nothing() -> None:
    records = [
        {"time": "2026-11-20T10:00:00.000Z", "event": "outcome", "action": "revoke_tokens", "user_id": A,
         "outcome": "applied", "attempt": "r"},
    ]  # fmt: skip
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive")), now=NOW, history=history(records))
    assert plan.changes == () and plan.unchanged == 1


def test_an_unknown_token_never_makes_a_protected_user_an_error() -> None:
    protected = Policy(protected=frozenset({"jane@example.com"}))
    unknown = build(desired(entry("jane@example.com"), policy=protected), live(user(state="inactive")), now=NOW)
    assert unknown.changes == () and not unknown.problems and unknown.unchanged == 1
    recent = build(
        desired(entry("jane@example.com"), policy=protected), live(user(state="inactive", token_hours_ago=1)), now=NOW
    )
    assert codes(recent) == ["user.protected"]  # a token known to be live still is


def test_after_a_recorded_revoke_the_same_token_needs_nothing() -> None:
    state = live(user(token_hours_ago=5))
    first = build(desired(entry("jane@example.com")), state, now=NOW)
    after, records = simulate_apply(first, state, NOW)
    second = build(desired(entry("jane@example.com")), after, now=NOW, history=history(records))
    assert second.changes == () and not second.problems


def test_interrupted_run_owes_a_revoke() -> None:
    records = [{"time": "2026-11-28T11:00:00.000Z", "event": "intent", "action": "deactivate", "user_id": A}]
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive")), now=NOW, history=history(records))
    assert [c.action for c in plan.changes] == [Action.REVOKE_TOKENS]
    assert "interrupted" in (plan.changes[0].detail or "")


def test_a_token_issued_after_our_revoke_is_a_loud_warning_and_is_revoked() -> None:
    records = [
        {
            "time": "2026-11-28T08:00:00.000Z",
            "event": "outcome",
            "outcome": "applied",
            "action": "deactivate",
            "user_id": A,
        },
        {
            "time": "2026-11-28T08:00:01.000Z",
            "event": "outcome",
            "outcome": "applied",
            "action": "revoke_tokens",
            "user_id": A,
            "server_time": "2026-11-28T08:00:01.000Z",
        },
    ]
    plan = build(
        desired(entry("jane@example.com")),
        live(user(state="inactive", token_hours_ago=1)),
        now=NOW,
        history=history(records),
    )
    assert [c.action for c in plan.changes] == [Action.REVOKE_TOKENS]
    assert codes(plan) == ["user.token_after_deactivation"]
    assert "should have been impossible" in plan.problems[0].message


def test_drift_is_explained_with_when_and_which_commit() -> None:
    records = [
        {
            "time": "2026-11-20T08:00:00.000Z",
            "event": "outcome",
            "outcome": "applied",
            "action": "deactivate",
            "user_id": A,
            "commit": "0123456789abcdef",
        }
    ]
    plan = build(desired(entry("jane@example.com")), live(user()), now=NOW, history=history(records))
    assert plan.changes[0].detail == (
        "drift: reconciler set this user inactive at 2026-11-20 08:00:00Z from commit 0123456789ab; now active; "
        "changed by an unknown actor"
    )


@pytest.mark.parametrize("hours", [47.9, 48.1])
def test_token_window_is_the_48_hour_maximum_lifetime(hours: float) -> None:
    plan = build(desired(entry("jane@example.com")), live(user(state="inactive", token_hours_ago=hours)), now=NOW)
    assert bool(plan.changes) is (hours < 48)


def test_users_not_named_are_never_in_the_plan() -> None:
    plan = build(desired(entry("jane@example.com")), live(user(A), user(B, "other@example.com")), now=NOW)
    assert {c.user_id for c in plan.changes} == {A}
