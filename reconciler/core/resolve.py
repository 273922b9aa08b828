"""Stage 3a: which Genesys user does each desired entry mean? Pure.

In: desired entries and a LiveState. Out: (entry, user) pairs and problems.
The rules are the identity checks that keep the tool from locking out the
wrong person:

* an id must exist; with an email too, the user's email must still be that
  email (a reassigned address is an error, never a silent switch);
* an email must match exactly one non-deleted user: none is ``user.not_found``
  (severity from the policy), several is ``user.ambiguous_email``, listing
  them; a match only among deleted users is reported, never restored;
* two entries that turn out to be the same user are an error naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from reconciler.core.model import DesiredEntry, LiveState, LiveUser, MissingUsers, Policy, UserState, address_key

__all__ = ["Problem", "Resolved", "resolve"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something people must know. ``error`` blocks apply; ``warning`` does not."""

    severity: str  # "error" | "warning"
    code: str
    message: str
    source: str | None = None
    user_id: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class Resolved(NamedTuple):
    """An entry and the user it means (a NamedTuple: one per managed user, so cheap to make)."""

    entry: DesiredEntry
    user: LiveUser


def _error(code: str, message: str, entry: DesiredEntry, user_id: str | None = None) -> Problem:
    return Problem("error", code, message, str(entry.source), user_id)


_DELETED = UserState.DELETED  # Enum attribute access is slow in a 100,000-user loop


def _describe(user: LiveUser) -> str:
    return f"{user.id} ({user.name or 'no name'}, {user.state or 'no state'})"


def _by_id(entry: DesiredEntry, live: LiveState) -> Resolved | Problem:
    assert entry.id is not None
    if live.read_errors and f"id:{entry.id}" in live.read_errors:
        return _error(
            "user.read_failed", f"could not read user {entry.id}: {live.read_errors['id:' + entry.id]}", entry, entry.id
        )
    user = live.users.get(entry.id)
    if user is None:
        return _error("user.not_found", f"no Genesys user has id {entry.id}", entry, entry.id)
    if entry.email_key is not None and address_key(user.email) != entry.email_key:
        return _error(
            "user.identity_mismatch",
            f"{entry.email} is pinned to id {entry.id}, but that user's email is now "
            f"{user.email or 'empty'}: the address may have been reassigned (a rehire or a reused "
            f"alias). Check who this entry means and fix the id or the email",
            entry,
            entry.id,
        )
    return Resolved(entry, user)


def _by_email(entry: DesiredEntry, live: LiveState, policy: Policy) -> Resolved | Problem:
    key = entry.email_key
    assert key is not None
    if live.read_errors and f"email:{key}" in live.read_errors:
        return _error("user.read_failed", f"could not look up {entry.email}: {live.read_errors['email:' + key]}", entry)
    ids = live.email_index.get(key, ())
    if len(ids) == 1 and ids[0] in live.users:  # the usual case, without building lists
        only = live.users[ids[0]]
        if only.state != _DELETED:
            return Resolved(entry, only)
    matches = [live.users[i] for i in ids if i in live.users]
    current = [u for u in matches if u.state != _DELETED]
    if len(current) == 1:
        return Resolved(entry, current[0])
    if len(current) > 1:
        listed = "; ".join(_describe(u) for u in current)
        return _error(
            "user.ambiguous_email",
            f"{entry.email} matches {len(current)} Genesys users: {listed}. Name the user by id "
            f"(add `id:` to the entry)",
            entry,
        )
    if matches:
        # Only deleted users carry this email: deleted users cannot log in, and we never restore them.
        return Resolved(entry, matches[0])
    severity = "error" if policy.missing_users is MissingUsers.ERROR else "warning"
    return Problem(
        severity,
        "user.not_found",
        f"no Genesys user has email {entry.email} (compared ignoring case)",
        str(entry.source),
    )


def resolve(
    entries: tuple[DesiredEntry, ...] | list[DesiredEntry], live: LiveState, policy: Policy
) -> tuple[list[Resolved], list[Problem]]:
    resolved: list[Resolved] = []
    problems: list[Problem] = []
    first_by_user: dict[str, DesiredEntry] = {}
    for entry in entries:
        outcome = _by_id(entry, live) if entry.id is not None else _by_email(entry, live, policy)
        if isinstance(outcome, Problem):
            problems.append(outcome)
            continue
        previous = first_by_user.setdefault(outcome.user.id, entry)
        if previous is not entry:
            problems.append(
                _error(
                    "user.declared_twice",
                    f"{entry.label} and {previous.label} ({previous.source}) are the same Genesys "
                    f"user {outcome.user.id}; keep one entry",
                    entry,
                    outcome.user.id,
                )
            )
            continue
        resolved.append(outcome)
    return resolved, problems
