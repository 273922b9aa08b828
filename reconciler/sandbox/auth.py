"""OAuth clients, the tokens they are issued, and the permission check every endpoint makes.

Values and one pure check: ``require`` answers 403 with Genesys's wording when
a client holds none of the permissions an endpoint needs. Issuing tokens is
the OAuth endpoint's job (resources/oauth.py); accepting them is the
dispatcher's (app.py). No state of its own, no HTTP beyond raising ApiFailure.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.sandbox.wire import ApiFailure

__all__ = ["ALL_PERMISSIONS", "Client", "Token", "require"]

ALL_PERMISSIONS = frozenset(
    {
        "directory:user:view",
        "directory:user:edit",
        "oauth:token:delete",
        "directory:user:delete",
        "audits:audit:view",
        "oauth:client:view",
    }
)


@dataclass
class Client:
    client_id: str
    secret: str
    permissions: frozenset[str] = ALL_PERMISSIONS
    token_lifetime: int = 86_400
    name: str = ""  # what GET /api/v2/oauth/clients/{id} answers


@dataclass
class Token:
    client: Client
    expires: float
    requests: int = 0
    revoked: bool = False


def require(client: Client, any_of: set[str]) -> None:
    if not client.permissions & any_of:
        names = ", ".join(sorted(any_of))
        if len(any_of) == 1:
            raise ApiFailure(
                403,
                "missing.permissions",
                f"Unable to perform the requested action. You are missing the following permission(s): [{names}]",
            )
        raise ApiFailure(
            403,
            "missing.any.permissions",
            f"Unable to perform the requested action. You must have at least one of the "
            f"following permissions assigned: [{names}]",
        )
