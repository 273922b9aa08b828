"""Stage 3b: the guards around a plan: ``--target`` selection and the change budget. Pure.

In: the desired entries (and, for the budget, the planned changes and the
org's size). Out: the chosen entries and problems. The planner (plan.py) calls
these; they never decide a single user's change.
"""

from __future__ import annotations

from math import floor

from reconciler.core.model import Action, DesiredEntry, DesiredState, LiveState, address_key
from reconciler.core.resolve import Problem, Resolved

__all__ = ["budget_problem", "clashes_outside", "select_targets"]

STATE_ACTIONS = frozenset({Action.DEACTIVATE, Action.REACTIVATE})


def budget_problem(n: int, desired: DesiredState, live: LiveState, allow_mass_change: bool) -> Problem | None:
    """The budget problem for a plan making ``n`` state changes, if any."""
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


def select_targets(
    entries: tuple[DesiredEntry, ...], targets: tuple[str, ...]
) -> tuple[list[DesiredEntry], list[Problem]]:
    """The entries ``--target`` names (an email case-insensitively, an id exactly), in file order."""
    if not targets:
        return list(entries), []
    hit: set[int] = set()
    problems: list[Problem] = []
    for target in targets:
        matched = {i for i, e in enumerate(entries) if e.id == target or e.email_key == target.lower()}
        if not matched:
            problems.append(
                Problem("error", "target.no_match", f"--target {target} matches no entry in the desired-state files")
            )
        hit |= matched
    return [e for i, e in enumerate(entries) if i in hit], problems


def clashes_outside(
    resolved: list[Resolved], everything: tuple[DesiredEntry, ...], chosen: list[DesiredEntry]
) -> list[Problem]:
    """With --target, a targeted user may also be declared by an entry left out (by id in one file,
    by email in another): that is still an error, exactly as in a full plan."""
    picked = {id(e) for e in chosen}
    others = [e for e in everything if id(e) not in picked]
    by_id = {e.id: e for e in others if e.id}
    by_email = {e.email_key: e for e in others if e.email_key}
    problems = []
    for entry, user in resolved:
        key = address_key(user.email)
        other = by_id.get(user.id) or (by_email.get(key) if key is not None else None)
        if other is not None:
            problems.append(
                Problem(
                    "error",
                    "user.declared_twice",
                    f"{entry.label} and {other.label} ({other.source}) are the same Genesys user "
                    f"{user.id}; keep one entry",
                    str(entry.source),
                    user.id,
                )
            )
    return problems
