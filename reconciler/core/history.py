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

The fold is streaming (``HistoryFold``): it can start from a summary of
everything before (summary.py, decoded lazily) and take only the records
appended since.

The revocation rule must also hold without a ledger (an ephemeral CI runner
loses it): an inactive user whose ``lastTokenIssued`` is within the longest
token lifetime Genesys allows (48 h) may still hold a valid token, so it gets a
revoke. A user read without ``lastTokenIssued`` is *unknown* (expansions are
best effort), never "no token": it gets a revoke unless the ledger records one.
With the ledger kept, that revoke is recorded and not repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.attribution import ChangedBy, changed_by_from_dict
from reconciler.core.instants import instant_or_none
from reconciler.core.model import DesiredEntry, LiveUser, UserState

__all__ = [
    "MAX_CORRECTIONS_KEPT",
    "History",
    "HistoryFold",
    "Overlay",
    "RevokeDecision",
    "UserHistory",
    "fold_record",
    "revoke_decision",
]

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


def fold_record(h: UserHistory | None, r: Mapping[str, Any]) -> UserHistory | None:
    """One ledger record applied to one user's history (None: the record is not about a user)."""
    action, event = r.get("action"), r.get("event")
    if event not in ("intent", "outcome"):
        return h
    h = h or UserHistory()
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
    return h


class HistoryFold:
    """A streaming fold: feed records oldest first, on top of a summary of everything before them.

    ``base`` is what an earlier fold left (the compacted summary, decoded lazily);
    only users named in the new records are decoded and replaced.
    """

    def __init__(self, base: Mapping[str, UserHistory] | None = None) -> None:
        self.base: Mapping[str, UserHistory] = base if base is not None else {}
        self.changed: dict[str, UserHistory] = {}
        self.records = 0
        # Each user's history just before its latest deactivation intent: a deactivation Genesys
        # refused outright (``refused`` on the outcome: nothing changed) is rolled back to it, so
        # it neither owes a revoke nor counts as a deactivation (a later login is no "impossible
        # login"). An intent and its outcome are written in the same run, before any compaction.
        self._before_intent: dict[str, UserHistory | None] = {}

    def add(self, r: Mapping[str, Any]) -> None:
        self.records += 1
        user_id = r.get("user_id")
        if not isinstance(user_id, str):
            return
        before = self.changed.get(user_id) or self.base.get(user_id)
        if r.get("action") == "deactivate":
            if r.get("event") == "intent":
                self._before_intent[user_id] = before
            elif r.get("outcome") == "failed" and r.get("refused") is True and user_id in self._before_intent:
                self.changed[user_id] = self._before_intent.pop(user_id) or UserHistory()
                return
        after = fold_record(before, r)
        if after is not None and after is not before:
            self.changed[user_id] = after

    def history(self) -> History:
        if not self.changed:
            return History(self.base)
        if not self.base:
            return History(self.changed)
        return History(Overlay(self.changed, self.base))


class Overlay(Mapping[str, UserHistory]):
    """Users folded since the summary, over the summary: ``top`` wins. (ChainMap, minus a raise per miss.)"""

    __slots__ = ("base", "top")

    def __init__(self, top: Mapping[str, UserHistory], base: Mapping[str, UserHistory]) -> None:
        self.top, self.base = top, base

    def get(self, user_id: str, default: Any = None) -> Any:  # same contract as Mapping.get
        h = self.top.get(user_id)
        return h if h is not None else self.base.get(user_id, default)

    def __getitem__(self, user_id: str) -> UserHistory:
        h = self.get(user_id)
        if h is None:
            raise KeyError(user_id)
        return h  # type: ignore[no-any-return]

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.top or user_id in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.top
        yield from (u for u in self.base if u not in self.top)

    def __len__(self) -> int:
        return len(self.top) + sum(1 for u in self.base if u not in self.top)


@dataclass(frozen=True)
class History:
    users: Mapping[str, UserHistory] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> History:
        """Fold ledger records (oldest first) into per-user history."""
        fold = HistoryFold()
        for r in records:
            fold.add(r)
        return fold.history()

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
        # Unknown, never "no token": Genesys resolves expansions on a best-effort basis
        # (reference §15), so an absent lastTokenIssued proves nothing. A revocation on record
        # covers every token issued before it (an inactive user cannot be issued another);
        # without one, a token may still be valid, and ending sessions that do not exist costs
        # one idempotent call, while keeping one alive is the hole this tool exists to close.
        if history is not None and history.last_revoked is not None:
            return None
        return RevokeDecision(
            "Genesys did not return when this user's last token was issued (lastTokenIssued is best effort), "
            "and no revocation is on record: a token may still be valid"
        )
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
