"""Drift: users whose live state differs from what this tool set or what the files declare. Pure.

Two bases, so that a lost ledger never reads as "no drift":

* ``ledger``: the ledger's history and fresh reads of those users; one Drift
  per user reactivated (or deactivated) behind our back, with when and from
  which commit we set it;
* ``desired``: the plan's state changes; a user the files declare inactive
  (or active) who is not, and whom the ledger does not already explain.

The CLI reads; this module only compares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from reconciler.core.attribution import UNKNOWN, ChangedBy
from reconciler.core.history import History
from reconciler.core.model import Action, LiveUser
from reconciler.core.plan import Plan

__all__ = ["Drift", "Drifted", "drifted", "find_drift", "from_plan"]


@dataclass(frozen=True, slots=True)
class Drifted:
    """A user to ask the audit trail about: moved from ``set_state`` (set at ``since``) to ``live_state``.

    ``since`` is on Genesys's clock when the ledger has it (the Date of the answer to our
    write), like the audit trail's eventDate it is compared with; else on ours.
    """

    user_id: str
    since: datetime | None
    set_state: str
    live_state: str


def drifted(history: History, live: Mapping[str, LiveUser]) -> list[Drifted]:
    """Users Genesys returned in a state other than the one this tool last set (only those it returned)."""
    out: list[Drifted] = []
    for user_id, user in live.items():
        h = history.users.get(user_id)
        if h is None or h.last_set_state is None or h.last_set_state == user.state:
            continue
        out.append(Drifted(user_id, h.last_set_genesys or h.last_set_at, h.last_set_state, user.state))
    out.sort(key=lambda d: d.user_id)
    return out


@dataclass(frozen=True, slots=True)
class Drift:
    user_id: str
    email: str | None
    name: str | None
    set_state: str
    set_at: datetime | None
    commit: str | None
    live_state: str  # "missing" when Genesys no longer returns the user
    declared: bool | None  # still named in the desired state (None: the files could not be read)
    changed_by: ChangedBy | None = None  # who moved it, from Genesys's audit trail
    basis: str = "ledger"  # "ledger": moved from what we set; "desired": differs from what the files declare
    source: str | None = None  # the file and line that declare it (basis "desired")


def find_drift(
    history: History,
    live: Mapping[str, LiveUser],
    declared: Collection[str] | None,
    attribution: Mapping[str, ChangedBy] | None = None,
) -> list[Drift]:
    attribution = attribution or {}
    drifts: list[Drift] = []
    for user_id, h in sorted(history.users.items()):
        if h.last_set_state is None:
            continue
        user = live.get(user_id)
        now = user.state if user is not None else "missing"
        if now == h.last_set_state:
            continue
        drifts.append(
            Drift(
                user_id=user_id,
                email=user.email if user else None,
                name=user.name if user else None,
                set_state=h.last_set_state,
                set_at=h.last_set_at,
                commit=h.last_set_commit,
                live_state=now,
                declared=None if declared is None else user_id in declared,
                changed_by=attribution.get(user_id, UNKNOWN),
            )
        )
    return drifts


def from_plan(plan: Plan, already: Collection[str]) -> list[Drift]:
    """Users whose live state differs from the declared one, other than those in ``already``."""
    drifts: list[Drift] = []
    for c in plan.changes:
        if c.action is Action.REVOKE_TOKENS or c.user_id in already:
            continue
        drifts.append(
            Drift(
                user_id=c.user_id,
                email=c.email,
                name=c.name,
                set_state=c.after,
                set_at=None,
                commit=None,
                live_state=c.before,
                declared=True,
                basis="desired",
                source=c.source,
            )
        )
    return drifts
