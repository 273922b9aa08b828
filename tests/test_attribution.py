"""Drift attributed to its actor: reading audit answers (pure, hypothesis) and the calls made (respx)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.attribution import UNKNOWN, audit_service, changed_by_from_dict, find_actor, realtime_query
from reconciler.core.drift import Drifted
from reconciler.core.settings import Settings
from reconciler.errors import BadRequest, VersionConflict
from reconciler.genesys.attribution import attribute
from tests.conftest import FakeTime
from tests.test_client import API, USER_ID, error_body, make_client

NOW = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADMIN = {"id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "name": "Pat Admin"}
IDP = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
OWN = "client-id"  # the test connection's OAuth client id
MAPPING = {"services": [{"name": "Directory", "entities": [{"name": "User", "actions": ["Update"]}]}]}


def message(
    when: str = "2026-11-29T14:02:11.123000+00:00",
    *,
    user: dict[str, Any] | None = None,
    client: str | None = None,
    entity: str = USER_ID,
    new: str = "active",
    prop: str = "state",
    status: str = "SUCCESS",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "m-" + when,
        "serviceName": "Directory",
        "eventDate": when,
        "action": "Update",
        "entity": {"id": entity, "selfUri": f"/api/v2/users/{entity}"},
        "entityType": "User",
        "status": status,
        "propertyChanges": [{"property": prop, "oldValues": ["inactive"], "newValues": [new]}],
    }
    if user is not None:
        doc["user"] = {**user, "selfUri": f"/api/v2/users/{user['id']}"}
    if client is not None:
        doc["client"] = {"id": client, "selfUri": f"/api/v2/oauth/clients/{client}"}
    return doc


def answer(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"entities": list(messages), "pageSize": 25, "pageNumber": 1, "total": len(messages), "pageCount": 1}


def actor(doc: Any, live_state: str = "active") -> Any:
    return find_actor(doc, user_id=USER_ID, since=SINCE, until=NOW, live_state=live_state, own_client_id=OWN)


# --- pure: the service mapping ------------------------------------------------------------


def test_the_service_is_discovered_from_the_mapping_not_assumed() -> None:
    assert audit_service(MAPPING) == ("Directory", "User")
    renamed = {
        "services": [
            {"name": "Groups", "entities": [{"name": "Group"}]},
            {"name": "PeopleDir", "entities": [{"name": "USER"}]},
        ]
    }
    assert audit_service(renamed) == ("PeopleDir", "USER")
    both = {
        "services": [
            {"name": "SCIM", "entities": [{"name": "User"}]},
            {"name": "directory", "entities": [{"name": "user"}]},
        ]
    }
    assert audit_service(both) == ("directory", "user")  # Directory is preferred when several audit users
    assert audit_service({"services": [{"name": "Groups", "entities": [{"name": "Group"}]}]}) is None
    with pytest.raises(ValueError, match="services"):
        audit_service(["not", "a", "mapping"])


def test_the_query_filters_by_the_user_over_the_interval_newest_first() -> None:
    body = realtime_query(USER_ID, SINCE, NOW, "Directory", page_size=25)
    assert body == {
        "interval": "2026-11-29T09:00:00.000Z/2026-11-29T18:00:00.000Z",
        "serviceName": "Directory",
        "filters": [{"property": "EntityId", "value": USER_ID}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
        "pageNumber": 1,
        "pageSize": 25,
    }


# --- pure: which message, whose -------------------------------------------------------------


def test_an_admin_is_named_with_the_time() -> None:
    found = actor(answer(message(user=ADMIN, client="admin-ui-client")))
    assert found.kind == "user" and found.user is not None and found.user.name == "Pat Admin"
    assert found.as_dict() == {
        "kind": "user",
        "user": {"id": ADMIN["id"], "name": "Pat Admin"},
        "client": {"id": "admin-ui-client", "name": None},
        "at": "2026-11-29T14:02:11Z",
    }


@pytest.mark.parametrize("when", ["2026-11-29T14:02:11.123", "2026-11-29 14:02:11.123z", "2026-11-29T14:02:11.123Z"])
def test_event_dates_are_read_by_the_one_instant_rule_for_genesys_times(when: str) -> None:
    """core/instants: a Genesys time without a zone is UTC by convention; 'z' and a space are accepted too."""
    found = actor(answer(message(when, user=ADMIN)))
    assert found.kind == "user" and found.at == datetime(2026, 11, 29, 14, 2, 11, 123000, tzinfo=UTC)


def test_a_client_without_a_user_is_the_client() -> None:
    found = actor(answer(message(client=IDP)))
    assert (found.kind, found.client and found.client.id, found.user) == ("client", IDP, None)


def test_the_newest_qualifying_message_wins_whatever_the_order() -> None:
    older = message("2026-11-29T10:00:00Z", user=ADMIN)
    newer = message("2026-11-29T15:40:00Z", client=IDP)
    assert actor(answer(older, newer)).kind == "client"
    assert actor(answer(newer, older)).kind == "client"


@pytest.mark.parametrize(
    "doc",
    [
        message(entity="00000000-0000-4000-8000-000000000000", client=IDP),  # another user
        message(new="inactive", client=IDP),  # a change to another state
        message(prop="title", client=IDP),  # another property
        message("2026-11-29T08:59:59Z", client=IDP),  # before we set the state
        message("2026-11-30T08:00:00Z", client=IDP),  # after the read
        message(status="FAILURE", client=IDP),  # a change that did not happen
        message(),  # no user, no client
        {"entity": "not a mapping"},
        "not a message",
    ],
)
def test_anything_short_of_a_clear_match_is_unknown(doc: Any) -> None:
    assert actor(answer(doc)) is UNKNOWN


def test_names_are_matched_case_insensitively() -> None:
    doc = message(client=IDP)
    doc["propertyChanges"] = [{"property": "State", "newValues": ["ACTIVE"]}]
    assert actor(answer(doc)).kind == "client"


def test_our_own_client_is_recognised() -> None:
    found = actor(answer(message(client=OWN)))
    assert found.own and "reconciler's own client" in found.describe()


def test_an_answer_without_entities_is_an_error_for_the_caller_to_warn_about() -> None:
    for bad in ({"results": []}, [], "text", None):
        with pytest.raises(ValueError, match="entities"):
            actor(bad)


def test_hostile_names_lose_their_control_characters() -> None:
    found = actor(answer(message(user={"id": ADMIN["id"], "name": "Pat\x1b[31m Admin\n=cmd"})))
    assert found.user is not None and found.user.name == "Pat?[31m Admin?=cmd"


def test_changed_by_round_trips_through_its_dict() -> None:
    found = actor(answer(message("2026-11-29T14:02:11Z", user=ADMIN, client=IDP)))
    assert changed_by_from_dict(found.as_dict()) == replace(found, own=False)
    assert changed_by_from_dict(UNKNOWN.as_dict()) == UNKNOWN
    assert changed_by_from_dict({"kind": "robot"}) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_messages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "entity": st.one_of(st.just({"id": USER_ID}), _json),
            "eventDate": st.one_of(
                st.datetimes(
                    min_value=datetime(2026, 11, 28), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
                ).map(lambda d: d.isoformat()),
                _json,
            ),
            "user": st.one_of(st.just(ADMIN), _json),
            "client": st.one_of(st.just({"id": IDP}), _json),
            "status": st.sampled_from(["SUCCESS", "FAILURE", "WARNING"]),
            "propertyChanges": st.one_of(st.just([{"property": "state", "newValues": ["active"]}]), _json),
        },
    )
    | _json,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(_messages)
def test_any_answer_gives_unknown_or_an_actor_inside_the_interval(entities: list[Any]) -> None:
    found = actor({"entities": entities})
    assert found is UNKNOWN or (found.at is not None and SINCE <= found.at <= NOW and found.kind in ("user", "client"))


# --- the calls (respx) ----------------------------------------------------------------------

MAPPING_URL = f"{API}/api/v2/audits/query/realtime/servicemapping"
QUERY_URL = f"{API}/api/v2/audits/query/realtime"


def drifts(n: int) -> list[Drifted]:
    ids = [USER_ID] + [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, n)]
    return [Drifted(i, SINCE, "inactive", "active") for i in ids[:n]]


def run(fake_time: FakeTime, items: list[Drifted], **settings_kw: Any) -> Any:
    return attribute(
        make_client(fake_time), items, now=NOW, own_client_id=OWN, settings=replace(Settings(), **settings_kw)
    )


def test_no_audit_call_at_all_when_nothing_drifted(mock: Any, fake_time: FakeTime) -> None:
    result = run(fake_time, [])
    assert result.by_user == {} and result.warning is None
    assert [c.request.url.path for c in mock.calls] == []


def test_one_mapping_then_one_query_per_drifted_user_and_one_name_lookup(mock: Any, fake_time: FakeTime) -> None:
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    mock.post(QUERY_URL).mock(
        side_effect=lambda req: httpx.Response(
            200, json=answer(message(client=IDP, entity=json.loads(req.content)["filters"][0]["value"]))
        )
    )
    names = mock.get(f"{API}/api/v2/oauth/clients/{IDP}").mock(
        return_value=httpx.Response(200, json={"id": IDP, "name": "Okta provisioning"})
    )
    result = run(fake_time, drifts(3))
    assert result.warning is None and result.queries == 3
    assert {c.client.name for c in result.by_user.values() if c.client} == {"Okta provisioning"}
    assert names.call_count == 1  # cached for the run
    api = [f"{c.request.method} {c.request.url.path}" for c in mock.calls if "/oauth/token" not in str(c.request.url)]
    assert api == [
        "GET /api/v2/audits/query/realtime/servicemapping",
        "POST /api/v2/audits/query/realtime",
        f"GET /api/v2/oauth/clients/{IDP}",  # the first time this client is named, never again
        "POST /api/v2/audits/query/realtime",
        "POST /api/v2/audits/query/realtime",
    ]
    sent = json.loads(next(c.request.content for c in mock.calls if c.request.url.path.endswith("/realtime")))
    assert sent["serviceName"] == "Directory" and sent["filters"] == [{"property": "EntityId", "value": USER_ID}]


def test_queries_are_bounded_per_run_and_the_rest_are_unknown(mock: Any, fake_time: FakeTime) -> None:
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    query = mock.post(QUERY_URL).mock(return_value=httpx.Response(200, json=answer(message(user=ADMIN))))
    result = run(fake_time, drifts(5), max_audit_queries=2)
    assert query.call_count == 2 and result.queries == 2
    assert (
        sum(1 for c in result.by_user.values() if c is UNKNOWN) == 4
    )  # 3 never asked, 1 whose answer named another user
    assert result.warning and "max_audit_queries" in result.warning


def test_the_interval_never_reaches_back_beyond_14_days(mock: Any, fake_time: FakeTime) -> None:
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    query = mock.post(QUERY_URL).mock(return_value=httpx.Response(200, json=answer()))
    run(fake_time, [Drifted(USER_ID, NOW - timedelta(days=90), "inactive", "active")])
    start = json.loads(query.calls[0].request.content)["interval"].split("/")[0]
    assert start == "2026-11-15T18:05:00.000Z"  # 14 days back from now + the allowed clock skew


def test_own_client_needs_no_name_lookup(mock: Any, fake_time: FakeTime) -> None:
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    mock.post(QUERY_URL).mock(return_value=httpx.Response(200, json=answer(message(client=OWN))))
    result = run(fake_time, drifts(1))
    found = result.by_user[USER_ID]
    assert found.own and found.client.name == "reconciler"
    assert not [c for c in mock.calls if "/oauth/clients/" in str(c.request.url)]


@pytest.mark.parametrize("client_id", ["../../users/" + USER_ID, "idp?pageSize=1", "idp\x1b[2J", "idp#x", "%2e%2e"])
def test_a_client_id_that_is_not_an_id_is_shown_and_never_put_in_a_url(
    mock: Any, fake_time: FakeTime, client_id: str
) -> None:
    """The audit trail's text goes into GET /api/v2/oauth/clients/{id} only when it is an id (a GUID's characters)."""
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    mock.post(QUERY_URL).mock(return_value=httpx.Response(200, json=answer(message(client=client_id))))
    anything = mock.get(url__regex=r".*/api/v2/(oauth|users).*").mock(
        return_value=httpx.Response(200, json={"id": "x", "name": "Not the client"})
    )
    result = run(fake_time, drifts(1))
    found = result.by_user[USER_ID]
    assert found.kind == "client" and found.client is not None and found.client.name is None
    assert anything.call_count == 0 and result.warning is None


def test_a_refused_name_lookup_shows_the_id_alone(mock: Any, fake_time: FakeTime) -> None:
    mock.get(MAPPING_URL).mock(return_value=httpx.Response(200, json=MAPPING))
    mock.post(QUERY_URL).mock(return_value=httpx.Response(200, json=answer(message(client=IDP))))
    mock.get(f"{API}/api/v2/oauth/clients/{IDP}").mock(
        return_value=httpx.Response(403, json=error_body(403, "missing.permissions", "oauth:client:view"))
    )
    result = run(fake_time, drifts(1))
    assert result.by_user[USER_ID].client.id == IDP and result.by_user[USER_ID].client.name is None
    assert result.warning is None  # the actor is still known


@pytest.mark.parametrize(
    ("where", "response"),
    [
        ("mapping", httpx.Response(403, json=error_body(403, "missing.permissions", "audits:audit:view"))),
        ("mapping", httpx.Response(500, json=error_body(500, "internal.server.error", "boom"))),
        ("mapping", httpx.Response(200, text="<html>not json</html>")),
        ("mapping", httpx.Response(200, json={"unexpected": True})),
        ("query", httpx.Response(403, json=error_body(403, "missing.permissions", "audits:audit:view"))),
        ("query", httpx.Response(200, text="not json")),
        ("query", httpx.Response(200, json=[1, 2, 3])),
    ],
)
def test_audit_failures_leave_every_user_unknown_with_one_warning(
    mock: Any, fake_time: FakeTime, where: str, response: httpx.Response
) -> None:
    good_mapping = httpx.Response(200, json=MAPPING)
    mock.get(MAPPING_URL).mock(return_value=response if where == "mapping" else good_mapping)
    mock.post(QUERY_URL).mock(return_value=response)
    result = run(fake_time, drifts(3), retry_attempts=1)
    assert set(result.by_user.values()) == {UNKNOWN} and len(result.by_user) == 3
    assert result.warning
    if response.status_code == 403:
        assert "audits:audit:view" in result.warning
        assert result.queries <= 1  # a missing permission is not asked about again for every user


# --- PUT /state ------------------------------------------------------------------------------


def test_a_reason_code_is_a_put_of_exactly_state_version_and_reason(mock: Any, fake_time: FakeTime) -> None:
    route = mock.put(f"{API}/api/v2/users/{USER_ID}/state").mock(
        return_value=httpx.Response(
            200, json={"state": "inactive", "version": 13, "stateChangeReason": "Voluntary", "stateChangeDate": "x"}
        )
    )
    resp = make_client(fake_time).set_state(USER_ID, "inactive", 12, "Voluntary")
    assert json.loads(route.calls[0].request.content) == {
        "state": "inactive",
        "version": 12,
        "stateChangeReason": "Voluntary",
    }
    assert resp.data["version"] == 13


def test_put_state_conflicts_are_version_conflicts_like_the_patch(mock: Any, fake_time: FakeTime) -> None:
    mock.put(f"{API}/api/v2/users/{USER_ID}/state").mock(
        side_effect=[
            httpx.Response(409, json=error_body(409, "general.conflict", "The version supplied does not match")),
            httpx.Response(400, json=error_body(400, "invalid.value", "Value [Sabbatical] is not valid")),
        ]
    )
    client = make_client(fake_time)
    with pytest.raises(VersionConflict):
        client.set_state(USER_ID, "inactive", 12, "Voluntary")
    with pytest.raises(BadRequest):
        client.set_state(USER_ID, "inactive", 12, "Sabbatical")
