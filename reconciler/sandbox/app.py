"""The sandbox's HTTP semantics: Genesys Cloud's endpoints, as strict as plausible.

In: a parsed request. Out: status, headers and body. No sockets here (server.py
adapts this to real HTTP; tests may also call ``handle`` directly). Where
Genesys's behaviour is documented we copy it (shapes, codes, ``state``
defaults, the 100-id limit, 409 ``general.conflict``, 429 with Retry-After);
where it is not, we take the strictest plausible reading so the client never
comes to rely on leniency:

* ``GET /api/v2/users`` returns only active users unless ``state`` says
  otherwise, pages at 25 by default (also for ``id=`` lookups), caps
  ``pageSize`` at 500, takes ids comma-joined only, and refuses to page a
  non-active listing beyond 10,000 results (Genesys's DEVTOOLING-862).
* ``POST /api/v2/users/search`` returns only active users when no ``state``
  criterion is given, matches ``EXACT`` emails case-sensitively, caps
  ``pageSize`` and ``values`` at 100, and serves a lagging index.
* ``PATCH /api/v2/users/{id}`` requires ``version``; with ``state`` no other
  field may change; a stale version is 409 ``general.conflict``.
* Deactivating a user removes its roles (the admin-UI behaviour Genesys
  documents) and does not end its sessions: only ``DELETE /api/v2/tokens``
  does.
* ``inin-ratelimit-*`` headers are off by default (Genesys removed them in
  2021); ``RateLimit.send_headers`` turns them on.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from reconciler.sandbox.faults import Faults, RateLimit
from reconciler.sandbox.org import Org, SandboxUser

__all__ = ["ALL_PERMISSIONS", "Client", "Request", "Response", "SandboxApp"]

ALL_PERMISSIONS = frozenset(
    {"directory:user:view", "directory:user:edit", "oauth:token:delete", "directory:user:delete"}
)
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
MAX_SEARCH_PAGE = 100
MAX_SEARCH_VALUES = 100
DEEP_PAGING_LIMIT = 10_000
MAX_BODY = 512_000
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


@dataclass
class Client:
    client_id: str
    secret: str
    permissions: frozenset[str] = ALL_PERMISSIONS
    token_lifetime: int = 86_400


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering


@dataclass
class _Token:
    client: Client
    expires: float
    requests: int = 0
    revoked: bool = False


class ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None):
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []
        super().__init__(message)


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), [("Content-Type", "application/json")] + (headers or []))


class SandboxApp:
    def __init__(
        self,
        org: Org,
        *,
        clients: list[Client] | None = None,
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.org = org
        self.clients = {c.client_id: c for c in (clients or [])}
        self.rate_limit = rate_limit or RateLimit()
        self.faults = faults or Faults()
        self.clock = clock
        self.sleep = sleep
        self.tokens: dict[str, _Token] = {}
        self.log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._sorted_ids: list[str] | None = None
        self._id_order: list[str] | None = None
        from reconciler.sandbox.testapi import TestApi

        self._test_api = TestApi(self)

    # --- entry point ----------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return self._test_api.handle(req)
        arrived = self.clock()
        correlation = str(uuid.uuid4())
        if self.faults.latency > 0 and req.path.startswith("/api/"):
            self.sleep(self.faults.latency)
        with self.org.lock:
            try:
                resp = self._dispatch(req)
            except _Drop:
                resp = Response(0, drop=True)
            except _Html:
                resp = Response(200, b"<html><body>Down for maintenance</body></html>", [("Content-Type", "text/html")])
            except ApiFailure as exc:
                body = {
                    "message": exc.message,
                    "code": exc.code,
                    "status": exc.status,
                    "contextId": correlation,
                    "details": [],
                    "errors": [],
                }
                resp = _json(exc.status, body, exc.headers)
            resp.headers.append(("ININ-Correlation-Id", correlation))
            self._record(req, resp, arrived)
        if self.faults.response_delay > 0 and req.path.startswith("/api/"):
            self.sleep(self.faults.response_delay)
        if self.faults.write_response_delay > 0 and self._is_write(req):
            self.sleep(self.faults.write_response_delay)
        return resp

    def _record(self, req: Request, resp: Response, arrived: float) -> None:
        entry: dict[str, Any] = {
            "seq": len(self.log),
            "arrived": arrived,
            "t": self.clock(),
            "wall": self.org.wall(),
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "status": resp.status,  # 0: dropped before any processing
            "dropped": resp.drop,
        }
        retry_after = next((v for k, v in resp.headers if k == "Retry-After"), None)
        if retry_after is not None:
            entry["retry_after"] = float(retry_after)
        if req.method in ("PATCH", "POST") and req.path.startswith("/api/"):
            try:
                entry["body"] = json.loads(req.body or b"null")
            except ValueError:
                entry["body"] = None
        with self._log_lock:
            entry["seq"] = len(self.log)
            self.log.append(entry)

    def _dispatch(self, req: Request) -> Response:
        if req.path == "/oauth/token":
            return self._token(req)
        if not req.path.startswith("/api/v2/"):
            raise ApiFailure(404, "not.found", "The requested resource was not found.")
        token_key, token = self._authenticate(req)
        extra = self._rate_limit(token_key)
        self._inject(req)
        handler, args = self._route(req)
        resp: Response = handler(req, token.client, *args)
        resp.headers.extend(extra)
        if self._is_write(req) and resp.status < 300 and self.faults.take("drop_after_write"):
            self.faults.injected["drop_after_write"] += 1
            resp.drop = True
        return resp

    @staticmethod
    def _is_write(req: Request) -> bool:
        return (req.method == "PATCH" and req.path.startswith("/api/v2/users/")) or (
            req.method == "DELETE" and req.path.startswith("/api/v2/tokens/")
        )

    # --- auth, limits, faults ---------------------------------------------------

    def _token(self, req: Request) -> Response:
        auth = req.header("authorization") or ""
        client = None
        if auth.startswith("Basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                cid, secret = "", ""
            candidate = self.clients.get(cid)
            if candidate is not None and secrets.compare_digest(candidate.secret, secret):
                client = candidate
        form = parse_qs(req.body.decode(errors="replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return _json(
                400, {"error": "unsupported_grant_type", "description": "grant_type must be client_credentials"}
            )
        if client is None:
            return _json(401, {"error": "invalid_client", "description": "client not found or bad secret"})
        token = secrets.token_urlsafe(32)
        self.tokens[token] = _Token(client, self.clock() + client.token_lifetime)
        return _json(200, {"access_token": token, "token_type": "bearer", "expires_in": client.token_lifetime})

    def _authenticate(self, req: Request) -> tuple[str, _Token]:
        auth = req.header("authorization") or ""
        if not auth.startswith("Bearer "):
            raise ApiFailure(
                401, "authentication.required", "No authentication bearer token specified in authorization header."
            )
        key = auth[7:]
        token = self.tokens.get(key)
        if token is None or token.revoked or token.expires <= self.clock():
            raise ApiFailure(401, "bad.credentials", "Invalid login credentials.")
        token.requests += 1
        limit = self.faults.expire_tokens_after
        if limit is not None and token.requests > limit:
            token.revoked = True
            self.faults.injected["token_expired"] += 1
            raise ApiFailure(401, "bad.credentials", "Invalid login credentials.")
        return key, token

    def _rate_limit(self, token_key: str) -> list[tuple[str, str]]:
        ok, count, reset = self.rate_limit.hit(token_key, self.clock())
        headers: list[tuple[str, str]] = []
        if self.rate_limit.send_headers:
            headers = [
                ("inin-ratelimit-count", str(count)),
                ("inin-ratelimit-allowed", str(self.rate_limit.allowed)),
                ("inin-ratelimit-reset", _seconds(self.rate_limit.retry_after(reset))),
            ]
        if not ok:
            wait = self.rate_limit.retry_after(reset)
            raise ApiFailure(
                429,
                "too.many.requests.retry.after",
                f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds",
                [("Retry-After", _seconds(wait))],
            )
        return headers

    def _inject(self, req: Request) -> None:
        f = self.faults
        if f.take("rate_limit_storm") or f.roll(f.p_rate_limit):
            f.injected["rate_limited"] += 1
            wait = f.storm_retry_after
            raise ApiFailure(
                429,
                "too.many.requests.retry.after",
                f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds",
                [("Retry-After", _seconds(wait))],
            )
        if f.take("server_errors") or f.roll(f.p_server_error):
            f.injected[f"server_error_{f.server_error_status}"] += 1
            code = {502: "bad.gateway", 503: "service.unavailable", 504: "request.timeout"}.get(
                f.server_error_status, "internal.server.error"
            )
            raise ApiFailure(f.server_error_status, code, "The service is currently unavailable.")
        if f.take("drop_connections") or f.roll(f.p_drop):
            f.injected["dropped"] += 1
            raise _Drop()
        if f.take("non_json"):
            f.injected["non_json"] += 1
            raise _Html()

    # --- routing ----------------------------------------------------------------

    _ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
        ("GET", re.compile(r"^/api/v2/users$"), "_list_users"),
        ("GET", re.compile(r"^/api/v2/users/query$"), "_query_users"),
        ("POST", re.compile(r"^/api/v2/users/search$"), "_search"),
        ("GET", re.compile(r"^/api/v2/users/search$"), "_search_q64"),
        ("GET", re.compile(r"^/api/v2/users/([0-9a-f-]{36})$"), "_get_user"),
        ("PATCH", re.compile(r"^/api/v2/users/([0-9a-f-]{36})$"), "_patch_user"),
        ("DELETE", re.compile(r"^/api/v2/users/([0-9a-f-]{36})$"), "_delete_user"),
        ("DELETE", re.compile(r"^/api/v2/tokens/([0-9a-f-]{36})$"), "_revoke_tokens"),
        ("GET", re.compile(r"^/api/v2/tokens/me$"), "_token_me"),
    )

    def _route(self, req: Request) -> tuple[Callable[..., Response], tuple[str, ...]]:
        path_matched = False
        for method, pattern, name in self._ROUTES:
            m = pattern.match(req.path)
            if m:
                path_matched = True
                if method == req.method:
                    return getattr(self, name), m.groups()
        if path_matched:
            raise ApiFailure(405, "method.not.allowed", f"{req.method} is not allowed on {req.path}")
        raise ApiFailure(404, "not.found", "The requested resource was not found.")

    # --- helpers ------------------------------------------------------------------

    @staticmethod
    def _require(client: Client, any_of: set[str]) -> None:
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

    @staticmethod
    def _params(req: Request) -> dict[str, list[str]]:
        return parse_qs(req.query, keep_blank_values=True)

    @staticmethod
    def _single(params: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
        values = params.get(name)
        if not values:
            return default
        if len(values) > 1:
            raise ApiFailure(400, "bad.request", f"Parameter {name} was given more than once")
        return values[0]

    def _int(self, params: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
        raw = self._single(params, name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiFailure(400, "invalid.value", f"Value [{raw}] is not valid for field type [{name}]") from None
        if not low <= value <= high:
            raise ApiFailure(400, "invalid.value", f"{name} must be between {low} and {high}, got {value}")
        return value

    def _expand(self, params: dict[str, list[str]]) -> list[str]:
        values = [v for raw in params.get("expand", []) for v in raw.split(",") if v]
        for v in values:
            if v.lower() not in EXPANDS:
                raise ApiFailure(400, "invalid.value", f"Value [{v}] is not valid for field type [expand]")
        return values

    @staticmethod
    def _state_filter(value: str | None, allowed: tuple[str, ...]) -> str:
        state = value or "active"
        if state not in allowed:
            raise ApiFailure(
                400,
                "invalid.value",
                f"Value [{state}] is not valid for field type [state]. Allowable values are: {', '.join(allowed)}",
            )
        return state

    def _shape(self, user: SandboxUser, expand: list[str]) -> dict[str, Any]:
        """A user as reads return it, misreported when a 'mangle' fault says so."""
        body = user.to_api(expand)
        how = self.faults.mangle.get(user.id)
        if how == "unknown_state":
            body["state"] = "suspended"
        elif how == "missing_version":
            del body["version"]
        if how:
            self.faults.injected[f"mangled_{how}"] += 1
        return body

    @staticmethod
    def _matches(user: SandboxUser, state: str) -> bool:
        return state == "any" or user.state == state

    def _cursor_ids(self) -> list[str]:
        """Ids sorted once (not per page: a 100,000-user listing has 200 pages)."""
        if self._id_order is None or len(self._id_order) != len(self.org.users):
            self._id_order = sorted(self.org.users)
        return self._id_order

    def _ordered_ids(self) -> list[str]:
        if self._sorted_ids is None or len(self._sorted_ids) != len(self.org.users):
            self._sorted_ids = sorted(self.org.users, key=lambda i: (self.org.users[i].name, i))
        return self._sorted_ids

    def _body(self, req: Request) -> Any:
        if len(req.body) > MAX_BODY:
            raise ApiFailure(413, "request.entity.too.large", "Request body is too large")
        ctype = (req.header("content-type") or "").split(";")[0].strip()
        if ctype != "application/json":
            raise ApiFailure(415, "unsupported.media.type", "Content-Type must be application/json")
        try:
            return json.loads(req.body)
        except ValueError:
            raise ApiFailure(
                400, "bad.request", "The request could not be understood by the server due to malformed syntax."
            ) from None

    # --- users: list, cursor, get -------------------------------------------------

    def _list_users(self, req: Request, client: Client) -> Response:
        params = self._params(req)
        page_size = self._int(params, "pageSize", 25, 1, MAX_PAGE_SIZE)
        page_number = self._int(params, "pageNumber", 1, 1, 1_000_000)
        state = self._state_filter(self._single(params, "state"), ("active", "inactive", "deleted", "any"))
        expand = self._expand(params)
        order = (self._single(params, "sortOrder", "ASC") or "ASC").lower()
        if order not in ("asc", "ascending", "desc", "descending"):
            raise ApiFailure(400, "invalid.value", f"Value [{order}] is not valid for field type [sortOrder]")
        raw_ids = self._single(params, "id")
        if raw_ids is not None:
            ids = [i for i in raw_ids.split(",") if i]
            if len(ids) > MAX_IDS:
                raise ApiFailure(400, "max.user.ids", "Only 100 users can be requested at a time.")
            found = [self.org.users[i] for i in dict.fromkeys(ids) if i in self.org.users]
            matching = sorted((u for u in found if self._matches(u, state)), key=lambda u: (u.name, u.id))
        else:
            if state != "active" and page_number * page_size > DEEP_PAGING_LIMIT:
                raise ApiFailure(
                    400, "bad.request", f"Paging beyond {DEEP_PAGING_LIMIT} {state} users is not supported"
                )
            matching = [self.org.users[i] for i in self._ordered_ids() if self._matches(self.org.users[i], state)]
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
            "entities": [self._shape(u, expand) for u in page],
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
        return _json(200, body)

    def _query_users(self, req: Request, client: Client) -> Response:
        self._require(client, {"directory:user:view"})
        params = self._params(req)
        page_size = self._int(params, "pageSize", 25, 1, MAX_PAGE_SIZE)
        state = self._state_filter(self._single(params, "state"), ("active", "inactive", "deleted", "any"))
        expand = self._expand(params)
        cursor = self._single(params, "cursor")
        position = 0
        if cursor:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
                position, cursor_state = int(decoded["p"]), decoded["s"]
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise ApiFailure(400, "bad.request", "Invalid cursor") from None
            if cursor_state != state:
                raise ApiFailure(400, "bad.request", "The cursor was issued for another query")
        ids = self._cursor_ids()  # a stable order for cursors
        page: list[SandboxUser] = []
        while position < len(ids) and len(page) < page_size:
            user = self.org.users[ids[position]]
            position += 1
            if self._matches(user, state):
                page.append(user)
        body: dict[str, Any] = {
            "entities": [self._shape(u, expand) for u in page],
            "results": len(page),
            "selfUri": f"/api/v2/users/query?{req.query}",
        }
        if position < len(ids):
            token = base64.urlsafe_b64encode(json.dumps({"p": position, "s": state}).encode()).decode().rstrip("=")
            body["cursor"] = token
            q = [(k, v) for k, vs in params.items() if k != "cursor" for v in vs]
            body["nextUri"] = "/api/v2/users/query?" + urlencode([("cursor", token), *q])
        return _json(200, body)

    def _get_user(self, req: Request, client: Client, user_id: str) -> Response:
        params = self._params(req)
        state = self._state_filter(self._single(params, "state"), ("active", "deleted"))
        expand = self._expand(params)
        user = self.org.users.get(user_id)
        # Without state=deleted Genesys returns active and inactive users, never deleted ones.
        if user is None or (user.state == "deleted") != (state == "deleted"):
            raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
        return _json(200, self._shape(user, expand))

    # --- users: write -------------------------------------------------------------

    def _patch_user(self, req: Request, client: Client, user_id: str) -> Response:
        self._require(client, {"admin", "directory:user:edit", "directory:organization:admin"})
        body = self._body(req)
        status = self.faults.fail_writes.get(user_id)
        if status:
            self.faults.injected[f"write_failed_{status}"] += 1
            self._fail(status, user_id)
        user = self.org.users.get(user_id)
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
        if self.faults.conflicts.get(user_id, 0) > 0:
            self.faults.conflicts[user_id] -= 1
            self.faults.injected["concurrent_edit"] += 1
            self.org.update(user, title=user.title)  # another writer saves the user first
        if version != user.version:
            raise ApiFailure(
                409, "general.conflict", "The version supplied does not match the current version of the user"
            )
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
            self.org.update(user, **changes)
        else:
            self.org.update(user, **{k: v for k, v in body.items() if k in ("name", "department", "title")})
        return _json(200, user.to_api())

    def _delete_user(self, req: Request, client: Client, user_id: str) -> Response:
        self._require(client, {"admin", "directory:user:delete", "directory:organization:admin"})
        user = self.org.users.get(user_id)
        if user is None or user.state == "deleted":
            raise ApiFailure(404, "user.not.found.on.delete", "Unable to find a user with that userId")
        self.org.update(user, state="deleted", roles=[], live_tokens=0)
        return _json(200, {})

    def _revoke_tokens(self, req: Request, client: Client, user_id: str) -> Response:
        self._require(client, {"oauth:token:delete"})
        status = self.faults.fail_writes.get(user_id)
        if status:
            self.faults.injected[f"write_failed_{status}"] += 1
            self._fail(status, user_id)
        user = self.org.users.get(user_id)
        if user is None:
            raise ApiFailure(404, "not.found", "The requested resource was not found.")
        user.live_tokens = 0
        self.org.dirty = True
        return Response(204)

    def _fail(self, status: int, user_id: str) -> None:
        if status == 403:
            self._require(Client("x", "x", frozenset()), {"directory:user:edit"})
        if status == 404:
            raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
        raise ApiFailure(status, "internal.server.error", f"Injected failure for user {user_id}")

    def _token_me(self, req: Request, client: Client) -> Response:
        return _json(
            200,
            {
                "organization": {"id": "sandbox-org", "name": "Sandbox Org"},
                "homeOrganization": {"id": "sandbox-org", "name": "Sandbox Org"},
                "authorizedScope": [],
                "OAuthClient": {"id": client.client_id, "name": client.client_id},
            },
        )

    # --- search -------------------------------------------------------------------

    def _search(self, req: Request, client: Client) -> Response:
        self._require(client, {"directory:user:view"})
        return self._run_search(self._body(req))

    def _search_q64(self, req: Request, client: Client) -> Response:
        self._require(client, {"directory:user:view"})
        q64 = self._single(self._params(req), "q64")
        try:
            body = json.loads(base64.urlsafe_b64decode((q64 or "") + "=" * (-len(q64 or "") % 4)))
        except (ValueError, binascii.Error):
            raise ApiFailure(400, "bad.request", "Invalid q64") from None
        return self._run_search(body)

    def _run_search(self, body: Any) -> Response:
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
        criteria: list[tuple[str, set[str]]] = []
        for c in body["query"]:
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
        states = (
            set().union(*(v for f, v in criteria if f == "state"))
            if any(f == "state" for f, _ in criteria)
            else {"active"}
        )
        # candidates: narrow by an email or id criterion when there is one, else scan
        candidates: list[SandboxUser]
        email_sets = [v for f, v in criteria if f == "email"]
        if email_sets:
            ids = {i for e in email_sets[0] for i in self.org.ids_by_email(e.lower())}
            candidates = [self.org.users[i] for i in ids]
        else:
            candidates = list(self.org.users.values())
        hits: list[dict[str, Any]] = []
        expand = body.get("expand") or []
        for user in candidates:
            view = self.org.search_view(user)
            if view is None:
                continue
            state, version = view
            record = {"email": user.email, "state": state, "id": user.id, "name": user.name}
            if state not in states or not all(record[f] in vals for f, vals in criteria if f != "state"):
                continue
            shaped = user.to_api(expand)
            shaped["state"], shaped["version"] = state, version
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
        return _json(200, out)


def _seconds(value: float) -> str:
    """Retry-After as Genesys writes it: '3', not '3.0' (fractions only when time-scaled)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _Html(Exception):
    """Raised to answer 200 with an HTML page, as a misbehaving proxy or maintenance page would."""


class _Drop(ApiFailure):
    """Raised to close the connection without answering (handled by handle())."""

    def __init__(self) -> None:
        super().__init__(0, "dropped", "connection dropped")
