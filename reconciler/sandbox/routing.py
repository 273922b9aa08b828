"""The route table: which handler answers which method and path under ``/api/v2``.

Each resource module (resources/*.py) declares a ``ROUTES`` tuple of ``Route``
values; resources/__init__.py joins them and app.py looks requests up with
``find``. A handler is called as ``handler(state, request, client, *groups)``,
the groups being the pattern's captures (a user id). A path that some route
matches under another method is 405, any other path 404, as Genesys answers.
Knows no endpoint itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.sandbox.wire import ApiFailure, Request, Response

__all__ = ["ID", "Handler", "Route", "find"]

# A Genesys id in a path: a UUID, lower-case.
ID = r"([0-9a-f-]{36})"

# (state: SandboxState, request: Request, client: Client, *groups: str) -> Response
Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler

    @classmethod
    def of(cls, method: str, pattern: str, handler: Handler) -> Route:
        """A route whose pattern must match the whole path."""
        return cls(method, re.compile(f"^{pattern}$"), handler)


def find(routes: Iterable[Route], req: Request) -> tuple[Handler, tuple[str, ...]]:
    path_matched = False
    for route in routes:
        m = route.pattern.match(req.path)
        if m:
            path_matched = True
            if route.method == req.method:
                return route.handler, m.groups()
    if path_matched:
        raise ApiFailure(405, "method.not.allowed", f"{req.method} is not allowed on {req.path}")
    raise ApiFailure(404, "not.found", "The requested resource was not found.")
