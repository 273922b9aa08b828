"""`reconciler doctor`: can this OAuth client do what the tool needs? Changes nothing.

Effectful (reads only, plus two write *probes* that cannot change anything).
Each check ends ``ok``, ``warn`` or ``fail`` with the Genesys permission name
it is about:

    configuration   environment variables, region, URLs
    login           client-credentials token from https://login.<domain>/oauth/token
    token           GET /api/v2/tokens/me (which OAuth client, which org)
    read users      POST /api/v2/users/search and GET /api/v2/users   directory:user:view
    full listing    GET /api/v2/users/query (warn only: batched reads still work)
    edit users      PATCH /api/v2/users/{nil id}                       directory:user:edit
    end sessions    DELETE /api/v2/tokens/{nil id}                     oauth:token:delete
    audit trail     GET /api/v2/audits/query/realtime/servicemapping   audits:audit:view  (optional: warn)
    client names    GET /api/v2/oauth/clients/{nil id}                 oauth:client:view  (optional: warn)

The two optional permissions only name who moved a drifted user; without
them drift is still reported and corrected, with the actor unknown.

The write probes live in ``probes.py``, which says why they cannot change
anyone (the nil user id, version 0). A 403 proves the permission is missing
and names it. A 404 means the permission check passed and the user was not found,
provided Genesys checks permissions before looking the user up (the usual
order, and the sandbox's; not documented by Genesys). If it does not, the
first real apply still reports the missing permission by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.core.settings import Settings
from reconciler.errors import ApiError, AuthError, ConfigError, Forbidden, NotFound
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import Connection, connection_from_env
from reconciler.genesys.probes import NIL_USER, probe_edit_users, probe_end_sessions
from reconciler.genesys.session import ApiSession

__all__ = ["NIL_USER", "Check", "run_checks"]

PROBE_EMAIL = "doctor-probe@reconciler.invalid"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skipped
    detail: str
    permission: str | None = None


def _missing(exc: Forbidden, permission: str) -> str:
    return f"missing permission {permission} ({exc.code}: {exc.message})"


def _probe(name: str, permission: str, call: Callable[[], object]) -> Check:
    try:
        call()
    except Forbidden as exc:
        return Check(name, "fail", _missing(exc, permission), permission)
    except NotFound:
        return Check(
            name,
            "ok",
            f"{permission}: a write probe on a user id that cannot exist was answered 'not found', not 'forbidden'",
            permission,
        )
    except ApiError as exc:
        return Check(name, "fail", f"unexpected answer to the probe: {exc}", permission)
    return Check(name, "ok", f"{permission}: the probe was accepted (nothing to change)", permission)


def _optional(client: GenesysClient) -> list[Check]:
    """Permissions that only name who moved a drifted user: missing is a warning, never a failure."""
    out: list[Check] = []
    for name, permission, call, lost in (
        (
            "audit trail",
            "audits:audit:view",
            client.audit_service_mapping,
            "drift is still reported and corrected, but who made it shows as unknown",
        ),
        (
            "client names",
            "oauth:client:view",
            lambda: client.oauth_client(NIL_USER),
            "a drift made by another OAuth client shows its id, not its name",
        ),
    ):
        try:
            call()
        except Forbidden:
            out.append(Check(name, "warn", f"optional {permission} is missing: {lost}", permission))
            continue
        except NotFound:
            pass  # the nil id: the permission check passed
        except ApiError as exc:
            out.append(Check(name, "warn", f"optional {permission}: unexpected answer ({exc}); {lost}", permission))
            continue
        out.append(Check(name, "ok", f"{permission} (optional): drift is attributed to whoever made it", permission))
    return out


def run_checks(
    env: Mapping[str, str],
    settings: Settings | None = None,
    session_factory: Callable[[Connection], ApiSession] | None = None,
) -> list[Check]:
    settings = settings or Settings()
    try:
        conn = connection_from_env(env)
    except ConfigError as exc:
        return [Check("configuration", "fail", str(exc))]
    checks = [Check("configuration", "ok", f"region {conn.region}, API {conn.api_url}, login {conn.login_url}")]
    session = session_factory(conn) if session_factory else ApiSession(conn, settings)
    client = GenesysClient(session)
    try:
        try:
            session.tokens.current()
        except AuthError as exc:
            return [*checks, Check("login", "fail", exc.message)]
        except ApiError as exc:
            return [*checks, Check("login", "fail", f"cannot get a token: {exc}")]
        checks.append(Check("login", "ok", "client-credentials token issued"))
        try:
            me = client.whoami()
            oauth = me.get("OAuthClient") or {}
            org = me.get("organization") or {}
            checks.append(
                Check(
                    "token",
                    "ok",
                    f"OAuth client {oauth.get('name') or oauth.get('id') or '?'} "
                    f"in org {org.get('name') or org.get('id') or '?'}",
                )
            )
        except ApiError as exc:
            checks.append(Check("token", "warn", f"GET /api/v2/tokens/me failed: {exc}"))
        try:
            client.search_emails([PROBE_EMAIL])
            client.users_by_ids([NIL_USER])
            checks.append(
                Check("read users", "ok", "directory:user:view: search and batched reads work", "directory:user:view")
            )
        except Forbidden as exc:
            checks.append(Check("read users", "fail", _missing(exc, "directory:user:view"), "directory:user:view"))
        except ApiError as exc:
            checks.append(Check("read users", "fail", str(exc), "directory:user:view"))
        try:
            client.listing_probe()
            checks.append(
                Check(
                    "full listing",
                    "ok",
                    "directory:user:view in every division: large plans may list all users when that costs fewer calls",
                    "directory:user:view",
                )
            )
        except ApiError as exc:
            checks.append(
                Check(
                    "full listing",
                    "warn",
                    f"not available ({exc.code or exc.status}); plans use batched reads only",
                    "directory:user:view",
                )
            )
        checks.append(_probe("edit users", "directory:user:edit", lambda: probe_edit_users(client)))
        checks.append(_probe("end sessions", "oauth:token:delete", lambda: probe_end_sessions(client)))
        checks += _optional(client)
        return checks
    finally:
        client.close()
