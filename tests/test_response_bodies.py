"""Answers read through the session after it swaps each response's spent stream for a plain one
(session._send: a body waiting for the cyclic collector cost 70 MB on a big listing).

Whatever the body (compressed, large, an error, an answer to a retried or re-authenticated
request), what the client reads must be what Genesys sent.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.core.settings import Settings
from reconciler.errors import BadRequest, NotFound, ServerError, VersionConflict
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.session import ApiSession
from tests.conftest import FakeTime

ENV = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret",
    "GENESYSCLOUD_API_URL": "http://127.0.0.1:9",  # never reached: the transport answers
    "GENESYSCLOUD_LOGIN_URL": "http://127.0.0.1:9",
}
TOKEN = httpx.Response(200, json={"access_token": "t", "expires_in": 86400})


def _client(answers: Callable[[httpx.Request], httpx.Response], fake_time: FakeTime) -> GenesysClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return TOKEN if request.url.path == "/oauth/token" else answers(request)

    session = ApiSession(
        connection_from_env(ENV),
        Settings(requests_per_minute=600_000),
        transport=httpx.MockTransport(handler),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        jitter=lambda low, high: high,
    )
    return GenesysClient(session)


def _gzipped(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **headers},
    )


def _page(n: int, start: int = 0) -> dict[str, Any]:
    users = [
        {"id": f"00000000-0000-4000-8000-{i:012d}", "email": f"user{i}@example.com", "state": "active", "version": i}
        for i in range(start, start + n)
    ]
    return {"entities": users}


def test_a_large_compressed_listing_page_is_read_whole(fake_time: FakeTime) -> None:
    page = _page(500)
    page["entities"][250]["name"] = "x" * 200_000  # a 300 KB page, compressed (in memory: no socket here)
    client = _client(lambda request: _gzipped(200, page), fake_time)
    assert next(client.iter_users()) == page["entities"]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(400, "bad.request", BadRequest), (404, "not.found", NotFound), (409, "general.conflict", VersionConflict)],
)
def test_a_compressed_error_body_keeps_genesyss_message_and_code(
    fake_time: FakeTime, status: int, code: str, kind: type[Exception]
) -> None:
    body = {"message": f"said {code}", "code": code, "status": status, "contextId": "ctx-9"}
    client = _client(lambda request: _gzipped(status, body), fake_time)
    with pytest.raises(kind) as caught:
        client.users_by_ids(["00000000-0000-4000-8000-000000000001"])
    err: Any = caught.value
    assert (err.message, err.code, err.status, err.correlation_id) == (f"said {code}", code, status, "ctx-9")


def test_a_retried_read_reads_the_answer_that_followed_the_failures(fake_time: FakeTime) -> None:
    answers = iter(
        [
            _gzipped(503, {"message": "busy", "code": "service.unavailable", "status": 503}),
            httpx.Response(401, json={"message": "expired", "code": "bad.credentials", "status": 401}),
            _gzipped(200, _page(100, start=7)),
        ]
    )
    client = _client(lambda request: next(answers), fake_time)
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(7, 107)]
    assert client.users_by_ids(ids) == _page(100, start=7)["entities"]
    assert client.stats.retries == 1 and client.stats.calls["POST /oauth/token"] == 2


def test_a_server_error_that_never_clears_keeps_its_body(fake_time: FakeTime) -> None:
    body = {"message": "the service is down", "code": "service.unavailable", "status": 503, "contextId": "c"}
    client = _client(lambda request: _gzipped(503, body), fake_time)
    with pytest.raises(ServerError, match="the service is down"):
        client.count_users("any")
