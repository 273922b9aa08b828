"""The Genesys Cloud endpoints reconciler uses, and nothing else.

Effectful. Each method is one documented Platform API call (or one paged
walk of it) and returns decoded JSON; turning that into LiveUser values is
live.py's job. There is deliberately no method for ``DELETE /api/v2/users``:
this tool deactivates, it never deletes.

    GET    /api/v2/users?id=..&state=any     users_by_ids      (<= 100 ids per call)
    GET    /api/v2/users?pageSize=1&state=X  count_users
    GET    /api/v2/users/query               iter_users        (cursor paging), listing_probe
    POST   /api/v2/users/search              search_emails     (+ GET ?q64= for later pages)
    PATCH  /api/v2/users/{id}                set_state         body exactly {"state", "version"}
    PUT    /api/v2/users/{id}/state          set_state         with a reason code: {"state", "version",
                                                               "stateChangeReason"}
    DELETE /api/v2/tokens/{id}               revoke_tokens
    GET    /api/v2/tokens/me                 whoami
    GET    /api/v2/audits/query/realtime/servicemapping        audit_service_mapping
    POST   /api/v2/audits/query/realtime     audit_query       (one page, newest first)
    GET    /api/v2/oauth/clients/{id}        oauth_client      (a client's name)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from reconciler.errors import UnexpectedResponse
from reconciler.genesys.session import ApiResponse, ApiSession, ApiStats
from reconciler.genesys.workers import pool_size

__all__ = ["EXPAND", "SEARCH_STATES", "GenesysClient"]

# lastTokenIssued tells us whether a deactivated user may still hold a valid token.
EXPAND = ("lasttokenissued",)
# Whether search includes inactive (or deleted) users by default is not documented:
# always say which states we want. Deleted users are wanted so they can be reported.
SEARCH_STATES = ("active", "inactive", "deleted")


class GenesysClient:
    def __init__(self, session: ApiSession) -> None:
        self.session = session

    @property
    def stats(self) -> ApiStats:
        return self.session.stats

    def close(self) -> None:
        self.session.close()

    def workers(self, tasks: int) -> int:
        """How many of ``tasks`` to run at once: enough to keep the pace at the measured latency (workers.py)."""
        return pool_size(self.session, tasks)

    # --- reads --------------------------------------------------------------------

    def users_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Users with these ids, in any state (inactive and deleted included)."""
        if not ids:
            return []
        limit = self.session.settings.id_batch_size
        if len(ids) > limit:
            raise ValueError(f"at most {limit} ids per call, got {len(ids)}")
        # pageSize defaults to 25 even for id lookups; ask for the whole batch in one page.
        params = {
            "id": ",".join(ids),
            "state": "any",
            "pageSize": len(ids),
            "pageNumber": 1,
            "expand": ",".join(EXPAND),
        }
        resp = self.session.request("GET", "/api/v2/users", params=params)
        entities = _entities(resp, "entities")
        if resp.data.get("nextUri"):
            raise UnexpectedResponse(
                "an id lookup came back with more than one page",
                correlation_id=resp.correlation_id,
                request="GET /api/v2/users",
            )
        return entities

    def count_users(self, state: str) -> int:
        """How many users are in ``state`` (one call: a one-item page carries the total)."""
        resp = self.session.request("GET", "/api/v2/users", params={"pageSize": 1, "pageNumber": 1, "state": state})
        total = resp.data.get("total") if isinstance(resp.data, dict) else None
        if not isinstance(total, int):
            raise UnexpectedResponse(
                "the user listing carried no total", correlation_id=resp.correlation_id, request="GET /api/v2/users"
            )
        return total

    def iter_users(self, state: str = "any") -> Iterator[list[dict[str, Any]]]:
        """Every user in ``state``, a page at a time (cursor paging, no 10,000-user ceiling)."""
        params: dict[str, Any] = {
            "pageSize": self.session.settings.list_page_size,
            "state": state,
            "expand": ",".join(EXPAND),
        }
        seen_cursors: set[str] = set()
        while True:
            resp = self.session.request("GET", "/api/v2/users/query", params=params)
            yield _entities(resp, "entities")
            if not resp.data.get("nextUri"):
                return
            # A next page announced without a cursor we can send would end the listing early:
            # users on the pages never read would look missing.
            cursor = _paging_token(resp.data.get("cursor"), "cursor", resp, "GET /api/v2/users/query")
            if cursor in seen_cursors:
                raise UnexpectedResponse(
                    "the user listing repeated a page (same cursor twice)",
                    correlation_id=resp.correlation_id,
                    request="GET /api/v2/users/query",
                )
            seen_cursors.add(cursor)
            params = {**params, "cursor": cursor}

    def iter_users_paged(self, state: str) -> Iterator[list[dict[str, Any]]]:
        """Every user in ``state`` through numbered pages of GET /api/v2/users.

        For clients without directory:user:view in every division. Genesys refuses
        to page a non-active listing beyond 10,000 users; that answer is raised.
        """
        page_number = 1
        size = self.session.settings.list_page_size
        while True:
            resp = self.session.request(
                "GET",
                "/api/v2/users",
                params={"pageSize": size, "pageNumber": page_number, "state": state, "expand": ",".join(EXPAND)},
            )
            yield _entities(resp, "entities")
            page_count = resp.data.get("pageCount")
            if not isinstance(page_count, int) or page_number >= page_count:
                return
            page_number += 1

    def listing_probe(self) -> None:
        """One one-user page of the cursor listing: can this client list every division?"""
        self.session.request("GET", "/api/v2/users/query", params={"pageSize": 1, "state": "any"})

    def search_emails(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        """Users whose email EXACTly matches one of ``emails``, in any state. All pages.

        Search is eventually consistent: use the hits for ids only, never for state or version.
        """
        if not emails:
            return []
        limit = self.session.settings.search_batch_size
        if len(emails) > limit:
            raise ValueError(f"at most {limit} emails per search, got {len(emails)}")
        body = {
            "pageSize": self.session.settings.search_page_size,
            "pageNumber": 1,
            "sortOrder": "ASC",
            "sortBy": "email",
            "query": [
                {"type": "EXACT", "fields": ["email"], "values": list(emails)},
                {"type": "EXACT", "fields": ["state"], "values": list(SEARCH_STATES)},
            ],
        }
        resp = self.session.request("POST", "/api/v2/users/search", json=body)
        results = _entities(resp, "results")
        seen_pages: set[str] = set()
        # A next page is followed until the answer's own total says every hit is in; an answer
        # without a total is followed to its end, never cut short (a hit missed is a user unread).
        while isinstance(resp.data.get("nextPage"), str) and len(results) < _total(resp.data.get("total")):
            next_page = resp.data["nextPage"]
            if next_page in seen_pages:
                raise UnexpectedResponse(
                    "search repeated a page", correlation_id=resp.correlation_id, request="GET /api/v2/users/search"
                )
            seen_pages.add(next_page)
            q64 = _paging_token(_q64(next_page), "next page", resp, "POST /api/v2/users/search")
            resp = self.session.request("GET", "/api/v2/users/search", params={"q64": q64})
            page = _entities(resp, "results")
            if not page:
                break
            results.extend(page)
        return results

    def whoami(self) -> dict[str, Any]:
        resp = self.session.request("GET", "/api/v2/tokens/me")
        return resp.data if isinstance(resp.data, dict) else {}

    # --- writes -------------------------------------------------------------------

    def set_state(self, user_id: str, state: str, version: int, reason_code: str | None = None) -> ApiResponse:
        """Write the user's state at ``version``. ``data`` has the new ``state`` and ``version``.

        Without a reason code: PATCH the user, body exactly {"state", "version"}
        (``data`` is the updated user). With one: PUT /state, body exactly
        {"state", "version", "stateChangeReason"}, the only endpoint that records
        why someone left (``data`` is a UserState). Both answer a stale version
        the same way (the session maps it to VersionConflict).
        """
        if reason_code is None:
            method, path, label = "PATCH", f"/api/v2/users/{user_id}", "PATCH /api/v2/users/{id}"
            body: dict[str, Any] = {"state": state, "version": version}
        else:
            method, path, label = "PUT", f"/api/v2/users/{user_id}/state", "PUT /api/v2/users/{id}/state"
            body = {"state": state, "version": version, "stateChangeReason": reason_code}
        resp = self.session.request(method, path, json=body)
        if not isinstance(resp.data, dict):
            raise UnexpectedResponse(
                f"{method} answered without the user's new state", correlation_id=resp.correlation_id, request=label
            )
        return resp

    def revoke_tokens(self, user_id: str) -> ApiResponse:
        """End every session of the user (DELETE /api/v2/tokens/{userId}); any 2xx is success."""
        return self.session.request("DELETE", f"/api/v2/tokens/{user_id}")

    # --- the audit trail (optional: audits:audit:view, oauth:client:view) -------------

    def audit_service_mapping(self) -> Any:
        """Which services and entities the realtime audit query knows (decoded JSON, unchecked)."""
        return self.session.request("GET", "/api/v2/audits/query/realtime/servicemapping").data

    def audit_query(self, body: dict[str, Any]) -> Any:
        """One page of POST /api/v2/audits/query/realtime (decoded JSON, unchecked)."""
        return self.session.request("POST", "/api/v2/audits/query/realtime", json=body).data

    def oauth_client(self, client_id: str) -> dict[str, Any]:
        resp = self.session.request("GET", f"/api/v2/oauth/clients/{client_id}")
        return resp.data if isinstance(resp.data, dict) else {}


def _q64(next_page: str) -> str | None:
    """The q64 token of a search's nextPage, as Genesys wrote it.

    Not ``parse_qs``: that reads ``+`` as a space, and a base64 token is full of them.
    Percent-escapes are undone, so an escaped and a bare token read the same.
    """
    for pair in urlsplit(next_page).query.split("&"):
        name, _, value = pair.partition("=")
        if name == "q64":
            return unquote(value)
    return None


def _paging_token(value: Any, what: str, resp: ApiResponse, request: str) -> str:
    """A cursor or q64 token from an answer, if it is text a URL can carry (JSON can spell a
    lone surrogate, which cannot be encoded); otherwise the answer cannot be followed."""
    if isinstance(value, str) and value:
        try:
            value.encode()
        except UnicodeEncodeError:
            pass
        else:
            return value
    raise UnexpectedResponse(
        f"the answer's {what} cannot be followed",
        status=resp.status,
        correlation_id=resp.correlation_id,
        request=request,
    )


def _total(value: Any) -> float:
    return value if type(value) is int else math.inf


def _entities(resp: ApiResponse, key: str) -> list[dict[str, Any]]:
    data = resp.data
    items = data.get(key) if isinstance(data, dict) else None
    # map over a builtin: a 500-user page is checked without a Python step per user
    if not isinstance(items, list) or not all(map(dict.__instancecheck__, items)):
        raise UnexpectedResponse(
            f"expected a JSON object with a '{key}' list", status=resp.status, correlation_id=resp.correlation_id
        )
    return items
