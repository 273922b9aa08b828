"""The sandbox's dispatcher: Genesys Cloud's front door, as strict as plausible.

In: a parsed Request. Out: a Response (status, headers, body). No sockets here
(server.py adapts this to real HTTP) and no endpoint either: the resources
live in resources/, one module each, and answer through the route table they
declare. What every ``/api/v2`` request goes through is here, in order:
``/oauth/token`` first (resources/oauth.py), then the bearer token (401),
the rate limit (429 with Retry-After), the injected faults, the route (404,
405), and the handler. Every answer carries ``ININ-Correlation-Id`` and every
error Genesys's error body; every request is logged.

* ``inin-ratelimit-*`` headers are off by default (Genesys removed them in
  2021); ``RateLimit.send_headers`` turns them on.
* Writes (``PATCH /api/v2/users/...``, ``PUT /api/v2/users/.../state``,
  ``DELETE /api/v2/tokens/...``) are what
  the ``drop_after_write`` and ``write_response_delay`` faults act on.

The test API (testapi.py) sits above this module and nothing here imports it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from reconciler.sandbox.auth import Token
from reconciler.sandbox.resources import ROUTES
from reconciler.sandbox.resources.oauth import TOKEN_PATH, issue_token
from reconciler.sandbox.routing import find
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wire import (
    ApiFailure,
    DropConnection,
    HtmlPage,
    Request,
    Response,
    json_response,
    seconds,
)

__all__ = ["SandboxApp", "is_write"]


class SandboxApp(SandboxState):
    """The emulated Genesys: its state (state.py) plus ``handle``."""

    def handle(self, req: Request) -> Response:
        arrived = self.clock()
        correlation = str(uuid.uuid4())
        if self.faults.latency > 0 and req.path.startswith("/api/"):
            self.sleep(self.faults.latency)
        with self.org.lock:
            try:
                resp = self._dispatch(req)
            except DropConnection:
                resp = Response(0, drop=True)
            except HtmlPage:
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
                resp = json_response(exc.status, body, exc.headers)
            resp.headers.append(("ININ-Correlation-Id", correlation))
            self._record(req, resp, arrived)
        if self.faults.response_delay > 0 and req.path.startswith("/api/"):
            self.sleep(self.faults.response_delay)
        if self.faults.write_response_delay > 0 and is_write(req):
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
        if req.method in ("PATCH", "POST", "PUT") and req.path.startswith("/api/"):
            try:
                entry["body"] = json.loads(req.body or b"null")
            except ValueError:
                entry["body"] = None
        with self._log_lock:
            entry["seq"] = len(self.log)
            self.log.append(entry)

    def _dispatch(self, req: Request) -> Response:
        if req.path == TOKEN_PATH:
            return issue_token(self, req)
        if not req.path.startswith("/api/v2/"):
            raise ApiFailure(404, "not.found", "The requested resource was not found.")
        token_key, token = self._authenticate(req)
        extra = self._rate_limit(token_key)
        self._inject(req)
        handler, args = find(ROUTES, req)
        resp: Response = handler(self, req, token.client, *args)
        resp.headers.extend(extra)
        if is_write(req) and resp.status < 300 and self.faults.take("drop_after_write"):
            self.faults.injected["drop_after_write"] += 1
            resp.drop = True
        return resp

    # --- auth, limits, faults ---------------------------------------------------

    def _authenticate(self, req: Request) -> tuple[str, Token]:
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
                ("inin-ratelimit-reset", seconds(self.rate_limit.retry_after(reset))),
            ]
        if not ok:
            wait = self.rate_limit.retry_after(reset)
            raise ApiFailure(
                429,
                "too.many.requests.retry.after",
                f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds",
                [("Retry-After", seconds(wait))],
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
                [("Retry-After", seconds(wait))],
            )
        if f.take("server_errors") or f.roll(f.p_server_error):
            f.injected[f"server_error_{f.server_error_status}"] += 1
            code = {502: "bad.gateway", 503: "service.unavailable", 504: "request.timeout"}.get(
                f.server_error_status, "internal.server.error"
            )
            raise ApiFailure(f.server_error_status, code, "The service is currently unavailable.")
        if f.take("drop_connections") or f.roll(f.p_drop):
            f.injected["dropped"] += 1
            raise DropConnection()
        if f.take("non_json"):
            f.injected["non_json"] += 1
            raise HtmlPage()


def is_write(req: Request) -> bool:
    """A write as the write faults see it: told by method and path alone, whatever the route answers."""
    return (req.method in ("PATCH", "PUT") and req.path.startswith("/api/v2/users/")) or (
        req.method == "DELETE" and req.path.startswith("/api/v2/tokens/")
    )
