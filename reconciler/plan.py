"""Stage 3: DesiredState + LiveState -> Plan, an immutable value. Pure: no I/O, no clock.

``build`` decides, per managed user, which of the three actions (deactivate,
reactivate, revoke_tokens) are needed, and collects every problem people must
see. Apply consumes the Plan as it is and never recomputes it; each change
carries the user ``version`` it was planned against, so apply can refuse to
write over anything that moved.

Only ``state`` (and whether tokens still need revoking) is diffed. Names,
titles, divisions are never compared, so a converged org plans empty.
Users not named in the files never appear here: the live state holds only
managed users, and nothing iterates over anything else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import floor

from reconciler.history import History, revoke_decision
from reconciler.model import Action, DesiredEntry, DesiredFile, DesiredState, LiveState, LiveUser, UserState
from reconciler.resolve import Problem, Resolved, resolve

__all__ = ["STATE_ACTIONS", "Change", "Pending", "Plan", "Problem", "build"]

STATE_ACTIONS = frozenset({Action.DEACTIVATE, Action.REACTIVATE})
_ORDER = {Action.DEACTIVATE: 0, Action.REACTIVATE: 0, Action.REVOKE_TOKENS: 1}


@dataclass(frozen=True, slots=True)
class Change:
    """One API write. ``reason``, ``ticket``, ``detail`` and ``source`` are for people only."""

    action: Action
    user_id: str
    email: str | None  # as written in the files, else as Genesys has it
    name: str | None
    before: str
    after: str
    version: int
    source: str
    reason: str | None = None
    ticket: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """An entry whose ``effective`` instant has not come yet, and what it will do then."""

    action: Action
    user_id: str
    email: str | None
    name: str | None
    effective: datetime
    source: str
    reason: str | None = None
    ticket: str | None = None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    problems: tuple[Problem, ...] = ()
    pending: tuple[Pending, ...] = ()
    unchanged: int = 0
    managed: int = 0
    desired_digest: str = ""
    desired_root: str = ""
    desired_files: tuple[DesiredFile, ...] = ()
    created_at: datetime | None = None
    targets: tuple[str, ...] = ()
    counts: Counter[str] = field(default_factory=Counter, compare=False)

    def __post_init__(self) -> None:
        self.counts.update(c.action.value for c in self.changes)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def state_changes(self) -> int:
        return sum(1 for c in self.changes if c.action in STATE_ACTIONS)


def _target_state_action(entry: DesiredEntry, state: UserState) -> Action | None:
    if entry.state is UserState.INACTIVE and state is UserState.ACTIVE:
        return Action.DEACTIVATE
    if entry.state is UserState.ACTIVE and state is UserState.INACTIVE:
        return Action.REACTIVATE
    return None


def _change(
    action: Action,
    entry: DesiredEntry,
    user: LiveUser,
    before: str,
    after: str,
    version: int,
    detail: str | None = None,
) -> Change:
    return Change(
        action=action,
        user_id=user.id,
        email=entry.email or user.email,
        name=user.name,
        before=before,
        after=after,
        version=version,
        source=str(entry.source),
        reason=entry.reason,
        ticket=entry.ticket,
        detail=detail,
    )


def _problem(severity: str, code: str, message: str, item: Resolved) -> Problem:
    return Problem(severity, code, message, str(item.entry.source), item.user.id)


@dataclass
class _Acc:
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    unchanged: int = 0


def _decide(
    item: Resolved, acc: _Acc, *, now: datetime, history: History, desired: DesiredState, token_window_start: datetime
) -> None:
    entry, user = item.entry, item.user
    state = user.known_state
    who = entry.label
    if state is None:
        acc.problems.append(
            _problem(
                "error",
                "user.unknown_state",
                f"{who}: Genesys reports state {user.state!r}, which this tool does not know; not touching the user",
                item,
            )
        )
        return
    if state is UserState.DELETED:
        if entry.state is UserState.ACTIVE:
            acc.problems.append(
                _problem(
                    "error",
                    "user.deleted",
                    f"{who} is deleted in Genesys; this tool never restores deleted users "
                    f"(restore them in the admin UI if that is really intended)",
                    item,
                )
            )
        else:
            acc.problems.append(
                _problem(
                    "warning",
                    "user.deleted",
                    f"{who} is deleted in Genesys (already without access); nothing to do",
                    item,
                )
            )
            acc.unchanged += 1
        return
    action = _target_state_action(entry, state)
    revoke = revoke_decision(
        entry, user, history.get(user.id), deactivating=action is Action.DEACTIVATE, window_start=token_window_start
    )
    if action is None and revoke is None:
        acc.unchanged += 1
        return
    if desired.policy.is_protected(user.id, user.email) or desired.policy.is_protected(None, entry.email):
        acc.problems.append(
            _problem(
                "error",
                "user.protected",
                f"{who} is protected by the policy ({desired.policy.source}); refusing "
                f"to {action.value if action else 'revoke the tokens of'} this user",
                item,
            )
        )
        return
    if entry.effective is not None and entry.effective > now and action is not None:
        acc.pending.append(
            Pending(
                action=action,
                user_id=user.id,
                email=entry.email or user.email,
                name=user.name,
                effective=entry.effective,
                source=str(entry.source),
                reason=entry.reason,
                ticket=entry.ticket,
            )
        )
        return
    if user.version is None:
        acc.problems.append(
            _problem(
                "error",
                "user.missing_version",
                f"{who}: Genesys returned the user without a version, so no write can be made safely",
                item,
            )
        )
        return
    if action is not None:
        acc.changes.append(
            _change(
                action,
                entry,
                user,
                state.value,
                entry.state.value,
                user.version,
                detail=history.drift_detail(user.id, state),
            )
        )
        if action is Action.REACTIVATE:
            acc.problems.append(
                _problem(
                    "warning",
                    "user.reactivation_roles",
                    f"{who} will be reactivated: Genesys does not restore roles that were "
                    f"assigned directly; only roles granted through groups come back",
                    item,
                )
            )
    if revoke is not None:
        after = entry.state.value if action is not None else state.value
        acc.changes.append(_change(Action.REVOKE_TOKENS, entry, user, after, after, user.version, detail=revoke.detail))
        if revoke.warning:
            acc.problems.append(_problem("warning", "user.token_after_deactivation", f"{who}: {revoke.warning}", item))


def _budget(
    plan_changes: list[Change], desired: DesiredState, live: LiveState, allow_mass_change: bool
) -> Problem | None:
    n = sum(1 for c in plan_changes if c.action in STATE_ACTIONS)
    policy = desired.policy
    limits = [(policy.max_changes, f"max_changes is {policy.max_changes}")]
    if policy.max_changes_percent is not None:
        if live.active_users is None:
            return Problem(
                "error",
                "plan.budget_unknown",
                "max_changes_percent is set but the org's active user count could not be read",
                str(policy.source) if policy.source else None,
            )
        allowed = floor(live.active_users * policy.max_changes_percent / 100)
        limits.append(
            (
                allowed,
                f"max_changes_percent is {policy.max_changes_percent:g}% of "
                f"{live.active_users} active users = {allowed}",
            )
        )
    limit, why = min(limits, key=lambda item: item[0])
    if n <= limit:
        return None
    if allow_mass_change:
        return Problem(
            "warning",
            "plan.over_budget",
            f"{n} state changes exceed the budget ({why}); allowed for this run by --allow-mass-change",
            str(policy.source) if policy.source else None,
        )
    return Problem(
        "error",
        "plan.over_budget",
        f"{n} state changes exceed the budget ({why}); nothing will be applied. Review the change, "
        f"then re-run with --allow-mass-change to lift the budget for one run",
        str(policy.source) if policy.source else None,
    )


def _targeted(entries: tuple[DesiredEntry, ...], targets: tuple[str, ...]) -> tuple[list[DesiredEntry], list[Problem]]:
    if not targets:
        return list(entries), []
    chosen: list[DesiredEntry] = []
    problems: list[Problem] = []
    for target in targets:
        matched = [e for e in entries if e.id == target or (e.email_key is not None and e.email_key == target.lower())]
        if not matched:
            problems.append(
                Problem("error", "target.no_match", f"--target {target} matches no entry in the desired-state files")
            )
        chosen.extend(e for e in matched if e not in chosen)
    order = {id(e): i for i, e in enumerate(entries)}
    return sorted(chosen, key=lambda e: order[id(e)]), problems


def build(
    desired: DesiredState,
    live: LiveState,
    *,
    now: datetime,
    history: History | None = None,
    targets: tuple[str, ...] = (),
    allow_mass_change: bool = False,
    token_window_start: datetime | None = None,
) -> Plan:
    """Plan the writes that make Genesys match ``desired``. ``now`` is the only clock input."""
    history = history or History()
    entries, problems = _targeted(desired.entries, targets)
    resolved, resolve_problems = resolve(entries, live, desired.policy)
    acc = _Acc(problems=problems + resolve_problems)
    # Tokens issued before this instant have expired whatever their lifetime (48 h at most).
    window = token_window_start if token_window_start is not None else now - timedelta(hours=48)
    for item in resolved:
        _decide(item, acc, now=now, history=history, desired=desired, token_window_start=window)
    budget = _budget(acc.changes, desired, live, allow_mass_change)
    if budget is not None:
        acc.problems.append(budget)
    changes = sorted(acc.changes, key=lambda c: _ORDER[c.action])  # stable: file order within each group
    # Keep each user's writes together: state change, then revoke, users in file order.
    position = {c.user_id: i for i, c in reversed(list(enumerate(acc.changes)))}
    changes.sort(key=lambda c: (position[c.user_id], _ORDER[c.action]))
    return Plan(
        changes=tuple(changes),
        problems=tuple(acc.problems),
        pending=tuple(acc.pending),
        unchanged=acc.unchanged,
        managed=len(entries),
        desired_digest=desired.digest,
        desired_root=desired.root,
        desired_files=desired.files,
        created_at=now,
        targets=targets,
    )
