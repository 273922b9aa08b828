"""The sandbox emulates Genesys strictly: shapes, status codes, error bodies, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox.org import Org
from reconciler.sandbox.server import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Sandbox
from tests.conftest import ALEX_1, ALEX_2, JANE, PRIYA, ROBIN, SandboxHandle


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    token = sandbox.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    ).json()["access_token"]
    with httpx.Client(base_url=sandbox.sandbox.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def assert_error_body(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status
    body = resp.json()
    assert set(body) == {"message", "code", "status", "contextId", "details", "errors"}
    assert (body["status"], body["code"]) == (status, code)
    assert resp.headers["ININ-Correlation-Id"] == body["contextId"]
    return dict(body)


def test_token_endpoint_needs_basic_auth_and_the_grant(sandbox: SandboxHandle) -> None:
    ok = sandbox.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    )
    assert ok.status_code == 200 and set(ok.json()) == {"access_token", "token_type", "expires_in"}
    assert (
        sandbox.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SANDBOX_CLIENT_ID, "nope")
        ).status_code
        == 401
    )
    assert (
        sandbox.http.post(
            "/oauth/token", data={"grant_type": "password"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        ).status_code
        == 400
    )


def test_api_needs_a_bearer_token(sandbox: SandboxHandle) -> None:
    assert_error_body(sandbox.http.get("/api/v2/users"), 401, "authentication.required")
    assert_error_body(
        sandbox.http.get("/api/v2/users", headers={"Authorization": "Bearer forged"}), 401, "bad.credentials"
    )


def test_listing_defaults_to_active_users_and_25_a_page(api: httpx.Client) -> None:
    body = api.get("/api/v2/users").json()
    assert len(body["entities"]) == 25 and body["pageSize"] == 25 and body["pageNumber"] == 1
    assert {u["state"] for u in body["entities"]} == {"active"}
    assert body["nextUri"].startswith("/api/v2/users?") and "previousUri" not in body
    assert {"entities", "pageSize", "pageNumber", "total", "pageCount", "firstUri", "selfUri", "lastUri"} <= set(body)


def test_id_lookup_pages_too_and_filters_by_state(api: httpx.Client) -> None:
    ids = f"{JANE},{PRIYA}"
    assert [u["id"] for u in api.get("/api/v2/users", params={"id": ids}).json()["entities"]] == [JANE]
    both = api.get("/api/v2/users", params={"id": ids, "state": "any"}).json()["entities"]
    assert {u["id"] for u in both} == {JANE, PRIYA}


def test_more_than_100_ids_is_refused(api: httpx.Client) -> None:
    ids = ",".join(f"00000000-0000-4000-8000-{i:012d}" for i in range(101))
    assert_error_body(api.get("/api/v2/users", params={"id": ids}), 400, "max.user.ids")


def test_repeated_id_parameters_are_refused(api: httpx.Client) -> None:
    assert_error_body(api.get("/api/v2/users", params=[("id", JANE), ("id", PRIYA)]), 400, "bad.request")


def test_page_size_is_capped_and_deep_paging_of_inactive_users_stops_at_10000(api: httpx.Client) -> None:
    assert_error_body(api.get("/api/v2/users", params={"pageSize": 501}), 400, "invalid.value")
    deep = api.get("/api/v2/users", params={"pageSize": 500, "pageNumber": 21, "state": "inactive"})
    assert_error_body(deep, 400, "bad.request")


def test_lasttokenissued_only_with_expand(api: httpx.Client, sandbox: SandboxHandle) -> None:
    sandbox.login(JANE)
    plain = api.get(f"/api/v2/users/{JANE}").json()
    assert "lastTokenIssued" not in plain
    expanded = api.get(f"/api/v2/users/{JANE}", params={"expand": "lasttokenissued"}).json()
    assert expanded["lastTokenIssued"]["dateIssued"].endswith("Z")
    assert_error_body(api.get(f"/api/v2/users/{JANE}", params={"expand": "everything"}), 400, "invalid.value")


def test_get_user_returns_active_and_inactive_but_deleted_only_on_request(api: httpx.Client) -> None:
    assert api.get(f"/api/v2/users/{PRIYA}").json()["state"] == "inactive"
    deleted = "4a23d596-2217-4ead-9bc4-96cb8e81973e"
    assert_error_body(api.get(f"/api/v2/users/{deleted}"), 404, "general.resource.not.found")
    assert api.get(f"/api/v2/users/{deleted}", params={"state": "deleted"}).json()["state"] == "deleted"
    assert_error_body(api.get(f"/api/v2/users/{PRIYA}", params={"state": "inactive"}), 400, "invalid.value")


def test_patch_requires_version_and_state_alone(api: httpx.Client) -> None:
    user = api.get(f"/api/v2/users/{JANE}").json()
    assert_error_body(api.patch(f"/api/v2/users/{JANE}", json={"state": "inactive"}), 400, "bad.request")
    both = api.patch(f"/api/v2/users/{JANE}", json={"state": "inactive", "version": user["version"], "title": "x"})
    assert "only modifiable field" in assert_error_body(both, 400, "bad.request")["message"]
    assert_error_body(
        api.patch(f"/api/v2/users/{JANE}", json={"state": "INACTIVE", "version": user["version"]}), 400, "invalid.value"
    )
    assert_error_body(
        api.patch(f"/api/v2/users/{JANE}", json={"status": "inactive", "version": user["version"]}), 400, "bad.request"
    )
    stale = api.patch(f"/api/v2/users/{JANE}", json={"state": "inactive", "version": user["version"] - 1})
    assert assert_error_body(stale, 409, "general.conflict")["message"] == (
        "The version supplied does not match the current version of the user"
    )
    ok = api.patch(f"/api/v2/users/{JANE}", json={"state": "inactive", "version": user["version"]})
    assert ok.status_code == 200 and ok.json()["state"] == "inactive"
    assert ok.json()["version"] == user["version"] + 1


def test_deactivation_keeps_sessions_until_tokens_are_deleted(api: httpx.Client, sandbox: SandboxHandle) -> None:
    version = api.get(f"/api/v2/users/{JANE}").json()["version"]
    api.patch(f"/api/v2/users/{JANE}", json={"state": "inactive", "version": version})
    assert sandbox.user(JANE)["live_tokens"] == 1 and sandbox.user(JANE)["roles"] == []
    resp = api.delete(f"/api/v2/tokens/{JANE}")
    assert resp.status_code == 204 and resp.content == b""
    assert sandbox.user(JANE)["live_tokens"] == 0


def test_search_without_a_state_criterion_finds_active_users_only(api: httpx.Client) -> None:
    def search(*criteria: dict[str, Any]) -> list[str]:
        resp = api.post("/api/v2/users/search", json={"query": list(criteria)})
        assert resp.status_code == 200
        assert {"total", "pageCount", "pageSize", "pageNumber", "types", "results"} <= set(resp.json())
        return [u["id"] for u in resp.json()["results"]]

    email = {"type": "EXACT", "fields": ["email"], "values": ["priya.shah@example.com", "alex.kim@example.com"]}
    assert set(search(email)) == {ALEX_1, ALEX_2}
    assert PRIYA in search(email, {"type": "EXACT", "fields": ["state"], "values": ["active", "inactive"]})


def test_search_email_match_is_case_sensitive(api: httpx.Client) -> None:
    def hits(value: str) -> list[str]:
        body = {"query": [{"type": "EXACT", "fields": ["email"], "value": value}]}
        return [u["id"] for u in api.post("/api/v2/users/search", json=body).json()["results"]]

    assert hits("Robin.Mixed@Example.com") == [ROBIN]
    assert hits("robin.mixed@example.com") == []


def test_search_limits(api: httpx.Client) -> None:
    many = {"type": "EXACT", "fields": ["email"], "values": [f"u{i}@example.com" for i in range(101)]}
    assert_error_body(api.post("/api/v2/users/search", json={"query": [many]}), 400, "invalid.value")
    assert_error_body(api.post("/api/v2/users/search", json={"pageSize": 101, "query": [many]}), 400, "invalid.value")
    assert_error_body(
        api.post("/api/v2/users/search", content=b"{}", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported.media.type",
    )


def test_search_index_lags_behind_writes() -> None:
    clock = {"now": 1000.0}
    org = Org.generate(20, search_lag=30.0, wall=lambda: clock["now"])
    with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        version = http.get(f"/api/v2/users/{JANE}", headers=h).json()["version"]
        http.patch(f"/api/v2/users/{JANE}", json={"state": "inactive", "version": version}, headers=h)
        query = {
            "query": [
                {"type": "EXACT", "fields": ["email"], "value": "jane.doe@example.com"},
                {"type": "EXACT", "fields": ["state"], "values": ["active", "inactive"]},
            ]
        }
        stale = http.post("/api/v2/users/search", json=query, headers=h).json()["results"][0]
        assert (stale["state"], stale["version"]) == ("active", version)  # the index has not caught up
        clock["now"] += 31
        fresh = http.post("/api/v2/users/search", json=query, headers=h).json()["results"][0]
        assert (fresh["state"], fresh["version"]) == ("inactive", version + 1)


def test_rate_limit_answers_429_with_retry_after_and_optional_headers() -> None:
    from reconciler.sandbox.faults import RateLimit

    limit = RateLimit(allowed=3, window=60, send_headers=True)
    with Sandbox(Org.generate(20), rate_limit=limit) as sb, httpx.Client(base_url=sb.base_url) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        answers = [http.get("/api/v2/tokens/me", headers=h) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[1].headers["inin-ratelimit-count"] == "2"
        assert answers[1].headers["inin-ratelimit-allowed"] == "3"
        body = assert_error_body(answers[3], 429, "too.many.requests.retry.after")
        assert 1 <= int(answers[3].headers["Retry-After"]) <= 60 and "Retry the request in" in body["message"]


def test_rate_limit_headers_are_off_by_default_like_genesys_since_2021(api: httpx.Client) -> None:
    assert not any(h.startswith("inin-ratelimit") for h in api.get("/api/v2/tokens/me").headers)


def test_state_file_survives_a_restart(tmp_path: Any) -> None:
    path = tmp_path / "org.json"
    with Sandbox(users=30, state_file=path) as sb:
        httpx.post(f"{sb.base_url}/_sandbox/users/{JANE}/state", json={"state": "inactive"})
        time.sleep(0.01)
    with Sandbox(users=30, state_file=path) as again:
        assert again.org.users[JANE].state == "inactive"


def test_generated_org_is_deterministic_and_scales() -> None:
    assert Org.generate(50, wall=lambda: 0.0).to_json() == Org.generate(50, wall=lambda: 0.0).to_json()
    start = time.perf_counter()
    big = Org.generate(20_000, wall=lambda: 0.0)
    assert len(big.users) == 20_000 and time.perf_counter() - start < 10


def test_a_path_served_under_another_method_is_405_any_other_404(api: httpx.Client) -> None:
    assert_error_body(api.put(f"/api/v2/users/{JANE}", json={}), 405, "method.not.allowed")
    assert_error_body(api.post("/api/v2/tokens/me"), 405, "method.not.allowed")
    assert_error_body(api.get("/api/v2/users/not-a-uuid"), 404, "not.found")
    assert_error_body(api.get("/api/v2/groups"), 404, "not.found")
    assert_error_body(api.get("/elsewhere"), 404, "not.found")


def test_every_fault_field_is_settable_and_clear_resets_it() -> None:
    from dataclasses import fields

    from reconciler.sandbox.faults import Faults

    faults = Faults()
    public = {f.name for f in fields(Faults) if not f.name.startswith("_")}
    assert set(faults.settable()) == public - {"injected"}
    faults.injected["dropped"] += 2
    changed = {name: ({"x": 1} if isinstance(getattr(faults, name), dict) else 3) for name in faults.settable()}
    faults.update(changed)
    assert all(getattr(faults, name) == value for name, value in changed.items())
    faults.clear()
    assert {name: getattr(faults, name) for name in faults.settable()} == {
        name: getattr(Faults(), name) for name in faults.settable()
    }
    assert faults.injected == {"dropped": 2}  # the account of what was injected survives a clear
    with pytest.raises(ValueError, match="injected"):
        faults.update({"injected": {}})


def test_a_fault_added_to_the_dataclass_needs_no_second_list() -> None:
    from dataclasses import dataclass

    from reconciler.sandbox.faults import Faults

    @dataclass
    class WithSlowSearch(Faults):
        slow_search: int = 0

    faults = WithSlowSearch()
    faults.update({"slow_search": 2})
    assert faults.slow_search == 2 and faults.as_dict()["slow_search"] == 2
    faults.clear()
    assert faults.slow_search == 0


def test_generated_token_times_follow_the_sandboxs_own_clock() -> None:
    """The cause of the 2026-11-30 red CI: token times must come from the org's clock, not the host's."""
    for start in (0.0, 1_800_000_000.0, 4_000_000_000.0):
        org = Org.generate(300, wall=lambda start=start: start)
        users = [u for u in org.users.values() if u.last_token_issued is not None]
        # Sessions live today were issued within the last 20 hours; older tokens (dormant users, for
        # `propose --dormant`) go back at most 400 days. Either way, on the org's clock.
        assert users and all(start - 400.5 * 86400 <= u.last_token_issued <= start for u in users)
        live = [u.last_token_issued for u in users if u.live_tokens]
        assert live and all(start - 20 * 3600 <= t <= start for t in live)
        assert any(t < start - 90 * 86400 for t in (u.last_token_issued for u in users))


def test_a_token_older_than_the_longest_lifetime_is_not_live() -> None:
    from reconciler.sandbox.org import TOKEN_LIFETIME_MAX

    clock = {"now": 1_000_000.0}
    org = Org.generate(20, wall=lambda: clock["now"])
    jane = org.users[JANE]
    org.login(jane)
    assert org.live_tokens(jane) >= 1
    clock["now"] += TOKEN_LIFETIME_MAX - 1
    assert org.live_tokens(jane) >= 1
    clock["now"] += 2
    assert org.live_tokens(jane) == 0
    with Sandbox(org) as sb:
        assert httpx.get(f"{sb.base_url}/_sandbox/users/{JANE}").json()["live_tokens"] == 0
