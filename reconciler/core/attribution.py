"""Who changed a user behind our back: reading Genesys's audit answers. Pure.

In: the decoded JSON of ``GET /api/v2/audits/query/realtime/servicemapping``
and of ``POST /api/v2/audits/query/realtime``, the drifted user and what we
expect the audit trail to show. Out: a ``ChangedBy`` (a user, an OAuth client,
or unknown) and the body of the query to send. genesys/attribution.py makes
the calls; this module only decides.

Most of what Genesys puts in an audit message for a user's state change is
not documented (reference §14: the service name, action, entity type and
property are free strings). So every match is defensive: names compared
case-insensitively, the entity id must be the user's, the event must fall in
the interval, and a ``state`` property change must show the state the user
is in now. Anything short of that is *unknown*, never a guess. A shape that is
not what the SDK documents raises ``ValueError`` so the caller can warn once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.core.instants import instant_or_none, utc_iso

__all__ = [
    "CLOCK_SKEW",
    "REALTIME_DAYS",
    "UNKNOWN",
    "Actor",
    "ChangedBy",
    "audit_service",
    "changed_by_from_dict",
    "find_actor",
    "make_actor",
    "realtime_query",
]

# Genesys's realtime audit query only reaches back this far for some services (SDK docs).
REALTIME_DAYS = 14
# How far our clock (the ledger's times) and Genesys's (eventDate) may disagree; the interval
# asked about is widened by this much at both ends.
CLOCK_SKEW = timedelta(minutes=5)
# Preferred names when the service mapping offers several services with a user entity.
_PREFERRED_SERVICES = ("directory",)
_USER_ENTITY = "user"


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class ChangedBy:
    """Who made the change the audit trail shows. ``own``: this tool's own OAuth client."""

    kind: str  # "user" | "client" | "unknown"
    user: Actor | None = None
    client: Actor | None = None
    at: datetime | None = None
    own: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "user": self.user.as_dict() if self.user else None,
            "client": self.client.as_dict() if self.client else None,
            "at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.at else None,
        }

    def describe(self) -> str:
        """For people: 'user Pat Admin (1f2e3d4c-…)', 'OAuth client Okta (5a6b…)', 'an unknown actor'."""
        if self.kind == "user" and self.user is not None:
            return f"user {_label(self.user)}"  # a person; the client they used (the admin UI) is in the JSON
        if self.kind == "client" and self.client is not None:
            mine = " (reconciler's own client)" if self.own else ""
            return f"OAuth client {_label(self.client)}{mine}"
        return "an unknown actor"


UNKNOWN = ChangedBy("unknown")


def _label(actor: Actor | None) -> str:
    if actor is None:
        return "?"
    return f"{actor.name} ({actor.id})" if actor.name else actor.id


def _clean(text: str, limit: int = 200) -> str:
    """Names come from Genesys (anyone can name a user or an OAuth client): no control characters."""
    return "".join("?" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text[:limit])


def make_actor(actor_id: str, name: Any) -> Actor:
    """An Actor from text Genesys sent, cleaned; a name that is not non-empty text is no name."""
    return Actor(_clean(actor_id, 100), _clean(name) if isinstance(name, str) and name else None)


def _actor(raw: Any) -> Actor | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
        return None
    return make_actor(raw["id"], raw.get("name"))


def changed_by_from_dict(raw: Any) -> ChangedBy | None:
    """The inverse of ``ChangedBy.as_dict`` (saved plans, the ledger); None for anything else."""
    if not isinstance(raw, Mapping) or raw.get("kind") not in ("user", "client", "unknown"):
        return None
    return ChangedBy(
        str(raw["kind"]), _actor(raw.get("user")), _actor(raw.get("client")), instant_or_none(raw.get("at"))
    )


def audit_service(mapping: Any) -> tuple[str, str] | None:
    """(service name, entity name) under which Genesys audits users, from the service mapping.

    A service with an entity called "User" (any case); "Directory" first when
    several have one. None when the mapping names no such entity.
    """
    services = mapping.get("services") if isinstance(mapping, Mapping) else None
    if not isinstance(services, list):
        raise ValueError("the audit service mapping has no 'services' list")
    found: list[tuple[str, str]] = []
    for service in services:
        if not isinstance(service, Mapping) or not isinstance(service.get("name"), str):
            continue
        for entity in service.get("entities") or []:
            if isinstance(entity, Mapping) and str(entity.get("name", "")).lower() == _USER_ENTITY:
                found.append((service["name"], str(entity["name"])))
    if not found:
        return None
    found.sort(key=lambda pair: (pair[0].lower() not in _PREFERRED_SERVICES, pair[0].lower()))
    return found[0]


def realtime_query(user_id: str, start: datetime, end: datetime, service: str, *, page_size: int) -> dict[str, Any]:
    """The body of POST /api/v2/audits/query/realtime for one user's changes, newest first."""
    return {
        "interval": f"{utc_iso(start)}/{utc_iso(end)}",
        "serviceName": service,
        "filters": [{"property": "EntityId", "value": user_id}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
        "pageNumber": 1,
        "pageSize": page_size,
    }


def _values(raw: Any) -> set[str]:
    return {str(v).lower() for v in raw} if isinstance(raw, list) else set()


def _shows_state(message: Mapping[str, Any], state: str) -> bool:
    """Does the message record a change of the user's ``state`` to ``state``?"""
    changes = message.get("propertyChanges")
    if not isinstance(changes, list):
        return False
    for change in changes:
        if not isinstance(change, Mapping) or str(change.get("property", "")).lower() != "state":
            continue
        if state.lower() in _values(change.get("newValues")):
            return True
    return False


def find_actor(
    answer: Any, *, user_id: str, since: datetime, until: datetime, live_state: str, own_client_id: str | None
) -> ChangedBy:
    """The newest audit message that set this user to ``live_state`` within [since, until], as a ChangedBy.

    UNKNOWN when no message qualifies. Raises ValueError when the answer is not
    an ``AuditRealtimeQueryResultsResponse`` at all.
    """
    entities = answer.get("entities") if isinstance(answer, Mapping) else None
    if not isinstance(entities, list):
        raise ValueError("the audit query answer has no 'entities' list")
    best: tuple[datetime, ChangedBy] | None = None
    for message in entities:
        if not isinstance(message, Mapping):
            continue
        entity = message.get("entity")
        if not isinstance(entity, Mapping) or entity.get("id") != user_id:
            continue
        if str(message.get("status", "SUCCESS")).upper() == "FAILURE":
            continue
        when = instant_or_none(message.get("eventDate"))
        if when is None or when < since or when > until or not _shows_state(message, live_state):
            continue
        user, client = _actor(message.get("user")), _actor(message.get("client"))
        own = client is not None and own_client_id is not None and client.id == own_client_id
        if user is not None:
            found = ChangedBy("user", user, client, when, own)
        elif client is not None:
            found = ChangedBy("client", None, client, when, own)
        else:
            continue
        if best is None or when > best[0]:
            best = (when, found)
    return best[1] if best else UNKNOWN
