"""The API client's exact requests and its reading of responses (respx; no network, no real sleeping)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from reconciler.core.settings import Settings
from reconciler.errors import (
    AuthError,
    BadRequest,
    Forbidden,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    UnexpectedResponse,
    VersionConflict,
)
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.pacer import Pacer
from reconciler.genesys.session import ApiSession
from tests.conftest import LOGIN, FakeTime

API = "https://api.mypurecloud.ie"
ENV = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "client-id",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s3cret-value",
    "GENESYSCLOUD_REGION": "eu-west-1",
}
USER_ID = "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0"


def error_body(status: int, code: str, message: str, context: str = "ctx-1") -> dict[str, Any]:
    return {"message": message, "code": code, "status": status, "contextId": context, "details": [], "errors": []}


def make_client(fake_time: FakeTime, settings: Settings | None = None) -> GenesysClient:
    session = ApiSession(
        connection_from_env(ENV),
        settings or Settings(),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        jitter=lambda low, high: high,
    )
    return GenesysClient(session)


def user(state: str = "active", version: int = 12, **extra: Any) -> dict[str, Any]:
    return {
        "id": USER_ID,
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "state": state,
        "version": version,
        **extra,
    }


def test_token_request_is_client_credentials_with_basic_auth(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(return_value=httpx.Response(200, json={}))
    make_client(fake_time).whoami()
    token_call = mock.calls[0].request
    assert str(token_call.url) == f"{LOGIN}/oauth/token"
    assert token_call.headers["Authorization"] == "Basic " + base64.b64encode(b"client-id:s3cret-value").decode()
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_call.content == b"grant_type=client_credentials"
    assert mock.calls[1].request.headers["Authorization"] == "Bearer tok-1"


def test_deactivate_sends_exactly_state_and_version(mock: Any, fake_time: FakeTime) -> None:
    route = mock.patch(f"{API}/api/v2/users/{USER_ID}").mock(
        return_value=httpx.Response(200, json=user("inactive", 13))
    )
    resp = make_client(fake_time).set_state(USER_ID, "inactive", 12)
    assert json.loads(route.calls[0].request.content) == {"state": "inactive", "version": 12}
    assert route.calls[0].request.headers["Content-Type"] == "application/json"
    assert resp.data["version"] == 13


def test_revoke_is_delete_tokens_of_the_user_and_accepts_204(mock: Any, fake_time: FakeTime) -> None:
    route = mock.delete(f"{API}/api/v2/tokens/{USER_ID}").mock(return_value=httpx.Response(204))
    resp = make_client(fake_time).revoke_tokens(USER_ID)
    assert resp.status == 204 and resp.data is None
    assert route.calls[0].request.content == b""


def test_users_by_ids_is_one_comma_joined_call_for_any_state(mock: Any, fake_time: FakeTime) -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(100)]
    route = mock.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, json={"entities": []}))
    make_client(fake_time).users_by_ids(ids)
    params = route.calls[0].request.url.params
    assert params["id"] == ",".join(ids)
    assert params["state"] == "any"
    assert params["pageSize"] == "100"
    assert params["expand"] == "lasttokenissued"
    with pytest.raises(ValueError, match="at most 100"):
        make_client(fake_time).users_by_ids([*ids, "x"])


def test_the_query_is_encoded_once_commas_literal_and_reserved_characters_escaped(
    mock: Any, fake_time: FakeTime
) -> None:
    """The session encodes the query itself (httpx's params= cost more than the request): the raw
    URL must still be what a server decodes back to the exact values."""
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(3)]
    route = mock.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, json={"entities": []}))
    make_client(fake_time).users_by_ids(ids)
    raw = route.calls[0].request.url.query.decode()
    assert raw == f"id={','.join(ids)}&state=any&pageSize=3&pageNumber=1&expand=lasttokenissued"
    cursor = "a+b/c=d&e f%g"
    page = {"entities": [user()], "cursor": cursor, "nextUri": "/api/v2/users/query?cursor=x"}
    listing = mock.get(f"{API}/api/v2/users/query").mock(
        side_effect=[httpx.Response(200, json=page), httpx.Response(200, json={"entities": []})]
    )
    list(make_client(fake_time).iter_users())
    second = listing.calls[1].request.url
    assert second.params["cursor"] == cursor
    assert "cursor=a%2Bb%2Fc%3Dd%26e%20f%25g" in second.query.decode()


def test_email_search_is_exact_with_an_explicit_state_criterion(mock: Any, fake_time: FakeTime) -> None:
    route = mock.post(f"{API}/api/v2/users/search").mock(
        return_value=httpx.Response(
            200,
            json={
                "total": 1,
                "pageCount": 1,
                "pageSize": 100,
                "pageNumber": 1,
                "types": ["users"],
                "results": [user()],
            },
        )
    )
    hits = make_client(fake_time).search_emails(["Jane.Doe@example.com", "jane.doe@example.com"])
    body = json.loads(route.calls[0].request.content)
    assert body["query"] == [
        {"type": "EXACT", "fields": ["email"], "values": ["Jane.Doe@example.com", "jane.doe@example.com"]},
        {"type": "EXACT", "fields": ["state"], "values": ["active", "inactive", "deleted"]},
    ]
    assert body["pageSize"] == 100 and body["pageNumber"] == 1
    assert [h["id"] for h in hits] == [USER_ID]


def test_search_follows_q64_pages(mock: Any, fake_time: FakeTime) -> None:
    first = {
        "total": 2,
        "pageCount": 2,
        "pageSize": 1,
        "pageNumber": 1,
        "types": ["users"],
        "results": [user()],
        "nextPage": "/api/v2/users/search?q64=abc",
    }
    second = {"total": 2, "pageCount": 2, "pageSize": 1, "pageNumber": 2, "types": ["users"], "results": [user(id="x")]}
    mock.post(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=first))
    page2 = mock.get(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=second))
    assert len(make_client(fake_time).search_emails(["jane.doe@example.com"])) == 2
    assert page2.calls[0].request.url.params["q64"] == "abc"


def test_listing_follows_cursor_and_refuses_a_repeated_page(mock: Any, fake_time: FakeTime) -> None:
    page = {"entities": [user()], "cursor": "c1", "nextUri": "/api/v2/users/query?cursor=c1"}
    mock.get(f"{API}/api/v2/users/query").mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(UnexpectedResponse, match="repeated a page"):
        list(make_client(fake_time).iter_users())


def test_401_fetches_a_new_token_once_and_retries(mock: Any, fake_time: FakeTime) -> None:
    tokens = iter(["tok-1", "tok-2"])
    mock.post(f"{LOGIN}/oauth/token").mock(
        side_effect=lambda req: httpx.Response(200, json={"access_token": next(tokens), "expires_in": 86400})
    )
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[
            httpx.Response(401, json=error_body(401, "bad.credentials", "Invalid login credentials.")),
            httpx.Response(200, json={}),
        ]
    )
    make_client(fake_time).whoami()
    assert [c.request.headers["Authorization"] for c in route.calls] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_second_401_is_an_auth_error(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(
        return_value=httpx.Response(401, json=error_body(401, "bad.credentials", "Invalid login credentials."))
    )
    with pytest.raises(AuthError) as info:
        make_client(fake_time).whoami()
    assert info.value.status == 401 and info.value.code == "bad.credentials"


def test_rejected_client_credentials_are_an_auth_error_without_the_secret(mock: Any, fake_time: FakeTime) -> None:
    mock.post(f"{LOGIN}/oauth/token").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(AuthError) as info:
        make_client(fake_time).whoami()
    assert "s3cret-value" not in str(info.value) and "s3cret-value" not in repr(info.value)


def test_429_waits_exactly_retry_after_then_succeeds(mock: Any, fake_time: FakeTime) -> None:
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "7"},
                json=error_body(429, "too.many.requests.retry.after", "Rate limit exceeded"),
            ),
            httpx.Response(200, json={}),
        ]
    )
    client = make_client(fake_time)
    client.whoami()
    assert route.call_count == 2
    assert pytest.approx(sum(fake_time.sleeps), abs=0.5) == 7
    assert client.session.pacer.rate_limited == 1


def test_a_retry_after_date_is_measured_on_genesyss_clock_not_ours(mock: Any, fake_time: FakeTime) -> None:
    """The host's clock is a year off; Genesys says 'retry at its Date + 7 s': the wait is 7 s."""
    answered = "Tue, 04 Jan 2028 08:00:00 GMT"
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "Tue, 04 Jan 2028 08:00:07 GMT", "Date": answered},
                json=error_body(429, "too.many.requests.retry.after", "Rate limit exceeded"),
            ),
            httpx.Response(200, json={}),
        ]
    )
    make_client(fake_time).whoami()
    assert route.call_count == 2
    assert pytest.approx(sum(fake_time.sleeps), abs=0.5) == 7


