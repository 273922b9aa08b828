"""Searching users: ``POST /api/v2/users/search`` and its paging form ``GET /api/v2/users/search?q64=``.

* Only active users are returned when no ``state`` criterion is given.
* Only ``EXACT`` criteria on one of email, state, id or name; emails match
  case-sensitively; ``pageSize`` and ``values`` are capped at 100; results are
  limited to 10,000.
* Search reads a lagging index (``Org.search_view``): a user written a moment
  ago may still be found in its old state, or not at all.

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.org import SandboxUser
from reconciler.sandbox.resources.users import DEEP_PAGING_LIMIT
from reconciler.sandbox.routing import Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import ApiFailure, Request, Response, json_body, json_response, query_params, single_param

__all__ = ["MAX_SEARCH_PAGE", "MAX_SEARCH_VALUES", "ROUTES"]

MAX_SEARCH_PAGE = 100
MAX_SEARCH_VALUES = 100


def search(state: SandboxState, req: Request, client: Client) -> Response:
    require(client, {"directory:user:view"})
    return _run(state, json_body(req))


def search_q64(state: SandboxState, req: Request, client: Client) -> Response:
    require(client, {"directory:user:view"})
    q64 = single_param(query_params(req), "q64")
    try:
        body = json.loads(base64.urlsafe_b64decode((q64 or "") + "=" * (-len(q64 or "") % 4)))
    except (ValueError, binascii.Error):
        raise ApiFailure(400, "bad.request", "Invalid q64") from None
    return _run(state, body)


def _run(state: SandboxState, body: Any) -> Response:
    if not isinstance(body, dict) or not isinstance(body.get("query"), list) or not body["query"]:
        raise ApiFailure(400, "bad.request", "query is required")
    page_size = body.get("pageSize", 25)
    page_number = body.get("pageNumber", 1)
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_SEARCH_PAGE:
        raise ApiFailure(400, "invalid.value", f"pageSize must be between 1 and {MAX_SEARCH_PAGE}")
    if not isinstance(page_number, int) or page_number < 1:
        raise ApiFailure(400, "invalid.value", "pageNumber must be 1 or more")
    if page_number * page_size > DEEP_PAGING_LIMIT:
        raise ApiFailure(400, "bad.request", f"Search results are limited to {DEEP_PAGING_LIMIT}")
    criteria = _criteria(body["query"])
    states = (
        set().union(*(v for f, v in criteria if f == "state")) if any(f == "state" for f, _ in criteria) else {"active"}
    )
    org = state.org
    # candidates: narrow by an email or id criterion when there is one, else scan
    candidates: list[SandboxUser]
    email_sets = [v for f, v in criteria if f == "email"]
    if email_sets:
        ids = {i for e in email_sets[0] for i in org.ids_by_email(e.lower())}
        candidates = [org.users[i] for i in ids]
    else:
        candidates = list(org.users.values())
    hits: list[dict[str, Any]] = []
    expand = body.get("expand") or []
    for user in candidates:
        view = org.search_view(user)
        if view is None:
            continue
        indexed_state, version = view
        record = {"email": user.email, "state": indexed_state, "id": user.id, "name": user.name}
        if indexed_state not in states or not all(record[f] in vals for f, vals in criteria if f != "state"):
            continue
        shaped = user.to_api(expand)
        shaped["state"], shaped["version"] = indexed_state, version
        hits.append(shaped)
    hits.sort(key=lambda u: (u["email"], u["id"]))
    total = len(hits)
    page_count = -(-total // page_size)
    start = (page_number - 1) * page_size

    def q64(n: int) -> str:
        encoded = base64.urlsafe_b64encode(json.dumps({**body, "pageNumber": n}).encode()).decode()
        return "/api/v2/users/search?q64=" + encoded.rstrip("=")

    out: dict[str, Any] = {
        "total": total,
        "pageCount": page_count,
        "pageSize": page_size,
        "pageNumber": page_number,
        "types": ["users"],
        "results": hits[start : start + page_size],
        "currentPage": q64(page_number),
    }
    if page_number < page_count:
        out["nextPage"] = q64(page_number + 1)
    if page_number > 1:
        out["previousPage"] = q64(page_number - 1)
    return json_response(200, out)


def _criteria(query: list[Any]) -> list[tuple[str, set[str]]]:
    """The query's criteria as (field, accepted values); 400 for anything the sandbox does not emulate."""
    criteria: list[tuple[str, set[str]]] = []
    for c in query:
        if not isinstance(c, dict) or "type" not in c:
            raise ApiFailure(400, "bad.request", "Each query criterion needs a type")
        if c["type"] != "EXACT":
            raise ApiFailure(400, "invalid.value", f"The sandbox emulates EXACT criteria only, got {c['type']}")
        fields_ = c.get("fields") or []
        values: Any = c.get("values") if "values" in c else [c.get("value")]
        if not fields_ or len(fields_) != 1 or fields_[0] not in ("email", "state", "id", "name"):
            raise ApiFailure(400, "invalid.value", "fields must name one of: email, state, id, name")
        if not values or any(not isinstance(v, str) for v in values):
            raise ApiFailure(400, "bad.request", "EXACT criteria need a value or values")
        if len(values) > MAX_SEARCH_VALUES:
            raise ApiFailure(400, "invalid.value", f"At most {MAX_SEARCH_VALUES} values per criterion")
        criteria.append((fields_[0], set(values)))
    return criteria


ROUTES = (
    Route.of("POST", "/api/v2/users/search", search),
    Route.of("GET", "/api/v2/users/search", search_q64),
)
