"""Reading live users: batching, the listing switch, and responses that cannot be trusted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from reconciler.core.model import LiveState
from reconciler.core.plan import build
from reconciler.core.settings import Settings
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.live import read_live
from reconciler.genesys.session import ApiSession
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import FIXED_NOW, JANE, FakeTime, SandboxHandle, sandbox_wall
from tests.planning import desired, entry

FAST = Settings(requests_per_minute=600_000)


@pytest.fixture
def client(sandbox: SandboxHandle) -> Iterator[GenesysClient]:
    c = GenesysClient(ApiSession(connection_from_env(sandbox.env), FAST))
    yield c
    c.close()


def calls(client: GenesysClient) -> dict[str, int]:
    return dict(client.stats.calls)


def test_a_few_emails_cost_one_search_and_one_batched_get(client: GenesysClient) -> None:
    entries = [entry("jane.doe@example.com"), entry("john.roe@example.com"), entry("priya.shah@example.com")]
    live = read_live(client, entries, settings=FAST)
    assert calls(client) == {"POST /oauth/token": 1, "POST /api/v2/users/search": 1, "GET /api/v2/users": 1}
    assert live.strategy == "targeted"
    assert live.email_index["jane.doe@example.com"] == (JANE,)


def test_ids_need_no_search(client: GenesysClient) -> None:
    read_live(client, [entry(id=JANE)], settings=FAST)
    assert calls(client) == {"POST /oauth/token": 1, "GET /api/v2/users": 1}


def test_batches_are_100_ids_and_100_search_values(tmp_path: Path) -> None:
    org = Org.generate(1200, wall=sandbox_wall())
    with Sandbox(org) as sb:
        client = GenesysClient(ApiSession(connection_from_env(sb.env), FAST))
        users = [u for u in list(org.users.values())[12:] if u.email == u.email.lower()][:250]
        read_live(client, [entry(u.email) for u in users], settings=FAST, strategy="targeted")
        assert calls(client) == {"POST /oauth/token": 1, "POST /api/v2/users/search": 3, "GET /api/v2/users": 3}
        client.close()


def test_a_large_share_of_a_small_org_switches_to_one_listing(tmp_path: Path) -> None:
    org = Org.generate(600, wall=sandbox_wall())
    paced = Settings(requests_per_minute=1_200)
    # The choice compares time; on an injected clock the latency measured is nil, so time is calls
    # (on the wall clock, one slow answer on a loaded machine could tip it: it did).
    fake = FakeTime()
    with Sandbox(org) as sb:
        client = GenesysClient(ApiSession(connection_from_env(sb.env), paced, clock=fake.clock, sleep=fake.sleep))
        users = list(org.users.values())[12:512]
        live = read_live(client, [entry(u.email) for u in users], settings=paced)
        assert live.strategy == "listing"
        # one count probe, then 600 users at 500 a page; no search, no per-batch GET
        assert calls(client) == {"POST /oauth/token": 1, "GET /api/v2/users": 1, "GET /api/v2/users/query": 2}
        assert all(u.email.lower() in live.email_index for u in users)
        assert set(live.users) <= {u.id for u in users}  # nobody else is kept
        client.close()


def test_the_active_user_count_is_read_only_when_a_percentage_budget_needs_it(client: GenesysClient) -> None:
    live = read_live(client, [entry(id=JANE)], settings=FAST, need_active_count=True)
    assert live.active_users is not None and live.active_users > 100
    assert calls(client)["GET /api/v2/users"] == 2


API = "https://api.mypurecloud.com"


@pytest.fixture
def mocked() -> Iterator[Any]:
    env = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret"}
    with respx.mock(assert_all_called=False) as router:
        router.post("https://login.mypurecloud.com/oauth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        )
        client = GenesysClient(ApiSession(connection_from_env(env), FAST))
        yield router, client
        client.close()


def plan_for(live: LiveState, *entries: Any) -> Any:
    return build(desired(*entries), live, now=FIXED_NOW)


def test_a_search_page_that_repeats_is_an_error_for_those_users(mocked: Any) -> None:
    router, client = mocked
    page = {
        "total": 5,
        "pageCount": 5,
        "pageSize": 1,
        "pageNumber": 1,
        "types": ["users"],
        "results": [{"id": JANE, "email": "jane.doe@example.com", "state": "active", "version": 1}],
        "nextPage": "/api/v2/users/search?q64=same",
    }
    router.post(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=page))
    router.get(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=page))
    live = read_live(client, [entry("jane.doe@example.com")], settings=FAST)
    plan = plan_for(live, entry("jane.doe@example.com"))
    assert [p.code for p in plan.problems] == ["user.read_failed"] and "repeated a page" in plan.problems[0].message
    assert plan.changes == ()


def test_a_batch_that_is_not_json_is_an_error_for_its_users_only(mocked: Any) -> None:
    router, client = mocked
    router.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    live = read_live(client, [entry(id=JANE)], settings=FAST)
    assert "not JSON" in live.read_errors[f"id:{JANE}"]
    assert [p.code for p in plan_for(live, entry(id=JANE)).problems] == ["user.read_failed"]


def test_a_user_without_an_id_spoils_its_batch_not_the_run(mocked: Any) -> None:
    router, client = mocked
    router.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, json={"entities": [{"state": "active"}]}))
    live = read_live(client, [entry(id=JANE)], settings=FAST)
    assert "without an id" in live.read_errors[f"id:{JANE}"]


def test_a_listing_that_repeats_a_page_falls_back_to_batched_reads(mocked: Any) -> None:
    router, client = mocked
    user = {"id": JANE, "email": "jane.doe@example.com", "state": "active", "version": 3}
    router.get(f"{API}/api/v2/users/query").mock(
        return_value=httpx.Response(
            200, json={"entities": [user], "cursor": "c", "nextUri": "/api/v2/users/query?cursor=c"}
        )
    )
    router.get(f"{API}/api/v2/users").mock(return_value=httpx.Response(200, json={"entities": [user]}))
    live = read_live(client, [entry(id=JANE)], settings=FAST, strategy="listing")
    assert live.strategy == "targeted" and live.users[JANE].version == 3