def test_429_storm_gives_up_after_the_budget(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "1"}, json=error_body(429, "too.many.requests.retry.after", "slow down")
        )
    )
    with pytest.raises(RateLimited) as info:
        make_client(fake_time, Settings(rate_limit_retries=3)).whoami()
    assert info.value.retry_after == 1 and info.value.code == "too.many.requests.retry.after"


def test_a_retry_after_beyond_the_ceiling_is_not_waited_for(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "3600"}, json=error_body(429, "too.many.requests.retry.after", "slow down")
        )
    )
    with pytest.raises(RateLimited):
        make_client(fake_time).whoami()
    assert sum(fake_time.sleeps) < 3600


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_with_exponential_backoff(mock: Any, fake_time: FakeTime, status: int) -> None:
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[
            httpx.Response(status, json=error_body(status, "service.unavailable", "down")),
            httpx.Response(status, json=error_body(status, "service.unavailable", "down")),
            httpx.Response(200, json={}),
        ]
    )
    make_client(fake_time).whoami()
    assert route.call_count == 3
    assert fake_time.sleeps == [0.5, 1.0]  # jitter pinned to its ceiling


def test_transient_failures_stop_after_the_attempt_budget(mock: Any, fake_time: FakeTime) -> None:
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        return_value=httpx.Response(503, json=error_body(503, "service.unavailable", "down"))
    )
    with pytest.raises(ServerError):
        make_client(fake_time, Settings(retry_attempts=4)).whoami()
    assert route.call_count == 4


