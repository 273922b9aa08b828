"""Changing users: ``PATCH /api/v2/users/{id}``, ``PUT /api/v2/users/{id}/state`` and ``DELETE``.

* ``PATCH`` requires ``version``; with ``state`` no other field may change; a
  stale version is 409 ``general.conflict``. Deactivating a user removes its
  roles (the admin-UI behaviour Genesys documents) and does not end its
  sessions: only ``DELETE /api/v2/tokens/{id}`` does (resources/tokens.py).
* ``PUT /state`` takes exactly a UserState ``{state, version,
  stateChangeReason}``: the same version rules as PATCH (whether Genesys
  enforces the version here is not documented; the strictest reading is that
  it does, with the same 409), ``state`` and ``version`` required, a reason
  outside Genesys's six refused with 400 ``invalid.value``. It answers a
  UserState with ``stateChangeDate``.
* Every state change is recorded in the audit trail as made by the calling
  client; a flip-back rule (audit_trail.py) may then undo it, after the answer.
* ``DELETE`` marks the user deleted, with no roles and no live tokens.
* The ``fail_writes`` and ``conflicts`` faults act here.

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.sandbox.audit_trail import Actor
from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.org import SandboxUser
from reconciler.sandbox.routing import ID, Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import ApiFailure, Request, Response, json_body, json_response

__all__ = ["REASONS", "ROUTES", "UPDATE_FIELDS"]

REASONS = ("Voluntary", "Seasonal", "Leave", "Performance", "Conduct", "Unknown")
USER_STATES = ("active", "inactive", "deleted")

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
    org = state.org
    user = org.users.get(user_id)
    if user is None:
        raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
    if not isinstance(body, dict):
        raise ApiFailure(400, "bad.request", "The request body must be a User object")
    unknown = set(body) - UPDATE_FIELDS
    if unknown:
        raise ApiFailure(400, "bad.request", f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    _check_version(state, user, body.get("version"))
    if "state" in body:
        new_state = _state_value(body["state"])
        others = set(body) - {"state", "version", "id", "selfUri"}
        if others:
            raise ApiFailure(
                400,
                "bad.request",
                f"When state is specified it is the only modifiable field; also got: {', '.join(sorted(others))}",
            )
        actor = Actor(client.client_id)
        state.change_state(user, new_state, actor)
        answer = json_response(200, user.to_api())
        state.flip_back(user, actor)  # after the answer, as an identity provider would
        return answer
    org.update(user, **{k: v for k, v in body.items() if k in ("name", "department", "title")})
    return json_response(200, user.to_api())


def put_user_state(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    require(client, {"directory:user:edit"})
    body = json_body(req)
    state.fail_write_if_told(user_id)
    user = state.org.users.get(user_id)
    if user is None:
        raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
    if not isinstance(body, dict):
        raise ApiFailure(400, "bad.request", "The request body must be a UserState object")
    unknown = set(body) - {"state", "version", "stateChangeReason"}
    if unknown:
        raise ApiFailure(400, "bad.request", f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    if "state" not in body:
        raise ApiFailure(400, "bad.request", "state is required")
    new_state = _state_value(body["state"])
    reason = body.get("stateChangeReason")
    if reason is not None and reason not in REASONS:
        raise ApiFailure(
            400,
            "invalid.value",
            f"Value [{reason}] is not valid for field type [stateChangeReason]. Allowable values are: "
            f"{', '.join(REASONS)}",
        )
    _check_version(state, user, body.get("version"))
    actor = Actor(client.client_id)
    state.change_state(user, new_state, actor, reason)
    answer = json_response(
        200,
        {
            "state": user.state,
            "version": user.version,
            "stateChangeReason": reason,
            "stateChangeDate": datetime.fromtimestamp(state.org.wall(), UTC).isoformat(timespec="seconds"),
        },
    )
    state.flip_back(user, actor)
    return answer


def _state_value(value: Any) -> str:
    if value not in USER_STATES:
        raise ApiFailure(
            400,
            "invalid.value",
            f"Value [{value}] is not valid for field type [state]. Allowable values are: {', '.join(USER_STATES)}",
        )
    return str(value)


def _check_version(state: SandboxState, user: SandboxUser, version: Any) -> None:
    """The version rules every user write shares: required, an integer, the current one (else 409)."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApiFailure(400, "bad.request", "version is required and must be an integer")
    faults = state.faults
    if faults.conflicts.get(user.id, 0) > 0:
        faults.conflicts[user.id] -= 1
        faults.injected["concurrent_edit"] += 1
        state.org.update(user, title=user.title)  # another writer saves the user first
    if version != user.version:
        raise ApiFailure(409, "general.conflict", "The version supplied does not match the current version of the user")


def delete_user(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    require(client, {"admin", "directory:user:delete", "directory:organization:admin"})
    user = state.org.users.get(user_id)
    if user is None or user.state == "deleted":
        raise ApiFailure(404, "user.not.found.on.delete", "Unable to find a user with that userId")
    state.change_state(user, "deleted", Actor(client.client_id))
    user.roles, user.live_tokens = [], 0
    return json_response(200, {})


ROUTES = (
    Route.of("PATCH", f"/api/v2/users/{ID}", patch_user),
    Route.of("PUT", f"/api/v2/users/{ID}/state", put_user_state),
    Route.of("DELETE", f"/api/v2/users/{ID}", delete_user),
)
