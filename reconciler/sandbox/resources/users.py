"""Reading users: ``GET /api/v2/users``, ``GET /api/v2/users/query`` and ``GET /api/v2/users/{id}``.

Where Genesys documents the behaviour we copy it; where it does not, the
strictest plausible reading:

* ``GET /api/v2/users`` returns only active users unless ``state`` says
  otherwise, pages at 25 by default (also for ``id=`` lookups), caps
  ``pageSize`` at 500, takes ids comma-joined only (at most 100), and refuses
  to page a non-active listing beyond 10,000 results (Genesys's DEVTOOLING-862).
* ``GET /api/v2/users/query`` pages with an opaque cursor bound to its query.
* ``GET /api/v2/users/{id}`` returns active and inactive users, deleted ones
  only with ``state=deleted``.
* A ``mangle`` fault misreports a user in every read here (an unknown state, no
  version, or its expansions left out).

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.org import SandboxUser
from reconciler.sandbox.routing import ID, Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import (
    ApiFailure,
    Params,
    Request,
    Response,
    int_param,
    json_response,
    query_params,
    single_param,
)

__all__ = ["DEEP_PAGING_LIMIT", "EXPANDS", "MAX_IDS", "MAX_PAGE_SIZE", "ROUTES"]

EXPANDS = frozenset(
    {
        "routingstatus",
        "presence",
        "integrationpresence",
        "conversationsummary",
        "outofoffice",
        "geolocation",
        "station",
        "authorization",
        "lasttokenissued",
        "authorization.unusedroles",
        "team",
        "workplanbidranks",
        "externalcontactssettings",
        "groups",
        "customattributes",
        "profileskills",
        "certifications",
        "locations",
        "skills",
        "languages",
        "languagepreference",
        "employerinfo",
        "biography",
        "datelastlogin",
        "datewelcomesent",
    }
)
MAX_PAGE_SIZE = 500
MAX_IDS = 100
DEEP_PAGING_LIMIT = 10_000


def list_users(state: SandboxState, req: Request, client: Client) -> Response:
    params = query_params(req)
    page_size = int_param(params, "pageSize", 25, 1, MAX_PAGE_SIZE)
    page_number = int_param(params, "pageNumber", 1, 1, 1_000_000)
    wanted = state_filter(single_param(params, "state"), ("active", "inactive", "deleted", "any"))
    expand = expand_param(params)
    order = (single_param(params, "sortOrder", "ASC") or "ASC").lower()
    if order not in ("asc", "ascending", "desc", "descending"):
        raise ApiFailure(400, "invalid.value", f"Value [{order}] is not valid for field type [sortOrder]")
    users = state.org.users
    raw_ids = single_param(params, "id")
    if raw_ids is not None:
        ids = [i for i in raw_ids.split(",") if i]
        if len(ids) > MAX_IDS:
            raise ApiFailure(400, "max.user.ids", "Only 100 users can be requested at a time.")
        found = [users[i] for i in dict.fromkeys(ids) if i in users]
        matching = sorted((u for u in found if _matches(u, wanted)), key=lambda u: (u.name, u.id))
    else:
        if wanted != "active" and page_number * page_size > DEEP_PAGING_LIMIT:
            raise ApiFailure(400, "bad.request", f"Paging beyond {DEEP_PAGING_LIMIT} {wanted} users is not supported")
        matching = [users[i] for i in state.ordered_ids() if _matches(users[i], wanted)]
    if order.startswith("desc"):
        matching.reverse()
    total = len(matching)
    page_count = max(1, -(-total // page_size))
    start = (page_number - 1) * page_size
    page = matching[start : start + page_size]

    def uri(n: int) -> str:
        q = [(k, v) for k, vs in params.items() if k not in ("pageNumber", "pageSize") for v in vs]
        return "/api/v2/users?" + urlencode([("pageSize", page_size), ("pageNumber", n), *q])

    body: dict[str, Any] = {
        "entities": [shape(state, u, expand) for u in page],
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count),
    }
    if page_number < page_count:
        body["nextUri"] = uri(page_number + 1)
    if page_number > 1:
        body["previousUri"] = uri(page_number - 1)
    return json_response(200, body)


def query_users(state: SandboxState, req: Request, client: Client) -> Response:
    require(client, {"directory:user:view"})
    params = query_params(req)
    page_size = int_param(params, "pageSize", 25, 1, MAX_PAGE_SIZE)
    wanted = state_filter(single_param(params, "state"), ("active", "inactive", "deleted", "any"))
    expand = expand_param(params)
    cursor = single_param(params, "cursor")
    position = 0
    if cursor:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            position, cursor_state = int(decoded["p"]), decoded["s"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiFailure(400, "bad.request", "Invalid cursor") from None
        if cursor_state != wanted:
            raise ApiFailure(400, "bad.request", "The cursor was issued for another query")
    ids = state.cursor_ids()  # a stable order for cursors
    page: list[SandboxUser] = []
    while position < len(ids) and len(page) < page_size:
        user = state.org.users[ids[position]]
        position += 1
        if _matches(user, wanted):
            page.append(user)
    body: dict[str, Any] = {
        "entities": [shape(state, u, expand) for u in page],
        "results": len(page),
        "selfUri": f"/api/v2/users/query?{req.query}",
    }
    if position < len(ids):
        token = base64.urlsafe_b64encode(json.dumps({"p": position, "s": wanted}).encode()).decode().rstrip("=")
        body["cursor"] = token
        q = [(k, v) for k, vs in params.items() if k != "cursor" for v in vs]
        body["nextUri"] = "/api/v2/users/query?" + urlencode([("cursor", token), *q])
    return json_response(200, body)


def get_user(state: SandboxState, req: Request, client: Client, user_id: str) -> Response:
    params = query_params(req)
    wanted = state_filter(single_param(params, "state"), ("active", "deleted"))
    expand = expand_param(params)
    user = state.org.users.get(user_id)
    # Without state=deleted Genesys returns active and inactive users, never deleted ones.
    if user is None or (user.state == "deleted") != (wanted == "deleted"):
        raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
    return json_response(200, shape(state, user, expand))


def expand_param(params: Params) -> list[str]:
    values = [v for raw in params.get("expand", []) for v in raw.split(",") if v]
    for v in values:
        if v.lower() not in EXPANDS:
            raise ApiFailure(400, "invalid.value", f"Value [{v}] is not valid for field type [expand]")
    return values


def state_filter(value: str | None, allowed: tuple[str, ...]) -> str:
    wanted = value or "active"
    if wanted not in allowed:
        raise ApiFailure(
            400,
            "invalid.value",
            f"Value [{wanted}] is not valid for field type [state]. Allowable values are: {', '.join(allowed)}",
        )
    return wanted


def shape(state: SandboxState, user: SandboxUser, expand: list[str]) -> dict[str, Any]:
    """A user as reads return it, misreported when a 'mangle' fault says so."""
    body = user.to_api(expand)
    how = state.faults.mangle.get(user.id)
    if how == "unknown_state":
        body["state"] = "suspended"
    elif how == "missing_version":
        del body["version"]
    elif how == "no_expand":
        for key in ("lastTokenIssued", "dateLastLogin", "authorization"):
            body.pop(key, None)
    if how:
        state.faults.injected[f"mangled_{how}"] += 1
    return body


def _matches(user: SandboxUser, wanted: str) -> bool:
    return wanted == "any" or user.state == wanted


ROUTES = (
    Route.of("GET", "/api/v2/users", list_users),
    Route.of("GET", "/api/v2/users/query", query_users),
    Route.of("GET", f"/api/v2/users/{ID}", get_user),
)
