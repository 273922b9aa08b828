"""The audit trail: ``POST /api/v2/audits/query/realtime``, its service mapping, and OAuth client names.

* ``GET /api/v2/audits/query/realtime/servicemapping`` names the services and
  entities the realtime query knows (audit_trail.SERVICE_MAPPING).
* ``POST /api/v2/audits/query/realtime`` takes an AuditRealtimeQueryRequest:
  ``interval`` ("start/end", ISO 8601, required, at most the 14 days the
  realtime query covers), a ``serviceName`` from the mapping (required),
  ``filters`` on UserId, TrusteeOrganizationId, ClientId, Action, EntityType or
  EntityId, ``sort`` on Timestamp, ``pageNumber``/``pageSize`` (at most 500).
  Anything else is 400, as strict as plausible.
* ``GET /api/v2/oauth/clients/{id}`` answers a client's id and name.
* Permissions: ``audits:audit:view`` for the first two, ``oauth:client:view``
  for the last. The ``audit_failure`` fault answers every audit request with
  403, 500 or an HTML page.

Handlers take the state, the request and the calling client; they answer a
Response or raise ApiFailure. No sockets, no routing beyond ``ROUTES``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reconciler.sandbox.audit_trail import SERVICE_MAPPING
from reconciler.sandbox.auth import Client, require
from reconciler.sandbox.routing import ID, Route
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import ApiFailure, HtmlPage, Request, Response, json_body, json_response

__all__ = ["ROUTES"]

MAX_DAYS = 14
MAX_PAGE_SIZE = 500
FILTERS = ("UserId", "TrusteeOrganizationId", "ClientId", "Action", "EntityType", "EntityId")
SERVICES: tuple[str, ...] = tuple(str(s["name"]) for s in SERVICE_MAPPING["services"])


def _audit_gate(state: SandboxState, client: Client) -> None:
    failure = state.faults.audit_failure
    if failure:
        state.faults.injected[f"audit_{failure}"] += 1
    if failure == "non_json":
        raise HtmlPage()
    if failure == "500":
        raise ApiFailure(500, "internal.server.error", "The server encountered an internal error.")
    if failure == "403":
        require(Client("x", "x", frozenset()), {"audits:audit:view"})
    require(client, {"audits:audit:view"})


def service_mapping(state: SandboxState, req: Request, client: Client) -> Response:
    _audit_gate(state, client)
    return json_response(200, SERVICE_MAPPING)


def _instant(text: str) -> float:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiFailure(400, "invalid.date", f"Invalid date in interval: {text}") from None
    if when.tzinfo is None:
        raise ApiFailure(400, "invalid.date", f"The interval's dates need a time zone: {text}")
    return when.timestamp()


def realtime_query(state: SandboxState, req: Request, client: Client) -> Response:
    _audit_gate(state, client)
    body = json_body(req)
    if not isinstance(body, dict):
        raise ApiFailure(400, "bad.request", "The request body must be an AuditRealtimeQueryRequest")
    unknown = set(body) - {"interval", "serviceName", "filters", "sort", "pageNumber", "pageSize", "expand"}
    if unknown:
        raise ApiFailure(400, "bad.request", f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    interval = body.get("interval")
    if not isinstance(interval, str) or interval.count("/") != 1:
        raise ApiFailure(400, "invalid.date", "interval is required: <start>/<end> in ISO 8601")
    start, end = (_instant(part) for part in interval.split("/"))
    if end <= start or end - start > MAX_DAYS * 86400:
        raise ApiFailure(400, "invalid.date", f"The interval must be positive and at most {MAX_DAYS} days")
    if body.get("serviceName") not in SERVICES:
        raise ApiFailure(
            400,
            "invalid.value",
            f"Value [{body.get('serviceName')}] is not valid for field type [serviceName]. "
            f"Allowable values are: {', '.join(SERVICES)}",
        )
    filters: dict[str, str] = {}
    for item in body.get("filters") or []:
        if not isinstance(item, dict) or item.get("property") not in FILTERS or not isinstance(item.get("value"), str):
            raise ApiFailure(400, "invalid.value", f"Invalid filter {item!r}; properties are: {', '.join(FILTERS)}")
        filters[item["property"]] = item["value"]
    page_size, page_number = body.get("pageSize", 25), body.get("pageNumber", 1)
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApiFailure(400, "invalid.value", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if not isinstance(page_number, int) or page_number < 1:
        raise ApiFailure(400, "invalid.value", "pageNumber must be 1 or more")
    found = state.audit.query(start=start, end=end, filters=filters)
    descending = any(
        isinstance(s, dict) and str(s.get("sortOrder", "")).lower() == "descending" for s in body.get("sort") or []
    )
    found.sort(key=lambda m: m["eventDate"], reverse=descending)
    page = found[(page_number - 1) * page_size : page_number * page_size]
    answer: dict[str, Any] = {
        "entities": page,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": len(found),
        "pageCount": max(1, -(-len(found) // page_size)),
    }
    return json_response(200, answer)


def oauth_client(state: SandboxState, req: Request, client: Client, client_id: str) -> Response:
    require(client, {"oauth:client:view"})
    found = state.clients.get(client_id)
    if found is None:
        raise ApiFailure(404, "not.found", "The requested resource was not found.")
    return json_response(200, {"id": found.client_id, "name": found.name or found.client_id, "state": "active"})


ROUTES = (
    Route.of("GET", "/api/v2/audits/query/realtime/servicemapping", service_mapping),
    Route.of("POST", "/api/v2/audits/query/realtime", realtime_query),
    Route.of("GET", f"/api/v2/oauth/clients/{ID}", oauth_client),
)
