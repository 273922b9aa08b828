"""What a failed tick says about the connection to Genesys, and what an operator must fix. Pure.

In: the exception a tick died of, or the failed results of its apply. Out:
whether Genesys was unreachable (for the backoff) and, for credentials and
permissions, one sentence naming exactly the variable or permission to fix.
Never a secret: only variable names and Genesys's permission names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import ApiError, AuthError, Forbidden, TransientError, UnexpectedResponse

__all__ = ["auth_fix", "is_unreachable", "permission_fix"]

# Genesys names permissions domain:entity:action ("directory:user:edit").
_PERMISSION = re.compile(r"\b([a-z]+:[a-zA-Z]+:[a-zA-Z]+)\b")
# What each write needs when Genesys's 403 does not say (reference §11).
_NEEDED = {
    "PATCH /api/v2/users/{id}": "directory:user:edit",
    "PUT /api/v2/users/{id}/state": "directory:user:edit",
    "DELETE /api/v2/tokens/{id}": "oauth:token:delete",
    "GET /api/v2/users": "directory:user:view",
    "POST /api/v2/users/search": "directory:user:view",
}
CREDENTIALS_FIX = (
    "Genesys rejected the OAuth client credentials: check GENESYSCLOUD_OAUTHCLIENT_ID and "
    "GENESYSCLOUD_OAUTHCLIENT_SECRET (and GENESYSCLOUD_REGION or GENESYSCLOUD_API_URL for the org's region)"
)


def is_unreachable(exc: BaseException) -> bool:
    """A tick that died of this could not talk to Genesys at all (or was not let in)."""
    return isinstance(exc, (TransientError, AuthError, Forbidden, UnexpectedResponse))


def permission_fix(message: str | None, request: str | None) -> str:
    named = _PERMISSION.findall(message or "")
    if not named and request:
        label = re.sub(r"/[0-9a-f-]{36}", "/{id}", request.split("?")[0])
        named = [_NEEDED[label]] if label in _NEEDED else []
    if named:
        which = ", ".join(dict.fromkeys(named))
        return f"grant the OAuth client's role the permission {which} (in every division holding managed users)"
    return "grant the OAuth client's role the permission Genesys refused (see reconciler doctor)"


def auth_fix(exc: BaseException | None = None, errors: Iterable[Mapping[str, Any]] = ()) -> str | None:
    """The one thing to fix when a tick failed on credentials or a permission; None otherwise."""
    if isinstance(exc, AuthError):
        return CREDENTIALS_FIX
    if isinstance(exc, Forbidden):
        return permission_fix(exc.message, exc.request)
    if isinstance(exc, ApiError):
        return None
    for error in errors:
        if error.get("status") == 403:
            return permission_fix(str(error.get("message") or ""), error.get("request"))
        if error.get("status") == 401:
            return CREDENTIALS_FIX
    return None
