"""The OAuth token endpoint: ``POST /oauth/token`` with the client-credentials grant.

Outside ``/api/v2`` and before authentication: the dispatcher (app.py) sends
every request for ``TOKEN_PATH`` here. The client authenticates with HTTP
Basic (compared in constant time); the answer is a bearer token that lives
``Client.token_lifetime`` seconds on the sandbox's clock, or 400/401 with an
OAuth error body. No routing beyond ``TOKEN_PATH``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import parse_qs

from reconciler.sandbox.auth import Token
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import Request, Response, json_response

__all__ = ["TOKEN_PATH", "issue_token"]

TOKEN_PATH = "/oauth/token"  # noqa: S105  # a path, not a secret


def issue_token(state: SandboxState, req: Request) -> Response:
    auth = req.header("authorization") or ""
    client = None
    if auth.startswith("Basic "):
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            cid, secret = "", ""
        candidate = state.clients.get(cid)
        if candidate is not None and secrets.compare_digest(candidate.secret, secret):
            client = candidate
    form = parse_qs(req.body.decode(errors="replace"))
    if form.get("grant_type") != ["client_credentials"]:
        return json_response(
            400, {"error": "unsupported_grant_type", "description": "grant_type must be client_credentials"}
        )
    if client is None:
        return json_response(401, {"error": "invalid_client", "description": "client not found or bad secret"})
    token = secrets.token_urlsafe(32)
    state.tokens[token] = Token(client, state.clock() + client.token_lifetime)
    return json_response(200, {"access_token": token, "token_type": "bearer", "expires_in": client.token_lifetime})
