"""Stage 2: read what Genesys holds for the managed users -> LiveState.

Effectful (API reads only; never writes). In: the desired entries. Out: the
users they may refer to, by id, plus an email index. Only users named in the
files are kept; anyone else seen in a listing is dropped on the spot.

One matching rule, whichever way the users are read: an address matches every
user whose address is equal to it ignoring case. Two ways to read, chosen by
what they cost against the rate limit:

* targeted (the usual case): emails -> ids with ``POST /api/v2/users/search``
  (up to 100 values per call), then the authoritative state and version of
  every candidate with ``GET /api/v2/users?id=`` (100 ids per call), the
  batches in parallel under the one pacer. Search only finds ids: it is
  eventually consistent, so state and version always come from the GET.
  Whether ``EXACT`` is case-sensitive is undocumented, so an address is
  searched as written; those not found are searched again lower-cased (most
  orgs store addresses so); and any still not found are in doubt, so one
  listing of the org settles them. A plan never says ``user.not_found`` for an
  address the listing would have matched; the listing is paid for only when an
  address is missing.
* listing: every user with ``GET /api/v2/users/query`` (cursor, 500 a page),
  matching emails locally. Costs U/500 calls for an org of U users, so it
  wins once M is a sizeable share of U. Deciding needs U: one extra call,
  made only when the targeted estimate exceeds ``PROBE_THRESHOLD`` calls.
  Cursor pages come one after another, so at high latency the listing is
  slower than its call count says: the choice compares time, not calls.

A batch that fails (after the session's retries) marks its entries as
unreadable; the planner turns that into an error for those users and leaves
everyone else alone. Auth, permission and connection failures (Genesys
unreachable) stop the whole read: one error, not one per user.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.instants import instant_or_none
from reconciler.core.model import DesiredEntry, LiveState, LiveUser, address_key
from reconciler.core.settings import Settings
from reconciler.errors import ApiError, AuthError, Forbidden, UnexpectedResponse, Unreachable
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.workers import cap, run_all

__all__ = ["PROBE_THRESHOLD", "estimate_targeted_calls", "parse_user", "read_live", "read_users"]

log = logging.getLogger("reconciler.genesys.live")

# Failures no other batch would fare better with: stop the whole read, report it once.
# Unreachable (refused, DNS, TLS, no answer in time) has already been retried by the session.
_FATAL = (AuthError, Forbidden, Unreachable)

# Below this many estimated calls the targeted read is used without asking
# how big the org is (the question itself costs a call).
PROBE_THRESHOLD = 8


def parse_user(raw: Mapping[str, Any]) -> LiveUser:
    """One API user -> LiveUser. Unknown state and missing version are kept as such, never guessed."""
    # Runs once per user read (20,000 times in a big plan): exact type checks (JSON gives exact
    # types; bool, an int subclass, is refused as a version) and one LiveUser call.
    user_id = raw.get("id")
    if type(user_id) is not str or not user_id:
        raise UnexpectedResponse("a user without an id in the response")
    version = raw.get("version")
    if type(version) is not int:
        # search has been seen to send "152". ASCII digits only: isdigit() is also true of "²"
        # (which int() refuses) and of Arabic-Indic digits (which int() reads), neither of
        # which Genesys writes.
        version = int(version) if type(version) is str and version.isascii() and version.isdigit() else None
    token = raw.get("lastTokenIssued")
    state, email, name = raw.get("state"), raw.get("email"), raw.get("name")
    return LiveUser(
        user_id,
        state if type(state) is str else "",
        version,
        email if type(email) is str else None,
        name if type(name) is str else None,
        # Genesys's times are UTC
        instant_or_none(token.get("dateIssued")) if type(token) is dict else None,
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _search_batches(spellings: Mapping[str, str], limit: int) -> list[list[str]]:
    """Spellings to search (one per address), at most ``limit`` values a search."""
    values = list(dict.fromkeys(spellings.values()))
    return [values[i : i + limit] for i in range(0, len(values), limit)]


def estimate_targeted_calls(n_ids: int, n_emails: int, settings: Settings) -> int:
    """Calls of a targeted read when the org stores addresses as the files write them."""
    searches = math.ceil(n_emails / max(1, settings.search_batch_size))
    gets = math.ceil((n_ids + n_emails) / settings.id_batch_size)
    return searches + gets


def read_users(
    client: GenesysClient, ids: Sequence[str], settings: Settings
) -> tuple[dict[str, LiveUser], dict[str, str]]:
    """Users by id, 100 a call, in any state: (users found, id -> why its batch could not be read).

    The one batched read by id: planning, the saved-plan check and drift all use it.
    Auth, permission and connection failures raise: no batch would fare better.
    """
    users: dict[str, LiveUser] = {}
    failed: dict[str, str] = {}

    def one(batch: Sequence[str]) -> tuple[list[LiveUser], str | None]:
        try:
            return [parse_user(raw) for raw in client.users_by_ids(batch)], None
        except ApiError as exc:
            if isinstance(exc, _FATAL):
                raise
            return [], str(exc)

    batches = list(_chunks(list(dict.fromkeys(ids)), settings.id_batch_size))
    for batch, (found, why) in zip(batches, run_all(client.session, one, batches), strict=True):
        if why is not None:
            failed.update(dict.fromkeys(batch, why))
            continue
        wanted = set(batch)
        users.update((u.id, u) for u in found if u.id in wanted)
    return users, failed


class _Reader:
    def __init__(self, client: GenesysClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.users: dict[str, LiveUser] = {}
        self.email_index: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}

    def _fail(self, keys: Iterable[str], exc: ApiError) -> None:
        if isinstance(exc, _FATAL):
            raise exc
        for key in keys:
            self.errors[key] = str(exc)

    def _keep(self, raws: Iterable[Mapping[str, Any]], wanted_ids: set[str], wanted_emails: set[str]) -> None:
        """Keep the managed users of one listing page. The latest sighting of a user wins."""
        users = self.users
        for raw in raws:
            # Decide from the raw fields first: in a listing most users are not managed, and
            # building a LiveUser for each of 100,000 costs more than the rest of the plan.
            email = raw.get("email")
            if not (type(email) is str and email and address_key(email) in wanted_emails):
                raw_id = raw.get("id")
                if type(raw_id) is str and raw_id and raw_id not in wanted_ids:
                    # Listed before as managed, now with another address: the org changed between
                    # pages, and the earlier sighting must not stay matched to the old address.
                    if raw_id in users:
                        del users[raw_id]
                    continue
            user = parse_user(raw)  # a user without an id still spoils the page, managed or not
            users[user.id] = user

    def targeted(self, id_entries: list[str], email_entries: list[DesiredEntry]) -> None:
        candidates: dict[str, None] = dict.fromkeys(id_entries)
        hits_by_key: dict[str, set[str]] = {}
        written: dict[str, str] = {}  # address key -> the spelling of its first entry
        for e in email_entries:
            if e.email_key and e.email:
                written.setdefault(e.email_key, e.email)
        missing = dict(written)
        # As written first; then lower-cased, only for addresses written otherwise that were not found.
        for lowered in (False, True):
            spellings = {k: k for k, v in missing.items() if v != k} if lowered else dict(missing)
            batches = _search_batches(spellings, self.settings.search_batch_size)
            for batch, outcome in zip(batches, run_all(self.client.session, self._search, batches), strict=True):
                if isinstance(outcome, ApiError):
                    self._fail((f"email:{v.lower()}" for v in batch), outcome)
                    continue
                for hit in outcome:
                    email, hit_id = hit.get("email"), hit.get("id")
                    key = address_key(email) if isinstance(email, str) else None
                    if key in written and type(hit_id) is str and hit_id:  # "" would be an empty id in the GET
                        candidates.setdefault(hit_id)
                        hits_by_key.setdefault(key, set()).add(hit_id)
                        missing.pop(key, None)
            for batch in batches:  # a failed search is an error for its addresses, not a doubt
                for value in batch:
                    if f"email:{value.lower()}" in self.errors:
                        missing.pop(value.lower(), None)
        users, unread = read_users(self.client, list(candidates), self.settings)
        self.users.update(users)
        self.errors.update((f"id:{i}", why) for i, why in unread.items())
        failed = set(unread)
        # The email index comes from the authoritative reads: a search hit whose
        # email has changed since it was indexed no longer counts as a match.
        self._index(written)
        # An email whose candidates could not be loaded is unreadable, not "not found".
        for key, hit_ids in hits_by_key.items():
            if hit_ids & failed:
                self.errors.setdefault(f"email:{key}", "a user with this email could not be read")
        doubt = {k for k in written if k not in self.email_index and f"email:{k}" not in self.errors}
        if doubt:
            self._settle(doubt)

    def _search(self, values: list[str]) -> list[dict[str, Any]] | ApiError:
        try:
            return self.client.search_emails(values)
        except ApiError as exc:
            if isinstance(exc, _FATAL):
                raise
            return exc

    def _settle(self, doubt: set[str]) -> None:
        """Addresses search did not find may still be stored in another case: list the org once to know."""
        log.info("%d address(es) not found by search; listing the org to match them ignoring case", len(doubt))
        found: dict[str, tuple[str, LiveUser]] = {}  # id -> (address key, user), as last listed
        try:
            for page in self.client.iter_users("any"):
                for raw in page:
                    email = raw.get("email")
                    if type(email) is str and (key := address_key(email)) in doubt:
                        user = parse_user(raw)
                        found[user.id] = (key, user)
                    elif found and type(raw_id := raw.get("id")) is str and raw_id in found:
                        # listed again with another address: the org changed between pages (the
                        # rule of _keep; unlike _keep, a user with an odd id is read past here)
                        del found[raw_id]
        except ApiError as exc:
            if isinstance(exc, (AuthError, Unreachable)):
                raise
            for key in doubt:
                self.errors[f"email:{key}"] = f"not found by search, and the listing to confirm it failed: {exc}"
            return
        for key, user in found.values():
            self.users[user.id] = user
            self.email_index.setdefault(key, []).append(user.id)

    def listing(self, id_entries: list[str], email_entries: list[DesiredEntry]) -> None:
        wanted_ids = set(id_entries)
        wanted_emails = {e.email_key for e in email_entries if e.email_key}
        for page in self.client.iter_users("any"):
            self._keep(page, wanted_ids, wanted_emails)
        self._index(wanted_emails)  # once every page is read, from the users as last listed

    def _index(self, keys: Container[str]) -> None:
        """Index the users read by the address keys they match among ``keys``."""
        for user in self.users.values():
            if (key := address_key(user.email)) is not None and key in keys:
                self.email_index.setdefault(key, []).append(user.id)


def _seconds(client: GenesysClient, calls: int, in_flight: int) -> float:
    """How long ``calls`` requests take with at most ``in_flight`` at once: min(rate, in_flight / latency)."""
    session = client.session
    latency = session.pacer.latency or 0.0
    rate = session.pacer.rate if latency <= 0 else min(session.pacer.rate, in_flight / latency)
    return calls / rate


def read_live(
    client: GenesysClient,
    entries: Sequence[DesiredEntry],
    *,
    settings: Settings,
    need_active_count: bool = False,
    strategy: str = "auto",
) -> LiveState:
    """Read the users ``entries`` may refer to. ``strategy``: auto | targeted | listing."""
    id_entries = list(dict.fromkeys(e.id for e in entries if e.id))
    email_entries = [e for e in entries if e.id is None and e.email]
    reader = _Reader(client, settings)
    chosen = strategy
    if strategy == "auto":
        estimate = estimate_targeted_calls(len(id_entries), len({e.email_key for e in email_entries}), settings)
        chosen = "targeted"
        if estimate > PROBE_THRESHOLD:
            try:
                total = client.count_users("any")
            except ApiError as exc:
                if isinstance(exc, (AuthError, Unreachable)):
                    raise
                log.warning("cannot size the org (%s); reading the managed users in batches", exc)
                total = None
            if total is not None:
                pages = math.ceil(total / settings.list_page_size)
                log.info("org has %d users: listing costs %d calls, targeted reads about %d", total, pages, estimate)
                if _seconds(client, pages, 1) < _seconds(client, estimate, cap(settings)):
                    chosen = "listing"
    if chosen == "listing":
        try:
            reader.listing(id_entries, email_entries)
        except ApiError as exc:
            if isinstance(exc, (AuthError, Unreachable)):
                raise
            # /users/query needs directory:user:view in every division, and one bad page spoils a
            # whole listing: batched reads isolate failures per user.
            log.warning("full listing failed (%s); reading the managed users in batches instead", exc)
            reader = _Reader(client, settings)
            chosen = "targeted"
    if chosen == "targeted":
        reader.targeted(id_entries, email_entries)
    active = None
    if need_active_count:
        try:
            active = client.count_users("active")
        except ApiError as exc:
            if isinstance(exc, (AuthError, Unreachable)):
                raise
            log.warning("cannot count the org's active users (%s)", exc)  # the plan reports budget_unknown
    index = {k: tuple(dict.fromkeys(v)) for k, v in reader.email_index.items()}
    return LiveState(
        users=reader.users, email_index=index, read_errors=reader.errors, active_users=active, strategy=chosen
    )
