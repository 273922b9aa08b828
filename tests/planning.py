"""Helpers for pure planning tests: build DesiredState/LiveState by hand, and simulate an apply."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.core.history import History
from reconciler.core.instants import utc_iso
from reconciler.core.model import Action, DesiredEntry, DesiredState, LiveState, LiveUser, Policy, Source, UserState
from reconciler.core.plan import Plan


def entry(
    email: str | None = None, id: str | None = None, state: str = "inactive", line: int = 1, **kw: Any
) -> DesiredEntry:
    return DesiredEntry(email=email, id=id, state=UserState(state), source=Source("users.yaml", line), **kw)


def desired(*entries: DesiredEntry, policy: Policy | None = None) -> DesiredState:
    return DesiredState(
        root="desired_state", entries=tuple(entries), policy=policy or Policy(max_changes=10_000), digest="sha256:test"
    )


def live(*users: LiveUser, active_users: int | None = None, read_errors: dict[str, str] | None = None) -> LiveState:
    index: dict[str, list[str]] = {}
    for u in users:
        if u.email:
            index.setdefault(u.email.lower(), []).append(u.id)
    return LiveState(
        users={u.id: u for u in users},
        email_index={k: tuple(v) for k, v in index.items()},
        read_errors=read_errors or {},
        active_users=active_users,
    )


def simulate_apply(
    plan: Plan, state: LiveState, now: datetime, records: Iterable[dict[str, Any]] = ()
) -> tuple[LiveState, list[dict[str, Any]]]:
    """What a perfect apply would leave behind: new live users and the ledger records it would write."""
    users = dict(state.users)
    out = list(records)
    for change in plan.changes:
        user = users[change.user_id]
        stamp = utc_iso(now)
        base = {"time": stamp, "user_id": change.user_id, "action": change.action.value}
        out.append({**base, "event": "intent"})
        if change.action in (Action.DEACTIVATE, Action.REACTIVATE):
            users[change.user_id] = replace(user, state=change.after, version=(user.version or 0) + 1)
            out.append({**base, "event": "outcome", "outcome": "applied"})
        else:
            out.append({**base, "event": "outcome", "outcome": "applied", "server_time": stamp})
    return replace(state, users=users), out


def history(records: Iterable[dict[str, Any]]) -> History:
    return History.from_records(list(records))
