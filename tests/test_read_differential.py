"""Differential tests of the fast paths that read live users (genesys/live.py).

Deciding whose access is removed rests on these reads, so each fast path is checked
against a slow reference on generated Genesys answers, hostile ones included:

* ``parse_user`` on any JSON object: a LiveUser or UnexpectedResponse, nothing else;
* ``_Reader._keep`` (decides from raw fields before parsing) against "parse every
  listed user, the last sighting of each wins, then keep the managed ones";
* the listing and the targeted read against one fake org: the same users, the same
  email index and the same unreadable entries (the "same files, same plan" rule).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.model import LiveState, LiveUser, address_key
from reconciler.core.settings import Settings
from reconciler.errors import UnexpectedResponse
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.live import _Reader, parse_user, read_live
from reconciler.genesys.session import ApiSession
from tests.planning import entry

FAST = Settings(requests_per_minute=600_000)
ENV = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret",
    "GENESYSCLOUD_API_URL": "http://127.0.0.1:9",  # never reached: the transport answers
    "GENESYSCLOUD_LOGIN_URL": "http://127.0.0.1:9",
}

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
IDS = ["u1", "u2", "u3", "U1", "u1 "]
_ID = st.one_of(st.sampled_from(IDS), st.sampled_from(["", None, 7, True, ["u1"]]))
_EMAIL = st.sampled_from(
    [
        "a@x.com", "A@X.com", "b@x.com", " a@x.com", "a@x.com\n", "kate@x.com", "\u212aate@x.com",
        "c@x.com", "İ@x.com", "", None, 5, ["a@x.com"],
    ]
)  # fmt: skip
_VERSION = st.sampled_from([1, 2, 0, -1, True, False, 1.0, "152", "0152", "", "²", "١٥٢", "12a", None, [3]])
_STATE = st.sampled_from(["active", "inactive", "deleted", "ACTIVE", "", 1, None])
_TOKEN = st.sampled_from(
    [None, {"dateIssued": "2026-11-28T12:00:00.000Z"}, {"dateIssued": "2026-11-28ß12:00:00"}, {"dateIssued": 5}, "x"]
)


@st.composite
def raw_users(draw: st.DrawFn, hostile_ids: bool = True) -> dict[str, Any]:
    fields = {
        "id": draw(_ID if hostile_ids else st.sampled_from(IDS)),
        "email": draw(_EMAIL),
        "version": draw(_VERSION),
        "state": draw(_STATE),
        "lastTokenIssued": draw(_TOKEN),
        "name": draw(st.one_of(st.text(max_size=5), st.none(), st.integers())),
    }
    # any field may be missing
    return {k: v for k, v in fields.items() if draw(st.booleans()) or (k == "id" and not hostile_ids)}


@given(st.dictionaries(st.sampled_from(["id", "email", "version", "state", "lastTokenIssued", "name"]), _JSON))
@settings(max_examples=500, deadline=None)
def test_parse_user_reads_any_json_object_or_refuses_it_never_crashes(raw: dict[str, Any]) -> None:
    try:
        user = parse_user(raw)
    except UnexpectedResponse:
        assert type(raw.get("id")) is not str or not raw.get("id")
        return
    assert user.id == raw["id"]
    assert user.version is None or type(user.version) is int


@given(raw_users())
@settings(max_examples=500, deadline=None)
def test_parse_user_types_every_field_exactly(raw: dict[str, Any]) -> None:
    try:
        user = parse_user(raw)
    except UnexpectedResponse:
        return
    version = raw.get("version")
    if type(version) is int:
        assert user.version == version
    elif type(version) is str and version.isascii() and version.isdigit():
        assert user.version == int(version)
    else:  # a bool, a float, digits int() reads but Genesys never writes: no version, never a guess
        assert user.version is None
    assert user.state == (raw["state"] if type(raw.get("state")) is str else "")
    assert user.email == (raw["email"] if type(raw.get("email")) is str else None)


def _reference(
    pages: Sequence[Sequence[dict[str, Any]]], wanted_ids: set[str], wanted_emails: set[str]
) -> tuple[dict[str, LiveUser], dict[str, set[str]]]:
    """The slow rule: parse everyone, the last sighting of a user wins, then keep the managed ones."""
    everyone: dict[str, LiveUser] = {}
    for page in pages:
        for raw in page:
            user = parse_user(raw)
            everyone[user.id] = user
    # an address matches ignoring ASCII case only (core.model.address_key)
    kept = {i: u for i, u in everyone.items() if i in wanted_ids or address_key(u.email) in wanted_emails}
    index: dict[str, set[str]] = {}
    for u in kept.values():
        if (key := address_key(u.email)) is not None and key in wanted_emails:
            index.setdefault(key, set()).add(u.id)
    return kept, index


class _Pages:
    """Just enough of a client for _Reader.listing: the pages of one listing."""

    def __init__(self, pages: Sequence[Sequence[dict[str, Any]]]) -> None:
        self.pages = pages

    def iter_users(self, state: str = "any") -> Iterator[list[dict[str, Any]]]:
        assert state == "any"
        yield from (list(p) for p in self.pages)


_WANTED_IDS = st.sets(st.sampled_from([*IDS, "u9"]))
_WANTED_EMAILS = st.sets(st.sampled_from(["a@x.com", "b@x.com", "kate@x.com", "c@x.com", "z@x.com"]))


@given(st.lists(st.lists(raw_users(), max_size=4), max_size=4), _WANTED_IDS, _WANTED_EMAILS)
@settings(max_examples=800, deadline=None)
def test_keep_decides_as_parsing_everything_then_filtering_would(
    pages: list[list[dict[str, Any]]], wanted_ids: set[str], wanted_emails: set[str]
) -> None:
    try:
        expected = _reference(pages, wanted_ids, wanted_emails)
    except UnexpectedResponse:
        expected = None
    reader = _Reader(_Pages(pages), FAST)  # type: ignore[arg-type]  # a listing needs only iter_users
    emails = [entry(e) for e in sorted(wanted_emails)]
    try:
        reader.listing(sorted(wanted_ids), emails)
    except UnexpectedResponse:
        assert expected is None, "the listing refused a page the slow rule reads"
        return
    assert expected is not None, "the listing read a page the slow rule refuses"
    users, index = expected
    assert reader.users == users
    assert {k: set(v) for k, v in reader.email_index.items()} == index


def test_a_user_listed_twice_is_read_as_last_listed() -> None:
    # The org changed between two pages: u1 was a@x.com, then b@x.com. The email index must
    # agree with the user it points at, as the batched read (one authoritative GET) would.
    first = {"id": "u1", "email": "a@x.com", "state": "active", "version": 1}
    later = {"id": "u1", "email": "b@x.com", "state": "active", "version": 2}
    reader = _Reader(_Pages([[first], [later]]), FAST)  # type: ignore[arg-type]
    reader.listing([], [entry("a@x.com")])
    assert reader.users == {} and reader.email_index == {}
    reader = _Reader(_Pages([[later], [first]]), FAST)  # type: ignore[arg-type]
    reader.listing([], [entry("a@x.com")])
    assert reader.users["u1"].version == 1 and reader.email_index == {"a@x.com": ["u1"]}


class _FakeOrg:
    """A Genesys org over the transport seam, serving raw users exactly as generated.

    Search is EXACT on the whole address, case-sensitive or not (undocumented; both are tried).
    """

    def __init__(self, users: list[dict[str, Any]], *, case_sensitive: bool, page_size: int = 2) -> None:
        self.users, self.case_sensitive, self.page_size = users, case_sensitive, page_size

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 86400})
        if path == "/api/v2/users" and "id" in params:
            ids = params["id"].split(",")
            return httpx.Response(200, json={"entities": [u for u in self.users if u.get("id") in ids]})
        if path == "/api/v2/users/search":
            values = json.loads(request.content)["query"][0]["values"]
            fold = (lambda t: t) if self.case_sensitive else str.lower
            wanted = {fold(v) for v in values}
            hits = [u for u in self.users if type(u.get("email")) is str and fold(u["email"]) in wanted]
            return httpx.Response(200, json={"total": len(hits), "pageNumber": 1, "types": ["users"], "results": hits})
        if path == "/api/v2/users/query":
            start = int(params.get("cursor", "0"))
            body: dict[str, Any] = {"entities": self.users[start : start + self.page_size]}
            if start + self.page_size < len(self.users):
                body["cursor"] = str(start + self.page_size)
                body["nextUri"] = f"/api/v2/users/query?cursor={start + self.page_size}"
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"message": "no route", "code": "not.found", "status": 404})


def _read(org: _FakeOrg, entries: list[Any], strategy: str) -> LiveState:
    client = GenesysClient(ApiSession(connection_from_env(ENV), FAST, transport=httpx.MockTransport(org)))
    try:
        return read_live(client, entries, settings=FAST, strategy=strategy)
    finally:
        client.close()


def _seen(live: LiveState) -> tuple[dict[str, LiveUser], dict[str, set[str]], set[str]]:
    return live.users, {k: set(v) for k, v in live.email_index.items()}, set(live.read_errors)


_WRITTEN = st.sampled_from(["a@x.com", "A@x.com", "b@x.com", "B@X.COM", "kate@x.com", "c@x.com", "z@x.com"])


@pytest.mark.parametrize("case_sensitive", [False, True])
@given(
    # every user with an id: one without spoils the listing, which then falls back to the targeted
    # read and compares it with itself (test_keep_... covers that page)
    org=st.lists(raw_users(hostile_ids=False), max_size=8, unique_by=lambda u: u["id"]),
    ids=st.lists(st.sampled_from([*IDS, "u9"]), max_size=3),
    emails=st.lists(_WRITTEN, max_size=4),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_listing_and_the_targeted_read_see_the_same_managed_users(
    case_sensitive: bool, org: list[dict[str, Any]], ids: list[str], emails: list[str]
) -> None:
    if case_sensitive:
        # the accepted gap: with a case-sensitive EXACT, of two users whose addresses differ
        # only in case, search finds one and only the listing sees both
        folded = [address_key(u["email"]) for u in org if type(u.get("email")) is str and u["email"].isascii()]
        if len(folded) != len(set(folded)):
            return
    entries = [entry(id=i) for i in ids] + [entry(e) for e in emails]
    fake = _FakeOrg(org, case_sensitive=case_sensitive)
    assert _seen(_read(fake, entries, "listing")) == _seen(_read(fake, entries, "targeted"))


@pytest.mark.parametrize("strategy", ["listing", "targeted"])
def test_a_user_whose_address_changed_between_pages_is_matched_by_neither_read(strategy: str) -> None:
    # u1 left a@x.com while the org was being listed. The targeted read lists the org to settle
    # an address its searches did not confirm; both reads must end where the latest answer says.
    org = [
        {"id": "u1", "email": "a@x.com", "state": "active", "version": 1},
        {"id": "u2", "email": "c@x.com", "state": "active", "version": 1},
        {"id": "u1", "email": "b@x.com", "state": "active", "version": 2},
    ]
    live = _read(_FakeOrg(org, case_sensitive=True, page_size=1), [entry("a@x.com")], strategy)
    assert live.email_index == {}
    # the targeted read keeps the search's candidate, as its GET answered it: unmatched, as now;
    # the listing drops u1 once it is listed under an address no entry names
    expected = [] if strategy == "listing" else [("u1", "b@x.com")]
    assert [(u.id, u.email) for u in live.users.values()] == expected


def test_settling_an_address_reads_past_users_with_ids_of_any_type() -> None:
    org = [
        {"id": "u1", "email": "A@X.COM", "state": "active", "version": 1},
        {"id": ["u1"], "email": "b@x.com"},
        {"id": {"u": 1}, "email": "c@x.com"},
    ]
    # a case-sensitive search does not find a@x.com: the listing settles it, reading every user
    live = _read(_FakeOrg(org, case_sensitive=True, page_size=1), [entry("a@x.com")], "targeted")
    assert live.email_index == {"a@x.com": ("u1",)} and live.read_errors == {}


def test_a_search_hit_with_an_empty_id_is_no_candidate() -> None:
    # An empty id would put ",," into the batched GET and could spoil the reads of its batch.
    org = [{"id": "u1", "email": "a@x.com", "state": "active", "version": 1}, {"id": "", "email": "a@x.com"}]
    sent: list[str] = []
    fake = _FakeOrg(org, case_sensitive=True)

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/users":
            sent.append(request.url.params["id"])
        return fake(request)

    client = GenesysClient(ApiSession(connection_from_env(ENV), FAST, transport=httpx.MockTransport(recording)))
    live = read_live(client, [entry("a@x.com")], settings=FAST, strategy="targeted")
    client.close()
    assert sent == ["u1"] and live.email_index == {"a@x.com": ("u1",)}
