"""What the audit ledger tells the planner, and the token-revocation rule. Pure.

The ledger (ledger.py) is a journal of intents and outcomes. Folded per user,
it answers three questions the planner asks:

* Is a revoke still owed? We deactivated (or were about to: an intent with no
  outcome means the process died mid-write) and no successful revoke followed.
* When did we last end this user's sessions? A token issued after that, to a
  user we deactivated, is a login that should have been impossible.
* What state did we last set, when, from which commit? If the live state
  differs, someone moved it behind our back (drift).
* When did we correct this user's drift, and who had changed it? (A state
  change recorded with ``changed_by`` corrected drift; flapping.py counts them.)

The revocation rule must also hold without a ledger (an ephemeral CI runner
loses it): an inactive user whose ``lastTokenIssued`` is within the longest
token lifetime Genesys allows (48 h) may still hold a valid token, so it gets a
revoke. With the ledger kept, that revoke is recorded and not repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.attribution import ChangedBy, changed_by_from_dict
from reconciler.core.instants import instant_or_none
from reconciler.core.model import DesiredEntry, LiveUser, UserState

__all__ = ["History", "RevokeDecision", "UserHistory", "revoke_decision"]

# Genesys stamps revocations and token issue times with its own clock, to the
# second in the Date header. A token issued within this margin of a revoke is
# treated as covered by it rather than as a post-revocation login.
CLOCK_MARGIN = timedelta(seconds=2)
_INACTIVE = UserState.INACTIVE  # Enum attribute access is slow in a 100,000-user loop
# Drift corrections kept per user: far more than any flapping limit needs, and bounded.
MAX_CORRECTIONS_KEPT = 64


@dataclass(frozen=True, slots=True)
class UserHistory:
    last_deactivated: datetime | None = None
    last_revoked: datetime | None = None
    revoke_owed: bool = False
    last_set_state: str | None = None
    last_set_at: datetime | None = None
    last_set_commit: str | None = None
    last_set_genesys: datetime | None = None  # when we set it, on Genesys's clock (the answer's Date)
    corrections: tuple[datetime, ...] = ()  # when we corrected drift on this user, oldest first
    last_changed_by: ChangedBy | None = None  # who had changed the user before the latest correction


def _time(record: Mapping[str, Any], key: str = "time") -> datetime | None:
    return instant_or_none(record.get(key))


def _correction(h: UserHistory, record: Mapping[str, Any], when: datetime | None) -> UserHistory:
    """An applied state change that carried ``changed_by`` corrected drift: remember when, and who."""
    actor = changed_by_from_dict(record.get("changed_by"))
    if actor is None or when is None:
        return h
    return replace(h, corrections=(*h.corrections, when)[-MAX_CORRECTIONS_KEPT:], last_changed_by=actor)


@dataclass(frozen=True)
class History:
    users: Mapping[str, UserHistory] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> History:
        """Fold ledger records (oldest first) into per-user history."""
        users: dict[str, UserHistory] = {}
        for r in records:
            user_id, action, event = r.get("user_id"), r.get("action"), r.get("event")
            if not isinstance(user_id, str) or event not in ("intent", "outcome"):
                continue
            h = users.get(user_id, UserHistory())
            when = _time(r)
            outcome = r.get("outcome")
            if action == "deactivate":
                if event == "intent":
                    # Owed from the moment we try: if we die before the outcome, the PATCH may have landed.
                    h = replace(h, revoke_owed=True, last_deactivated=h.last_deactivated or when)
                elif outcome in ("applied", "skipped"):
                    h = replace(
                        h,
                        revoke_owed=True,
                        # Compared with lastTokenIssued: Genesys's clock when the answer was dated.
                        last_deactivated=_time(r, "server_time") or when,
                        last_set_state="inactive",
                        last_set_at=when,
                        last_set_commit=r.get("commit"),
                        last_set_genesys=_time(r, "server_time"),
                    )
                    if outcome == "applied":
                        h = _correction(h, r, when)
            elif action == "reactivate" and event == "outcome" and outcome == "applied":
                h = replace(
                    h,
                    revoke_owed=False,
                    last_set_state="active",
                    last_set_at=when,
                    last_set_commit=r.get("commit"),
                    last_set_genesys=_time(r, "server_time"),
                )
                h = _correction(h, r, when)
            elif action == "revoke_tokens" and event == "outcome" and outcome == "applied":
                h = replace(h, revoke_owed=False, last_revoked=_time(r, "server_time") or when)
            users[user_id] = h
        return cls(users)

    def drift_detail(self, user_id: str, live_state: UserState) -> str | None:
        h = self.users.get(user_id)
        if h is None or h.last_set_state is None or h.last_set_state == live_state.value:
            return None
        when = h.last_set_at.strftime("%Y-%m-%d %H:%M:%SZ") if h.last_set_at else "an earlier run"
        commit = f" from commit {h.last_set_commit[:12]}" if h.last_set_commit else ""
        return f"drift: reconciler set this user {h.last_set_state} at {when}{commit}; now {live_state.value}"


@dataclass(frozen=True, slots=True)
class RevokeDecision:
    detail: str
    warning: str | None = None


_END_SESSIONS = RevokeDecision("end the sessions of the user being deactivated")


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%SZ")


def revoke_decision(
    entry: DesiredEntry, user: LiveUser, history: UserHistory | None, *, deactivating: bool, window_start: datetime
) -> RevokeDecision | None:
    """Does this declared user need ``revoke_tokens``? (Only declared-inactive users ever do.)"""
    if entry.state is not _INACTIVE:
        return None
    if deactivating:
        return _END_SESSIONS
    if user.known_state is not _INACTIVE:
        return None
    if history is not None and history.revoke_owed:
        return RevokeDecision(
            "resume: the user was deactivated but its tokens were never revoked (an earlier run was interrupted)"
        )
    issued = user.last_token_issued
    if issued is None:
        return None
    if history is not None and history.last_revoked is not None:
        if issued > history.last_revoked + CLOCK_MARGIN:
            warning = (
                f"a token was issued at {_fmt(issued)}, after reconciler revoked this inactive user's "
                f"tokens at {_fmt(history.last_revoked)}: a login that should have been impossible. "
                f"Investigate, and the token will be revoked"
            )
            return RevokeDecision("revoke a token issued after the last revocation", warning)
        return None
    deactivated = history.last_deactivated if history is not None else None
    if deactivated is not None and issued > deactivated + CLOCK_MARGIN:
        warning = (
            f"a token was issued at {_fmt(issued)}, after reconciler deactivated this user at "
            f"{_fmt(deactivated)}: a login that should have been impossible"
        )
        return RevokeDecision("revoke a token issued after deactivation", warning)
    if issued >= window_start:
        return RevokeDecision(
            f"a token issued at {_fmt(issued)} may still be valid (no revocation on record "
            f"within the 48 h token lifetime)"
        )
    return None
