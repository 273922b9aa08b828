"""What `reconciler propose` reads from Genesys: last activity per active user, and address checks.

Effectful (reads only; never writes). ``read_activity`` is one pass over the
org's active users at the cheapest read there is: the cursor listing
(``GET /api/v2/users/query``, 500 a page, ``expand=lasttokenissued``), or
numbered pages of ``GET /api/v2/users`` when the client may not list every
division (active users have no 10,000-user paging ceiling). Either way the
cost is ceil(A/500) calls for A active users, plus the token.

``lastTokenIssued`` is resolved by Genesys "best effort" (reference §15), so
three answers are kept apart: a date; the expansion present without a date
(Genesys has none on record: never); and the expansion missing (*unknown*).

``check_addresses`` resolves proposed emails against the live org with the
same reads and identity rules as ``plan`` (live.read_live + core.resolve).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.instants import instant_or_none
from reconciler.core.model import DesiredEntry, Policy, Source, UserState
from reconciler.core.propose.select import Activity, Dormancy
from reconciler.core.resolve import resolve
from reconciler.core.settings import Settings
from reconciler.errors import Forbidden, UnexpectedResponse
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.live import read_live

__all__ = ["AddressCheck", "activity_of", "check_addresses", "read_activity"]


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def activity_of(raw: Mapping[str, Any]) -> Activity:
    """One listed user -> Activity. A missing expansion is UNKNOWN, never NEVER."""
    user_id = _text(raw, "id")
    if user_id is None:
        raise UnexpectedResponse("a user without an id in the response")
    token = raw.get("lastTokenIssued")
    dormancy, last = Dormancy.UNKNOWN, None
    if isinstance(token, dict):
        issued = token.get("dateIssued")
        if issued is None:
            dormancy = Dormancy.NEVER
        else:
            last = instant_or_none(issued)  # Genesys's timestamps are UTC
            if last is not None:
                dormancy = Dormancy.DATED
    return Activity(
        id=user_id,
        email=_text(raw, "email"),
        name=_text(raw, "name"),
        department=_text(raw, "department"),
        title=_text(raw, "title"),
        dormancy=dormancy,
        last=last,
    )


def _pages(client: GenesysClient) -> Iterator[list[dict[str, Any]]]:
    try:
        yield from client.iter_users("active")
    except Forbidden:
        # The cursor listing needs directory:user:view in every division; page instead.
        yield from client.iter_users_paged("active")


def read_activity(client: GenesysClient, progress: Callable[[int], None] | None = None) -> list[Activity]:
    """Every active user's last activity, in one pass; ``progress`` hears the running count per page."""
    users: list[Activity] = []
    seen: set[str] = set()
    for page in _pages(client):
        for raw in page:
            if raw.get("state") != UserState.ACTIVE.value:
                continue  # asked for active users only; anything else is not ours to judge
            user = activity_of(raw)
            if user.id not in seen:  # a fallback after a partial cursor walk repeats users
                seen.add(user.id)
                users.append(user)
        if progress is not None:
            progress(len(users))
    return users


@dataclass(frozen=True)
class AddressCheck:
    """What the org says about proposed addresses, each keyed by the lower-cased email."""

    flags: dict[str, str] = field(default_factory=dict)  # what the plan would refuse: no one, several, ...
    ids: dict[str, str] = field(default_factory=dict)  # the one user the address means
    info: dict[str, str] = field(default_factory=dict)  # worth a reviewer's glance, not wrong


def check_addresses(
    client: GenesysClient, emails: Sequence[str], *, settings: Settings, strategy: str = "auto"
) -> AddressCheck:
    """Resolve ``emails`` as the plan will: flags for misses, ids for matches, a note for users already inactive."""
    entries = [
        DesiredEntry(email=e, id=None, state=UserState.INACTIVE, source=Source("check-org", i))
        for i, e in enumerate(emails, 1)
    ]
    live = read_live(client, entries, settings=settings, strategy=strategy)
    resolved, problems = resolve(entries, live, Policy())
    by_source = {str(e.source): e for e in entries}
    notes: dict[str, str] = {}
    for problem in problems:
        entry = by_source.get(problem.source or "")
        if entry is not None and entry.email_key is not None:
            notes.setdefault(entry.email_key, problem.message)
    ids: dict[str, str] = {}
    info: dict[str, str] = {}
    for match in resolved:
        key = match.entry.email_key
        if key is None:
            continue
        if match.user.state == UserState.DELETED.value:
            notes.setdefault(key, f"only a deleted Genesys user ({match.user.id}) has this address")
            continue
        ids[key] = match.user.id
        if match.user.state == UserState.INACTIVE.value:
            info[key] = f"already inactive in Genesys ({match.user.id}): the plan only ends sessions it may still have"
    return AddressCheck(notes, ids, info)
