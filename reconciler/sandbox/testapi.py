"""The sandbox's test API under ``/_sandbox/``: what tests and the demo do "behind the tool's back".

Not part of Genesys. No authentication (the sandbox only listens on loopback).
It plays the other actors: an administrator reactivating someone in the admin
UI, a user logging in, another writer editing a user, an operator injecting
faults, and an observer reading the request log. It sits on top of the app:
server.py sends it every ``/_sandbox/`` request, and nothing in the sandbox
imports it. These requests are not in the request log.

    GET    /_sandbox/health
    GET    /_sandbox/requests[?since=N]      the request log (method, path, query, status, body of writes)
    GET    /_sandbox/stats                   request counts by endpoint and status, faults injected
    GET    /_sandbox/users/{id}              a user as stored, with tokens
    GET    /_sandbox/users?email=E           the users with this email (any case)
    POST   /_sandbox/users                   create {name, email, state}
    POST   /_sandbox/users/{id}/state        another actor sets the state: {"state": "active"}, by default an
                                             admin in the admin UI; "as": {"user": {"id", "name"}} or
                                             {"client": ID} acts as that person or OAuth client; "repeat": N
                                             does it now and again after each of the next N-1 changes by
                                             anyone else (an identity provider that keeps the user active)
    GET    /_sandbox/audit                   the audit messages recorded (every state change, with its actor)
    POST   /_sandbox/users/{id}/login        a login: {"at": epoch seconds, "force": bool}
    POST   /_sandbox/users/{id}/edit         another writer saves the user (version + 1); {"email": ...}
    GET    /_sandbox/faults                  current faults and how many were injected
    PUT    /_sandbox/faults                  change faults (see faults.Faults)
    DELETE /_sandbox/faults                  back to no faults (the injected counts are kept)
    POST   /_sandbox/clock                   move Genesys's clock: {"advance": seconds}
    PUT    /_sandbox/rate-limit              {"allowed": N, "window": seconds, "send_headers": bool}
    POST   /_sandbox/clients                 {client_id, secret, permissions: [...], name}
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from reconciler.endpoints import endpoint_name
from reconciler.sandbox.app import SandboxApp
from reconciler.sandbox.audit_trail import DEFAULT_ADMIN, Actor, FlipBack
from reconciler.sandbox.auth import Client
from reconciler.sandbox.org import SandboxUser
from reconciler.sandbox.routing import ID
from reconciler.sandbox.wire import Request, Response, json_response

__all__ = ["TestApi"]


class TestApi:
    __test__ = False  # not a pytest class

    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    def handle(self, req: Request) -> Response:
        org = self.app.org
        try:
            body = json.loads(req.body) if req.body else {}
        except ValueError:
            return json_response(400, {"error": "body is not JSON"})
        path, method = req.path, req.method
        with org.lock:
            if path == "/_sandbox/health":
                return json_response(200, {"ok": True, "users": len(org.users)})
            if path == "/_sandbox/requests":
                since = int(parse_qs(req.query).get("since", ["0"])[0])
                return json_response(200, self.app.log[since:])
            if path == "/_sandbox/stats":
                return json_response(200, self.stats())
            if path == "/_sandbox/clock" and method == "POST":
                org.skew += float(body.get("advance", 0))
                return json_response(200, {"wall": org.wall(), "skew": org.skew})
            if path == "/_sandbox/faults" and method == "DELETE":
                self.app.faults.clear()
                return json_response(200, self.app.faults.as_dict())
            if path == "/_sandbox/faults":
                if method == "PUT":
                    try:
                        self.app.faults.update(body)
                    except (ValueError, TypeError) as exc:
                        return json_response(400, {"error": str(exc)})
                return json_response(200, self.app.faults.as_dict())
            if path == "/_sandbox/rate-limit" and method == "PUT":
                rl = self.app.rate_limit
                rl.allowed = int(body.get("allowed", rl.allowed))
                rl.window = float(body.get("window", rl.window))
                rl.send_headers = bool(body.get("send_headers", rl.send_headers))
                rl.windows.clear()
                return json_response(200, {"allowed": rl.allowed, "window": rl.window, "send_headers": rl.send_headers})
            if path == "/_sandbox/clients" and method == "POST":
                client = Client(
                    body["client_id"],
                    body.get("secret", ""),
                    frozenset(body.get("permissions", [])),
                    name=str(body.get("name", "")),
                )
                self.app.clients[client.client_id] = client
                return json_response(201, {"client_id": client.client_id})
            if path == "/_sandbox/audit" and method == "GET":
                return json_response(
                    200, [{k: v for k, v in m.items() if k != "_wall"} for m in self.app.audit.messages]
                )
            if path == "/_sandbox/users" and method == "POST":
                user = SandboxUser(
                    id=body.get("id") or str(uuid.uuid4()),
                    name=body["name"],
                    email=body["email"],
                    state=body.get("state", "active"),
                    version=1,
                    department=body.get("department", "Support"),
                    title="Agent",
                )
                org.add(user, indexed_at=None if body.get("lag", True) else float("-inf"))
                return json_response(201, self._view(user))
            if path == "/_sandbox/users" and method == "GET":
                email = parse_qs(req.query).get("email", [""])[0].lower()
                return json_response(200, [self._view(org.users[i]) for i in org.ids_by_email(email)])
            m = re.fullmatch(rf"/_sandbox/users/{ID}(/state|/login|/edit)?", path)
            if m:
                found = org.users.get(m.group(1))
                if found is None:
                    return json_response(404, {"error": "no such user"})
                target: SandboxUser = found
                action = m.group(2)
                if action is None:
                    return json_response(200, self._view(target))
                if action == "/state":
                    if body.get("state") not in ("active", "inactive", "deleted"):
                        return json_response(400, {"error": "state must be active, inactive or deleted"})
                    actor = _actor(body.get("as"))
                    self.app.change_state(target, body["state"], actor)
                    repeat = int(body.get("repeat", 1))
                    if repeat > 1:
                        self.app.audit.flip_back[target.id] = FlipBack(body["state"], actor, repeat - 1)
                elif action == "/login":
                    if target.state != "active" and not body.get("force"):
                        return json_response(409, {"error": f"user is {target.state}: cannot log in"})
                    org.login(target, body.get("at"))
                elif action == "/edit":
                    if "email" in body:  # an address reassigned (a rehire, a reused alias)
                        org.change_email(target, body["email"])
                    org.update(target, title=body.get("title", target.title))
                return json_response(200, self._view(target))
        return json_response(404, {"error": f"no test endpoint {method} {path}"})

    def _view(self, user: SandboxUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "state": user.state,
            "version": user.version,
            "live_tokens": self.app.org.live_tokens(user),
            "last_token_issued": user.last_token_issued,
            "roles": list(user.roles),
            "state_change_reason": user.state_change_reason,
        }

    def stats(self) -> dict[str, Any]:
        by_endpoint: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        for entry in self.app.log:
            if entry["path"].startswith("/api/") or entry["path"] == "/oauth/token":
                by_endpoint[endpoint_name(entry["method"], entry["path"])] += 1
                by_status[str(entry["status"])] += 1
        return {
            "requests": sum(by_endpoint.values()),
            "by_endpoint": dict(by_endpoint),
            "by_status": dict(by_status),
            "faults_injected": dict(self.app.faults.injected),
        }


def _actor(raw: Any) -> Actor:
    """{"user": {"id", "name"}} (through the admin UI), {"client": ID}, or the default admin."""
    if not isinstance(raw, dict):
        return DEFAULT_ADMIN
    if isinstance(raw.get("user"), dict):
        person = raw["user"]
        return Actor(raw.get("client") or DEFAULT_ADMIN.client_id, str(person["id"]), person.get("name"))
    if raw.get("client"):
        return Actor(str(raw["client"]))
    return DEFAULT_ADMIN
