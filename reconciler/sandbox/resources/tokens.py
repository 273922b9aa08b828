"""Tokens: ``DELETE /api/v2/tokens/{userId}`` (end a user's sessions) and ``GET /api/v2/tokens/me``.

Revoking is the only way a user's live tokens end: deactivating does not
(resources/user_updates.py). ``tokens/me`` describes the calling OAuth client
and its organisation, as ``doctor`` reads it. The ``fail_writes`` fault acts on
revocations too.

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.routing import ID, Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import ApiFailure, Request, Response, json_response

__all__ = ["ROUTES"]


def revoke_tokens(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    require(client, {"oauth:token:delete"})
    state.fail_write_if_told(user_id)
    user = state.org.users.get(user_id)
    if user is None:
        raise ApiFailure(404, "not.found", "The requested resource was not found.")
    user.live_tokens = 0
    state.org.dirty = True
    return Response(204)


def token_me(state: SandboxState, req: Request, client: Client) -> Response:
    return json_response(
        200,
        {
            "organization": {"id": "sandbox-org", "name": "Sandbox Org"},
            "homeOrganization": {"id": "sandbox-org", "name": "Sandbox Org"},
            "authorizedScope": [],
            "OAuthClient": {"id": client.client_id, "name": client.client_id},
        },
    )


ROUTES = (
    Route.of("DELETE", f"/api/v2/tokens/{ID}", revoke_tokens),
    Route.of("GET", "/api/v2/tokens/me", token_me),
)