def test_timeouts_and_dropped_connections_are_retried(mock: Any, fake_time: FakeTime) -> None:
    route = mock.get(f"{API}/api/v2/tokens/me").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.Response(200, json={})]
    )
    make_client(fake_time).whoami()
    assert route.call_count == 3


def test_network_error_after_budget(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(NetworkError, match="cannot reach Genesys Cloud at"):
        make_client(fake_time, Settings(retry_attempts=2)).whoami()


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "bad.request", BadRequest),
        (403, "missing.permissions", Forbidden),
        (404, "general.resource.not.found", NotFound),
        (409, "general.conflict", VersionConflict),
    ],
)
def test_permanent_errors_are_not_retried_and_keep_genesys_details(
    mock: Any, fake_time: FakeTime, status: int, code: str, kind: type[Exception]
) -> None:
    route = mock.patch(f"{API}/api/v2/users/{USER_ID}").mock(
        return_value=httpx.Response(
            status, headers={"ININ-Correlation-Id": "corr-9"}, json=error_body(status, code, "nope", "corr-9")
        )
    )
    with pytest.raises(kind) as info:
        make_client(fake_time).set_state(USER_ID, "inactive", 12)
    assert route.call_count == 1
    err = info.value
    assert (err.status, err.code, err.correlation_id) == (status, code, "corr-9")  # type: ignore[attr-defined]
    assert "PATCH /api/v2/users/" in str(err)


def test_a_400_saying_the_version_does_not_match_is_a_version_conflict(mock: Any, fake_time: FakeTime) -> None:
    mock.patch(f"{API}/api/v2/users/{USER_ID}").mock(
        return_value=httpx.Response(
            400,
            json=error_body(400, "bad.request", "The version supplied does not match the current version of the user"),
        )
    )
    with pytest.raises(VersionConflict):
        make_client(fake_time).set_state(USER_ID, "inactive", 12)


def test_a_2xx_that_is_not_json_is_unexpected(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        make_client(fake_time).users_by_ids([USER_ID])


def test_rate_headers_pace_requests_before_the_limit(mock: Any, fake_time: FakeTime) -> None:
    """With 5 requests left and 10 s to go, requests are spread 2 s apart instead of bursting into a 429."""
    headers = {"inin-ratelimit-count": "295", "inin-ratelimit-allowed": "300", "inin-ratelimit-reset": "10"}
    mock.get(f"{API}/api/v2/tokens/me").mock(return_value=httpx.Response(200, json={}, headers=headers))
    client = make_client(fake_time)
    for _ in range(3):
        client.whoami()
    assert fake_time.sleeps[-1] == pytest.approx(2.0)


def test_no_request_goes_anywhere_but_the_configured_hosts(mock: Any, fake_time: FakeTime) -> None:
    mock.get(f"{API}/api/v2/tokens/me").mock(return_value=httpx.Response(200, json={}))
    make_client(fake_time).whoami()
    assert {c.request.url.host for c in mock.calls} == {"api.mypurecloud.ie", "login.mypurecloud.ie"}


# --- the pacer, on a fake clock ---------------------------------------------------------


def test_pacer_spaces_requests_at_the_configured_rate(fake_time: FakeTime) -> None:
    pacer = Pacer(60, clock=fake_time.clock, sleep=fake_time.sleep)  # one a second (minus 2% headroom)
    for _ in range(4):
        pacer.acquire()
        pacer.release(None)
    assert fake_time.sleeps == pytest.approx([1 / 0.98] * 3)


def test_pacer_holds_every_worker_until_retry_after(fake_time: FakeTime) -> None:
    pacer = Pacer(6000, clock=fake_time.clock, sleep=fake_time.sleep)
    start = fake_time.now
    pacer.rate_limited_for(5.0)
    for _worker in range(4):  # whoever asks next, in whatever thread, waits out the same pause
        pacer.acquire()
        assert fake_time.now >= start + 5.0


def test_pacer_cuts_once_per_episode_and_recovers_slowly(fake_time: FakeTime) -> None:
    pacer = Pacer(600, clock=fake_time.clock, sleep=fake_time.sleep)
    full = pacer.rate
    for _ in range(6):  # six workers refused in the same window: one signal
        pacer.rate_limited_for(1.0)
    assert pacer.rate == pytest.approx(full * 0.8)
    fake_time.now += 1.0 + 10.0  # ten seconds without a 429
    pacer.acquire()
    assert pacer.rate == pytest.approx(full * 0.9)
    fake_time.now += 100
    pacer.acquire()
    assert pacer.rate == pytest.approx(full)


def test_pacer_never_slows_below_an_eighth(fake_time: FakeTime) -> None:
    pacer = Pacer(600, clock=fake_time.clock, sleep=fake_time.sleep)
    full = pacer.rate
    for _ in range(50):
        pacer.rate_limited_for(0.1)
        fake_time.now += 0.2
    assert pacer.rate == pytest.approx(full / 8)
