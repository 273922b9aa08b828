"""Who is left to propose: people already declared are skipped; dormancy is decided. Pure.

``skip_declared`` drops leavers the desired-state tree already names (by
email, case-insensitively) or protects. ``select_dormant`` turns one pass
over the org's active users into the dormant ones, sorted by how long they
have been dormant. Last activity is ``lastTokenIssued`` (SSO logins have no
``dateLastLogin``); Genesys resolves expansions "best effort", so a user read
without it is *unknown*, kept apart and never called "never".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.model import DesiredEntry, Policy
from reconciler.core.propose.hrcsv import Leaver

__all__ = ["Activity", "Dormancy", "DormantSelection", "Skip", "select_dormant", "skip_declared"]


@dataclass(frozen=True, slots=True)
class Skip:
    """Someone not proposed because the tree already covers them."""

    label: str  # the email as written, or the id
    why: str
    row: int | None = None  # the export's row, for CSV proposals
    protected: bool = False


def _declared(entries: Sequence[DesiredEntry]) -> tuple[dict[str, DesiredEntry], dict[str, DesiredEntry]]:
    by_email: dict[str, DesiredEntry] = {}
    by_id: dict[str, DesiredEntry] = {}
    for e in entries:
        if e.email_key:
            by_email.setdefault(e.email_key, e)
        if e.id:
            by_id.setdefault(e.id, e)
    return by_email, by_id


def skip_declared(
    leavers: Sequence[Leaver],
    entries: Sequence[DesiredEntry],
    policy: Policy,
    ids: Mapping[str, str] | None = None,
) -> tuple[list[Leaver], list[Skip]]:
    """Leavers the tree does not name yet, and why each other one was left out.

    ``ids`` (lower-cased email -> Genesys id, known after --check-org) also catches a person
    the tree declares by id only, or protects by id.
    """
    by_email, by_id = _declared(entries)
    ids = ids or {}
    kept: list[Leaver] = []
    skipped: list[Skip] = []
    for leaver in leavers:
        key = leaver.email.lower()
        user_id = ids.get(key)
        if key in by_email:
            skipped.append(Skip(leaver.email, f"already declared at {by_email[key].source}", leaver.row))
        elif user_id is not None and user_id in by_id:
            where = by_id[user_id].source
            skipped.append(Skip(leaver.email, f"already declared by id ({user_id}) at {where}", leaver.row))
        elif policy.is_protected(user_id, key):
            skipped.append(Skip(leaver.email, "protected by the policy", leaver.row, protected=True))
        else:
            kept.append(leaver)
    return kept, skipped


class Dormancy(StrEnum):
    DATED = "dated"  # lastTokenIssued came back with a date
    NEVER = "never"  # lastTokenIssued came back, and Genesys has no date for it
    UNKNOWN = "unknown"  # lastTokenIssued did not come back (best-effort expansion)


@dataclass(frozen=True, slots=True)
class Activity:
    """One active user's last activity, as one listing page reported it."""

    id: str
    email: str | None
    name: str | None
    department: str | None
    title: str | None
    dormancy: Dormancy
    last: datetime | None = None

    def idle(self, now: datetime) -> timedelta | None:
        return now - self.last if self.last is not None else None


@dataclass(frozen=True)
class DormantSelection:
    """The dormant users, longest dormant first, and what was left out (counts)."""

    dormant: tuple[Activity, ...]  # "never" first (no activity on record), then dated ones, oldest first
    unknown: tuple[Activity, ...]  # no lastTokenIssued returned: could not tell
    scanned: int
    recent: int
    skipped: tuple[Skip, ...]


def select_dormant(
    users: Iterable[Activity], *, now: datetime, age: timedelta, entries: Sequence[DesiredEntry], policy: Policy
) -> DormantSelection:
    """Active users idle for longer than ``age`` (measured on ``now``, Genesys's clock), undeclared, unprotected."""
    by_email, by_id = _declared(entries)
    cutoff = now - age
    dated: list[Activity] = []
    never: list[Activity] = []
    unknown: list[Activity] = []
    skipped: list[Skip] = []
    scanned = recent = 0
    for user in users:
        scanned += 1
        key = user.email.lower() if user.email else None
        if user.dormancy is Dormancy.DATED and user.last is not None and user.last >= cutoff:
            recent += 1
            continue
        label = user.email or user.id
        declared = by_id.get(user.id) or (by_email.get(key) if key else None)
        if declared is not None:
            skipped.append(Skip(label, f"already declared at {declared.source}"))
        elif policy.is_protected(user.id, key):
            skipped.append(Skip(label, "protected by the policy", protected=True))
        elif user.dormancy is Dormancy.DATED:
            dated.append(user)
        elif user.dormancy is Dormancy.NEVER:
            never.append(user)
        else:
            unknown.append(user)
    dated.sort(key=lambda u: (u.last, (u.email or "").lower(), u.id))
    never.sort(key=lambda u: ((u.email or "").lower(), u.id))
    unknown.sort(key=lambda u: ((u.email or "").lower(), u.id))
    return DormantSelection(tuple(never + dated), tuple(unknown), scanned, recent, tuple(skipped))
