"""Who changed what: the audit messages the sandbox records, and the actors that keep flipping users back.

Every change of a user's ``state`` (through PATCH, PUT /state, DELETE or the
test API) becomes an ``AuditLogMessage`` in Genesys's shape (reference §14):
the acting ``user`` ({id, name}) and/or ``client`` ({id}, no name: a client's
name is only in ``GET /api/v2/oauth/clients/{id}``), ``eventDate`` on the
sandbox's clock, ``entity``, ``propertyChanges`` for ``state``. The service,
entity and action names (Directory / User / Update) are the plausible ones,
served by the service mapping so a client discovers them as it must in Genesys.

A *flip-back* rule plays an identity provider that re-provisions a user the
moment someone else changes it: ``FlipBack`` sets the user back to its state,
as its actor, up to ``times`` times. Holds data and pure helpers; the
resources and the test API call ``record`` and ``after_change``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ADMIN_UI_CLIENT",
    "DEFAULT_ADMIN",
    "SERVICE_MAPPING",
    "Actor",
    "AuditTrail",
    "FlipBack",
]

SERVICE = "Directory"
ENTITY_TYPE = "User"
SERVICE_MAPPING = {
    "services": [
        {"name": "Directory", "entities": [{"name": "User", "actions": ["Create", "Update", "Delete"]}]},
        {"name": "Groups", "entities": [{"name": "Group", "actions": ["Create", "Update", "Delete"]}]},
        {"name": "PeoplePermissions", "entities": [{"name": "Role", "actions": ["Create", "Update", "Delete"]}]},
    ]
}
# The admin UI is itself an OAuth client; a person acting there appears as user + that client.
ADMIN_UI_CLIENT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (``user_id`` and ``user_name``, through a client) or a client alone."""

    client_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None

    def as_audit(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user_id:
            out["user"] = {"id": self.user_id, "name": self.user_name, "selfUri": f"/api/v2/users/{self.user_id}"}
        if self.client_id:
            out["client"] = {"id": self.client_id, "selfUri": f"/api/v2/oauth/clients/{self.client_id}"}
        return out


DEFAULT_ADMIN = Actor(ADMIN_UI_CLIENT, "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "Pat Admin")


@dataclass
class FlipBack:
    """Whenever someone else moves the user away from ``state``, ``actor`` moves it back (``times`` more times)."""

    state: str
    actor: Actor
    times: int


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


@dataclass
class AuditTrail:
    messages: list[dict[str, Any]] = field(default_factory=list)
    flip_back: dict[str, FlipBack] = field(default_factory=dict)

    def record(self, *, wall: float, user_id: str, user_name: str, old: str, new: str, actor: Actor) -> None:
        if old == new:
            return
        self.messages.append(
            {
                "id": str(uuid.uuid4()),
                "userHomeOrgId": "sandbox-org",
                **actor.as_audit(),
                "remoteIp": ["127.0.0.1"],
                "serviceName": SERVICE,
                "level": "USER",
                "eventDate": _iso(wall),
                "action": "Delete" if new == "deleted" else "Update",
                "entity": {"id": user_id, "name": user_name, "selfUri": f"/api/v2/users/{user_id}"},
                "entityType": ENTITY_TYPE,
                "status": "SUCCESS",
                "propertyChanges": [{"property": "state", "oldValues": [old], "newValues": [new]}],
                "_wall": wall,  # for filtering; stripped from answers
            }
        )

    def query(self, *, start: float, end: float, filters: dict[str, str]) -> list[dict[str, Any]]:
        """Messages in [start, end) matching every filter (EntityId, UserId, ClientId, Action, EntityType)."""
        out = []
        for m in self.messages:
            if not start <= m["_wall"] < end:
                continue
            if all(_field(m, k) == v for k, v in filters.items()):
                out.append({k: v for k, v in m.items() if not k.startswith("_")})
        return out


def _field(message: dict[str, Any], name: str) -> Any:
    """The value a query filter compares (TrusteeOrganizationId never matches: no trustees here)."""
    if name == "EntityId":
        return message["entity"]["id"]
    if name in ("UserId", "ClientId"):
        return (message.get(name[:-2].lower()) or {}).get("id")
    return {"Action": message["action"], "EntityType": message["entityType"]}.get(name)
