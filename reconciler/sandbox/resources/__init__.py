"""The Genesys resources the sandbox emulates, one module each, and the route table they make together.

Each module holds the handlers for one resource and declares their ``ROUTES``
(see routing.py); ``ROUTES`` here joins them for the dispatcher (app.py). To
add a resource: write ``resources/<name>.py`` with its handlers and ``ROUTES``,
and add its ``ROUTES`` below. The OAuth token endpoint (oauth.py) sits outside
``/api/v2`` and before authentication, so the dispatcher calls it by path.
"""

from __future__ import annotations

from reconciler.sandbox.resources import audits, search, tokens, user_updates, users
from reconciler.sandbox.routing import Route

__all__ = ["ROUTES"]

ROUTES: tuple[Route, ...] = (
    *users.ROUTES,
    *user_updates.ROUTES,
    *search.ROUTES,
    *tokens.ROUTES,
    *audits.ROUTES,
)
