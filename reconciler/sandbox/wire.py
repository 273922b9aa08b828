"""Requests and responses as the sandbox sees them, and the helpers every endpoint shares.

Holds the ``Request``/``Response`` values the server passes in and out, the
``ApiFailure`` an endpoint raises to answer with a Genesys error body, the two
signals fault injection raises (drop the connection, answer HTML), and the
parsing of query parameters and JSON bodies, as strict as Genesys. Knows no
endpoint, no state and no socket; imports nothing from the rest of the sandbox.
(Not named ``http``: that would shadow the standard library for a reader.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "MAX_BODY",
    "ApiFailure",
    "DropConnection",
    "HtmlPage",
    "Params",
    "Request",
    "Response",
    "int_param",
    "json_body",
    "json_response",
    "query_params",
    "seconds",
    "single_param",
]

MAX_BODY = 512_000

Headers = list[tuple[str, str]]
Params = dict[str, list[str]]


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
    headers: Headers = field(default_factory=list)
    drop: bool = False  # close the connection without answering


class ApiFailure(Exception):
    """Answer with Genesys's error body (message, code, status, contextId) and these headers."""

    def __init__(self, status: int, code: str, message: str, headers: Headers | None = None):
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []
        super().__init__(message)


class HtmlPage(Exception):
    """Raised to answer 200 with an HTML page, as a misbehaving proxy or maintenance page would."""


class DropConnection(ApiFailure):
    """Raised to close the connection without answering (handled by SandboxApp.handle)."""

    def __init__(self) -> None:
        super().__init__(0, "dropped", "connection dropped")


def json_response(status: int, payload: Any, headers: Headers | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), [("Content-Type", "application/json")] + (headers or []))


def seconds(value: float) -> str:
    """Retry-After as Genesys writes it: '3', not '3.0' (fractions only when time-scaled)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def query_params(req: Request) -> Params:
    return parse_qs(req.query, keep_blank_values=True)


def single_param(params: Params, name: str, default: str | None = None) -> str | None:
    values = params.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise ApiFailure(400, "bad.request", f"Parameter {name} was given more than once")
    return values[0]


def int_param(params: Params, name: str, default: int, low: int, high: int) -> int:
    raw = single_param(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiFailure(400, "invalid.value", f"Value [{raw}] is not valid for field type [{name}]") from None
    if not low <= value <= high:
        raise ApiFailure(400, "invalid.value", f"{name} must be between {low} and {high}, got {value}")
    return value


def json_body(req: Request) -> Any:
    """The request's JSON body: 413 when too large, 415 unless declared JSON, 400 when malformed."""
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
