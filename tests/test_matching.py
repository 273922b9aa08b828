"""One matching rule for both read strategies, and what it costs in API calls.

An address matches every user whose address is equal to it ignoring case, whether
the users were found by search (``targeted``) or by listing the org. The sandbox
matches ``EXACT`` search values case-sensitively (the strictest reading of an
undocumented behaviour), so these tests see every spelling problem a real org
could cause. Call counts are pinned: the floor is ceil(E/100) searches +
ceil(M/100) batched reads + the token, whatever the casing, when the org stores
addresses as the files write them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.model import DesiredEntry, LiveUser, Source, UserState, address_key
from reconciler.core.plan import build
from reconciler.core.settings import Settings
from reconciler.endpoints import endpoint_name
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.live import read_live
from reconciler.genesys.session import ApiSession
from reconciler.sandbox.faults import RateLimit
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import FIXED_NOW, ROBIN, SandboxHandle, sandbox_wall
from tests.planning import desired, entry

FAST = Settings(requests_per_minute=600_000, concurrency=4)
SEARCH, GET, LIST = "POST /api/v2/users/search", "GET /api/v2/users", "GET /api/v2/users/query"


@pytest.fixture
def org2k() -> Iterator[SandboxHandle]:
    """2,000 users; 300 of them store a mixed-case address (Ava.Smith.12@Example.com)."""
    org = Org.generate(2_000, wall=sandbox_wall())
    users = [u for u in list(org.users.values())[12:] if u.state == "active"]
    for u in users[:300]:
        local, _, _domain = u.email.partition("@")
        org.change_email(u, ".".join(p.capitalize() for p in local.split(".")) + "@Example.com")
    with Sandbox(org, rate_limit=RateLimit(allowed=1_000_000, window=1)) as sb, httpx.Client(base_url=sb.base_url) as h:
        yield SandboxHandle(sb, h)


def users_of(handle: SandboxHandle, mixed: bool, n: int) -> list[Any]:
    with handle.sandbox.org.lock:
        users = list(handle.sandbox.org.users.values())[12:]
    return [u for u in users if u.state == "active" and (u.email != u.email.lower()) == mixed][:n]


def read(handle: SandboxHandle, emails: list[str], strategy: str = "auto", settings: Settings = FAST) -> Any:
    client = GenesysClient(ApiSession(connection_from_env(handle.env), settings))
    try:
        live = read_live(
            client, [entry(e, line=i + 1) for i, e in enumerate(emails)], settings=settings, strategy=strategy
        )
        return live, dict(client.stats.calls)
    finally:
        client.close()


def api_calls(handle: SandboxHandle) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in handle.requests():
        key = endpoint_name(r["method"], r["path"])
        out[key] = out.get(key, 0) + 1
    return out


def test_an_address_stored_in_another_case_matches_with_either_strategy(sandbox: SandboxHandle) -> None:
    """Issue 10 §6: robin.mixed@example.com declared, Robin.Mixed@Example.com stored."""
    entries = [entry("robin.mixed@example.com")]
    plans = {}
    for strategy in ("targeted", "listing"):
        live, calls = read(sandbox, ["robin.mixed@example.com"], strategy)
        plans[strategy] = build(desired(*entries), live, now=FIXED_NOW)
        assert [(c.action.value, c.user_id) for c in plans[strategy].changes][:1] == [("deactivate", ROBIN)]
        assert not plans[strategy].problems
        if strategy == "targeted":
            # search as written (nothing: EXACT is case-sensitive here), then one listing to settle the doubt
            assert calls == {"POST /oauth/token": 1, SEARCH: 1, LIST: 1}
    assert plans["targeted"].changes == plans["listing"].changes


def test_an_address_no_user_has_is_not_found_only_after_the_listing_confirms_it(sandbox: SandboxHandle) -> None:
    live, calls = read(sandbox, ["nobody.here@example.com"], "targeted")
    plan = build(desired(entry("nobody.here@example.com")), live, now=FIXED_NOW)
    assert [p.code for p in plan.problems] == ["user.not_found"]
    assert calls == {"POST /oauth/token": 1, SEARCH: 1, LIST: 1}  # the listing is the price of the certainty


def test_a_listing_that_fails_leaves_the_address_unreadable_not_missing() -> None:
    env = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret"}
    api = "https://api.mypurecloud.com"
    with respx.mock(assert_all_called=True) as router:
        router.post("https://login.mypurecloud.com/oauth/token").mock(
            return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        )
        search = router.post(f"{api}/api/v2/users/search").mock(
            return_value=httpx.Response(
                200,
                json={"total": 0, "pageCount": 0, "pageSize": 100, "pageNumber": 1, "types": ["users"], "results": []},
            )
        )
        listing = router.get(f"{api}/api/v2/users/query").mock(return_value=httpx.Response(403, json={"code": "x"}))
        client = GenesysClient(ApiSession(connection_from_env(env), FAST))
        try:
            live = read_live(client, [entry("robin.mixed@example.com")], settings=FAST, strategy="targeted")
        finally:
            client.close()
    assert search.call_count == 1 and listing.call_count == 1
    plan = build(desired(entry("robin.mixed@example.com")), live, now=FIXED_NOW)
    assert [p.code for p in plan.problems] == ["user.read_failed"]  # never "not found" on a guess


def test_mixed_case_addresses_stored_as_written_cost_the_floor(org2k: SandboxHandle) -> None:
    mixed = [u.email for u in users_of(org2k, mixed=True, n=200)]
    live, calls = read(org2k, mixed, "targeted")
    # floor: ceil(200/100) searches + ceil(200/100) batched reads + the token (was 4 searches: two spellings)
    assert calls == {"POST /oauth/token": 1, SEARCH: 2, GET: 2}
    assert all(len(live.email_index[e.lower()]) == 1 for e in mixed)


def test_lower_case_files_need_no_probe_below_the_threshold(org2k: SandboxHandle) -> None:
    lower = [u.email for u in users_of(org2k, mixed=False, n=300)]
    live, calls = read(org2k, lower, "auto")
    assert live.strategy == "targeted"
    # 3 searches + 3 reads = 6 calls is under the probe threshold: no GET to size the org
    assert calls == {"POST /oauth/token": 1, SEARCH: 3, GET: 3}


def test_mixed_case_files_against_lower_case_storage_cost_one_more_search_per_100(org2k: SandboxHandle) -> None:
    lower = users_of(org2k, mixed=False, n=150)
    written = [u.email.title() for u in lower]  # Ava.Smith.15@Example.Com in the files; stored lower-case
    live, calls = read(org2k, written, "targeted")
    assert calls == {"POST /oauth/token": 1, SEARCH: 4, GET: 2}  # 2 as written (no hit), 2 lower-cased
    assert {u.id for u in lower} == set(live.users)


def test_both_strategies_give_the_same_plan_for_every_casing(org2k: SandboxHandle) -> None:
    mixed = users_of(org2k, mixed=True, n=5)
    lower = users_of(org2k, mixed=False, n=5)
    emails = (
        [u.email for u in mixed[:2]]  # as stored
        + [u.email.lower() for u in mixed[2:4]]  # lower-cased, stored mixed
        + [u.email.upper() for u in mixed[4:]]  # upper-cased, stored mixed
        + [u.email for u in lower[:2]]
        + [u.email.title() for u in lower[2:]]  # title-cased, stored lower
        + ["nobody.at.all@example.com"]
    )
    entries = [entry(e, line=i + 1) for i, e in enumerate(emails)]
    plans = []
    for strategy in ("targeted", "listing"):
        live, _ = read(org2k, emails, strategy)
        plans.append(build(desired(*entries), live, now=FIXED_NOW))
    targeted, listing = plans
    assert targeted.changes == listing.changes
    assert [(p.code, p.source) for p in targeted.problems] == [(p.code, p.source) for p in listing.problems]
    assert len([c for c in targeted.changes if c.action.value == "deactivate"]) == 10
    assert [p.code for p in targeted.problems] == ["user.not_found"]


def test_the_cli_plans_the_same_with_either_read_strategy(sandbox: SandboxHandle, tmp_path: Path, cli: Any) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "users.yaml").write_text("users:\n  - email: robin.mixed@example.com\n  - email: JANE.DOE@example.com\n")
    outputs = []
    for strategy in ("targeted", "listing"):
        result = cli(
            "plan", str(folder), "--no-ledger", "--read-strategy", strategy, "--format", "json", env=sandbox.env
        )
        assert result.code == 0, result.err
        outputs.append(result.out)
    docs = [json.loads(o) for o in outputs]
    assert docs[0]["changes"] == docs[1]["changes"]
    assert {c["id"] for c in docs[0]["changes"] if c["action"] == "deactivate"} == {
        ROBIN,
        "6513270e-269e-4d37-b2a7-4de452e6b438",
    }


KELVIN = "\u212a"  # KELVIN SIGN: not ASCII, yet "\u212a".lower() == "k"


def _respell(handle: SandboxHandle, pairs: list[tuple[Any, str]]) -> None:
    with handle.sandbox.org.lock:
        for user, email in pairs:
            handle.sandbox.org.change_email(user, email)


@pytest.mark.parametrize("strategy", ["targeted", "listing"])
def test_a_look_alike_address_is_another_mailbox_for_either_strategy(sandbox: SandboxHandle, strategy: str) -> None:
    """Unicode lower-casing folds the Kelvin sign into "k": an address spelled with it must not be
    matched by the entry of the ASCII address, alone (it would be locked out in the leaver's place)
    or beside the real one (the address would look ambiguous and hold up the real lock-out)."""
    real, twin, lone = users_of(sandbox, mixed=False, n=3)
    _respell(
        sandbox,
        [
            (real, "kate.kowalski@example.com"),
            (twin, f"{KELVIN}ate.kowalski@example.com"),
            (lone, f"{KELVIN}urt.lang@example.com"),  # no ASCII kurt.lang@ in the org
        ],
    )
    entries = [entry("kate.kowalski@example.com", line=1), entry("kurt.lang@example.com", line=2)]
    live, _ = read(sandbox, [e.email for e in entries if e.email], strategy)
    plan = build(desired(*entries), live, now=FIXED_NOW)
    assert {c.user_id for c in plan.changes} == {real.id}
    assert twin.id not in live.email_index.get("kate.kowalski@example.com", ())
    assert [(p.code, p.source) for p in plan.problems] == [("user.not_found", "users.yaml:2")]


def test_an_entry_pinned_to_an_id_is_not_satisfied_by_a_look_alike_address() -> None:
    from tests.planning import live as live_of

    user = LiveUser("u-1", "active", 3, email=f"{KELVIN}ate@example.com")
    plan = build(desired(entry("kate@example.com", id="u-1")), live_of(user), now=FIXED_NOW)
    assert not plan.changes
    assert [p.code for p in plan.problems] == ["user.identity_mismatch"]


@given(st.text(max_size=40))
def test_an_address_key_is_its_ascii_lower_case_or_nothing(text: str) -> None:
    key = address_key(text)
    if text.isascii():
        assert key == text.lower()
        assert DesiredEntry(text, None, UserState.INACTIVE, Source("f", 1)).email_key == key
    else:
        assert key is None
