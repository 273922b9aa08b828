"""Ask Genesys's audit trail who moved each drifted user. Effectful, optional, never fatal.

In: the drifted users (core/drift.py ``drifted``), the run's clock and the
tool's own OAuth client id. Out: ``Attribution``: a ChangedBy per user (UNKNOWN
where it could not tell) and at most one warning for the run. The pure
decisions (which service, which message, whose) are core/attribution.py's.

Cost, for D drifted users: nothing at all when D is 0; otherwise one
``GET .../servicemapping``, then one ``POST /api/v2/audits/query/realtime`` per
drifted user up to ``settings.max_audit_queries`` (the rest are unknown), then
one ``GET /api/v2/oauth/clients/{id}`` per distinct other client named (cached
for the run; a refusal, or an id that is not one, means the id alone is shown). So at most
1 + min(D, max_audit_queries) + C calls.

Attribution is a courtesy to the operator, not part of the safety contract:
without ``audits:audit:view`` (403), or when the audit API fails or answers
something unexpected, every user is UNKNOWN, one warning says why, and drift is
still reported and corrected exactly as without it. Nothing here raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.core.attribution import (
    CLOCK_SKEW,
    REALTIME_DAYS,
    UNKNOWN,
    Actor,
    ChangedBy,
    audit_service,
    find_actor,
    make_actor,
    realtime_query,
)
from reconciler.core.drift import Drifted
from reconciler.core.settings import Settings
from reconciler.errors import ApiError, Forbidden
from reconciler.genesys.client import GenesysClient

__all__ = ["Attribution", "attribute"]

log = logging.getLogger("reconciler.genesys.attribution")

OWN_CLIENT_NAME = "reconciler"
# A client id from the audit trail goes into a URL path only if it is made of an id's characters
# (Genesys's are GUIDs): never a '/', '?', '#', '%' or '.' that would send the lookup elsewhere.
_CLIENT_ID = re.compile(r"[A-Za-z0-9-]{1,100}")


@dataclass
class Attribution:
    by_user: dict[str, ChangedBy] = field(default_factory=dict)
    warning: str | None = None  # at most one per run
    queries: int = 0  # audit queries sent


def _why(exc: Exception) -> str:
    if isinstance(exc, Forbidden):
        return (
            "the OAuth client lacks audits:audit:view, so drift cannot be attributed to whoever made it "
            "(grant the permission to see who changed each user)"
        )
    if isinstance(exc, ApiError):
        said = " ".join(str(p) for p in (exc.status, exc.code) if p) or exc.message
        return f"the audit API failed ({exc.request or 'audit query'}: {said}), so drift could not be attributed"
    return f"the audit API answered something unexpected ({exc}), so drift could not be attributed"


def attribute(
    client: GenesysClient,
    drifts: Sequence[Drifted],
    *,
    now: datetime,
    own_client_id: str | None,
    settings: Settings,
) -> Attribution:
    """Who moved each drifted user. No call at all when ``drifts`` is empty.

    ``now`` is Genesys's clock (the Date of its last answer) when known, else ours.
    """
    result = Attribution()
    if not drifts:
        return result
    result.by_user = {d.user_id: UNKNOWN for d in drifts}
    try:
        found = audit_service(client.audit_service_mapping())
    except (ApiError, ValueError) as exc:
        result.warning = _why(exc)
        log.warning("drift attribution: %s", result.warning, extra={"event": "attribution_unavailable"})
        return result
    if found is None:
        result.warning = "the audit service mapping names no User entity, so drift could not be attributed"
        log.warning("drift attribution: %s", result.warning, extra={"event": "attribution_unavailable"})
        return result
    service, _entity = found
    # Our clock (the ledger's times) and Genesys's (eventDate) may disagree a little: widen both ends.
    until = now + CLOCK_SKEW
    oldest = until - timedelta(days=REALTIME_DAYS)
    names: dict[str, str | None] = {}
    for d in drifts[: settings.max_audit_queries]:
        # Since we last set the state (at most the 14 days the realtime query covers); older
        # changes are left unknown rather than fetched through the slow asynchronous query.
        since = max(d.since - CLOCK_SKEW, oldest) if d.since is not None else oldest
        body = realtime_query(d.user_id, since, until, service, page_size=settings.audit_page_size)
        try:
            result.queries += 1
            answer = client.audit_query(body)
            actor = find_actor(
                answer,
                user_id=d.user_id,
                since=since,
                until=until,
                live_state=d.live_state,
                own_client_id=own_client_id,
            )
        except (ApiError, ValueError) as exc:
            result.warning = result.warning or _why(exc)
            if isinstance(exc, Forbidden):
                break  # the same permission is missing for every other user
            continue
        result.by_user[d.user_id] = _named(client, actor, names)
    skipped = len(drifts) - settings.max_audit_queries
    if skipped > 0 and result.warning is None:
        result.warning = (
            f"{skipped} drifted user(s) beyond max_audit_queries ({settings.max_audit_queries}) were not attributed"
        )
    if result.warning:
        log.warning("drift attribution: %s", result.warning, extra={"event": "attribution_unavailable"})
    return result


def _named(client: GenesysClient, actor: ChangedBy, names: dict[str, str | None]) -> ChangedBy:
    """The client's name: our own without a call, another's with one (cached; refused: the id alone)."""
    if actor.client is None:
        return actor
    if actor.own:
        return replace(actor, client=Actor(actor.client.id, OWN_CLIENT_NAME))
    if actor.kind != "client":
        return actor  # a person acted; the client they used (the admin UI's) matters less
    cid = actor.client.id
    if not _CLIENT_ID.fullmatch(cid):
        return actor  # not an id we can ask about: shown as the audit trail gave it (cleaned)
    if cid not in names:
        try:
            raw = client.oauth_client(cid).get("name")
            names[cid] = raw if isinstance(raw, str) and raw else None
        except ApiError as exc:
            log.info("OAuth client %s: name not available (%s)", cid, exc)
            names[cid] = None
    name = names[cid]
    if name is None:
        return actor
    return replace(actor, client=make_actor(cid, name))  # cleaned like any name from Genesys
