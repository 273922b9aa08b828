"""Changing users: ``PATCH /api/v2/users/{id}`` and ``DELETE /api/v2/users/{id}``.

* ``PATCH`` requires ``version``; with ``state`` no other field may change; a
  stale version is 409 ``general.conflict``. Deactivating a user removes its
  roles (the admin-UI behaviour Genesys documents) and does not end its
  sessions: only ``DELETE /api/v2/tokens/{id}`` does (resources/tokens.py).
* ``DELETE`` marks the user deleted, with no roles and no live tokens.
* The ``fail_writes`` and ``conflicts`` faults act here.

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.routing import ID, Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import ApiFailure, Request, Response, json_body, json_response

__all__ = ["ROUTES", "UPDATE_FIELDS"]

UPDATE_FIELDS = frozenset(
    {
        "id",
        "name",
        "chat",
        "department",
        "email",
        "primaryContactInfo",
        "addresses",
        "title",
        "username",
        "preferredName",
        "manager",
        "images",
        "version",
        "profileSkills",
        "locations",
        "groups",
        "state",
        "acdAutoAnswer",
        "certifications",
        "biography",
        "employerInfo",
        "selfUri",
    }
)


def patch_user(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    require(client, {"admin", "directory:user:edit", "directory:organization:admin"})
    body = json_body(req)
    state.fail_write_if_told(user_id)
    org, faults = state.org, state.faults
    user = org.users.get(user_id)
    if user is None:
        raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
    if not isinstance(body, dict):
        raise ApiFailure(400, "bad.request", "The request body must be a User object")
    unknown = set(body) - UPDATE_FIELDS
    if unknown:
        raise ApiFailure(400, "bad.request", f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApiFailure(400, "bad.request", "version is required and must be an integer")
    if faults.conflicts.get(user_id, 0) > 0:
        faults.conflicts[user_id] -= 1
        faults.injected["concurrent_edit"] += 1
        org.update(user, title=user.title)  # another writer saves the user first
    if version != user.version:
        raise ApiFailure(409, "general.conflict", "The version supplied does not match the current version of the user")
    if "state" in body:
        new_state = body["state"]
        if new_state not in ("active", "inactive", "deleted"):
            raise ApiFailure(
                400,
                "invalid.value",
                f"Value [{new_state}] is not valid for field type "
                f"[state]. Allowable values are: active, inactive, deleted",
            )
        others = set(body) - {"state", "version", "id", "selfUri"}
        if others:
            raise ApiFailure(
                400,
                "bad.request",
                f"When state is specified it is the only modifiable field; also got: {', '.join(sorted(others))}",
            )
        changes: dict[str, Any] = {"state": new_state}
        if new_state == "inactive":
            changes["roles"] = []  # directly assigned roles are removed on deactivation
        org.update(user, **changes)
    else:
        org.update(user, **{k: v for k, v in body.items() if k in ("name", "department", "title")})
    return json_response(200, user.to_api())


def delete_user(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    require(client, {"admin", "directory:user:delete", "directory:organization:admin"})
    user = state.org.users.get(user_id)
    if user is None or user.state == "deleted":
        raise ApiFailure(404, "user.not.found.on.delete", "Unable to find a user with that userId")
    state.org.update(user, state="deleted", roles=[], live_tokens=0)
    return json_response(200, {})


ROUTES = (
    Route.of("PATCH", f"/api/v2/users/{ID}", patch_user),
    Route.of("DELETE", f"/api/v2/users/{ID}", delete_user),
)
