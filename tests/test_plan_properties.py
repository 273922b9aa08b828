"""Properties of the pure planner over any desired set and any live org (hypothesis).

* Applying the plan, then planning again, yields no changes (convergence).
* No user outside the desired set is ever in a plan.
* Every write carries the version it was read at; every deactivation is
  immediately followed by that user's token revoke.
* Protected, deleted and unknown-state users are never written.
* Planning is deterministic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.model import Action, DesiredEntry, LiveUser, Policy, UserState
from reconciler.core.plan import build
from reconciler.core.report import jsondoc
from tests.planning import desired, entry, history, live, simulate_apply

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
IDS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(12)]
EMAILS = [f"user{i}@example.com" for i in range(8)]
STATES = ["active", "inactive", "deleted", "suspended"]


@st.composite
def org(draw: st.DrawFn) -> list[LiveUser]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    users = []
    for uid in ids:
        email = draw(st.sampled_from(EMAILS))
        if draw(st.booleans()):
            email = email.upper()
        hours = draw(st.none() | st.floats(min_value=0, max_value=100))
        users.append(
            LiveUser(
                id=uid,
                email=email,
                name=uid[:4],
                state=draw(st.sampled_from(STATES)),
                version=draw(st.none() | st.integers(min_value=1, max_value=50))
                if draw(st.integers(0, 9)) == 0
                else draw(st.integers(min_value=1, max_value=50)),
                last_token_issued=None if hours is None else NOW - timedelta(hours=hours),
            )
        )
    return users


@st.composite
def entries(draw: st.DrawFn) -> list[DesiredEntry]:
    """Entries as the loader would accept them: no email or id declared twice."""
    chosen: list[DesiredEntry] = []
    used_emails: set[str] = set()
    used_ids: set[str] = set()
    for line in range(draw(st.integers(0, 10))):
        by = draw(st.sampled_from(["email", "id", "both"]))
        email = draw(st.sampled_from(EMAILS)) if by in ("email", "both") else None
        uid = draw(st.sampled_from(IDS)) if by in ("id", "both") else None
        if (email and email in used_emails) or (uid and uid in used_ids):
            continue
        used_emails.update([email] if email else [])
        used_ids.update([uid] if uid else [])
        effective = draw(st.none() | st.sampled_from([NOW - timedelta(days=1), NOW + timedelta(days=1)]))
        chosen.append(
            entry(
                email, id=uid, state=draw(st.sampled_from(["inactive", "active"])), line=line + 1, effective=effective
            )
        )
    return chosen


policies = st.builds(
    Policy,
    protected=st.frozensets(st.sampled_from(IDS[:3] + EMAILS[:2]), max_size=2),
    max_changes=st.sampled_from([0, 2, 1000]),
)


def managed_ids(users: list[LiveUser], wanted: list[DesiredEntry]) -> set[str]:
    ids = {e.id for e in wanted if e.id}
    emails = {e.email_key for e in wanted if e.email_key}
    return ids | {u.id for u in users if u.email and u.email.lower() in emails}


@settings(max_examples=400, deadline=None)
@given(users=org(), wanted=entries(), policy=policies, ledger_kept=st.booleans())
def test_apply_then_plan_again_is_empty(
    users: list[LiveUser], wanted: list[DesiredEntry], policy: Policy, ledger_kept: bool
) -> None:
    state = live(*users)
    want = desired(*wanted, policy=policy)
    first = build(want, state, now=NOW)
    after, records = simulate_apply(first, state, NOW)
    again = build(want, after, now=NOW + timedelta(seconds=1), history=history(records))
    assert again.changes == (), again.changes
    # Without the ledger the token rule re-revokes recent tokens (it cannot know); state never flips again.
    if not ledger_kept:
        blind = build(want, after, now=NOW + timedelta(seconds=1))
        assert all(c.action is Action.REVOKE_TOKENS for c in blind.changes)


@settings(max_examples=400, deadline=None)
@given(users=org(), wanted=entries(), policy=policies)
def test_only_declared_users_are_ever_written(
    users: list[LiveUser], wanted: list[DesiredEntry], policy: Policy
) -> None:
    plan = build(desired(*wanted, policy=policy), live(*users), now=NOW)
    assert {c.user_id for c in plan.changes} <= managed_ids(users, wanted)


@settings(max_examples=400, deadline=None)
@given(users=org(), wanted=entries(), policy=policies)
def test_every_write_is_safe_and_well_formed(users: list[LiveUser], wanted: list[DesiredEntry], policy: Policy) -> None:
    by_id = {u.id: u for u in users}
    plan = build(desired(*wanted, policy=policy), live(*users), now=NOW)
    for index, change in enumerate(plan.changes):
        user = by_id[change.user_id]
        assert change.version == user.version
        assert user.known_state in (UserState.ACTIVE, UserState.INACTIVE)
        assert not policy.is_protected(user.id, user.email)
        if change.action is Action.DEACTIVATE:
            follower = plan.changes[index + 1]
            assert (follower.action, follower.user_id) == (Action.REVOKE_TOKENS, change.user_id)
        if change.action is Action.REVOKE_TOKENS:
            assert change.after == "inactive"
    assert plan == build(desired(*wanted, policy=policy), live(*users), now=NOW)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
def test_the_json_rendering_reads_back_as_the_same_document(doc: dict[str, Any]) -> None:
    """jsondoc.dumps lays documents out by hand (envelope indented, one list item per line)."""
    text = jsondoc.dumps(doc)
    assert json.loads(text) == doc and text.endswith("\n")
