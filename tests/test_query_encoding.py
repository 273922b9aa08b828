"""The query the session writes itself (session._url) and the paging tokens Genesys hands back.

The session encodes queries without httpx's ``params=``. Whatever the values (ids from
user-edited files, cursors and q64 tokens from Genesys's answers), the query a server decodes
must be exactly those values: no value may add, drop or change another parameter.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.settings import Settings
from reconciler.errors import UnexpectedResponse
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.session import ApiSession
from tests.conftest import FakeTime
from tests.test_client import API, ENV, make_client, user

# Everything a query could be confused by, and text of every other kind (no lone surrogates:
# those are not text a URL can carry; see the test below).
_NASTY = st.sampled_from([*"&=#+%?,;/ \t\r\n\x00\x7f'\"<>[]{}|\\^`", "%2C", "%26", "%%", "é", "ß", "\u202e", "😀"])
_VALUE = st.one_of(st.text(max_size=20), st.lists(_NASTY, max_size=12).map("".join), st.integers())
_KEY = st.sampled_from(["id", "state", "pageSize", "cursor", "q64", "expand", "a&b", "c=d", "e f"])


_SESSION = ApiSession(connection_from_env(ENV), Settings())  # _url only: it never sends


@given(st.dictionaries(_KEY, _VALUE, min_size=1, max_size=6))
@settings(max_examples=500)
def test_every_query_decodes_to_exactly_the_values_sent(params: dict[str, Any]) -> None:
    url = _SESSION._url("/api/v2/users", params)
    wanted = {k: [str(v)] for k, v in params.items()}
    # as Python's standard parser and as httpx (what the sandbox and respx read) decode it
    assert parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True) == wanted
    sent = httpx.Request("GET", url).url
    assert {k: sent.params.get_list(k) for k in sent.params} == wanted
    assert sent.path == "/api/v2/users" and not sent.fragment


def _search_page(results: list[dict[str, Any]], total: int, next_page: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {"total": total, "pageSize": 1, "pageNumber": 1, "types": ["users"], "results": results}
    if next_page is not None:
        page["nextPage"] = next_page
    return page


@pytest.mark.parametrize(
    ("written", "token"),
    [
        # standard base64 has + and /; a bare + in a URL Genesys wrote is part of the token, not a space
        ("ab+c/d==", "ab+c/d=="),
        ("ab%2Bc%2Fd%3D%3D", "ab+c/d=="),
        ("eyJxIjoxfQ", "eyJxIjoxfQ"),
    ],
)
def test_search_sends_the_q64_token_exactly_as_genesys_wrote_it(
    mock: Any, fake_time: FakeTime, written: str, token: str
) -> None:
    first = _search_page([user()], 2, f"/api/v2/users/search?q64={written}&pageSize=1")
    mock.post(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=first))
    page2 = mock.get(f"{API}/api/v2/users/search").mock(
        return_value=httpx.Response(200, json=_search_page([user(id="x")], 2, None))
    )
    assert len(make_client(fake_time).search_emails(["jane.doe@example.com"])) == 2
    assert page2.calls[0].request.url.params["q64"] == token
    assert list(page2.calls[0].request.url.params) == ["q64"]


@pytest.mark.parametrize("token", ["\ud800abc", "a\udfffb"])
def test_a_paging_token_no_url_can_carry_is_an_unexpected_answer(mock: Any, fake_time: FakeTime, token: str) -> None:
    # JSON can spell a lone surrogate (\ud800); no URL can carry it: an answer we cannot follow,
    # never a UnicodeEncodeError out of the session.
    page = {"entities": [user()], "cursor": token, "nextUri": "/api/v2/users/query?cursor=x"}
    body = json.dumps(page).encode()
    mock.get(f"{API}/api/v2/users/query").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    )
    with pytest.raises(UnexpectedResponse, match="cursor"):
        list(make_client(fake_time).iter_users())
    first = json.dumps(_search_page([user()], 2, "/api/v2/users/search?q64=" + token)).encode()
    mock.post(f"{API}/api/v2/users/search").mock(
        return_value=httpx.Response(200, content=first, headers={"Content-Type": "application/json"})
    )
    with pytest.raises(UnexpectedResponse, match="next page"):
        make_client(fake_time).search_emails(["jane.doe@example.com"])


def test_a_cursor_that_is_not_text_is_an_unexpected_answer(mock: Any, fake_time: FakeTime) -> None:
    page = {"entities": [user()], "cursor": {"after": 1}, "nextUri": "/api/v2/users/query?cursor=x"}
    mock.get(f"{API}/api/v2/users/query").mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(UnexpectedResponse, match="cursor"):
        list(make_client(fake_time).iter_users())


def test_search_without_a_total_follows_its_next_page(mock: Any, fake_time: FakeTime) -> None:
    # total is required by the model, but an answer without one must not end the search early:
    # a second user with a searched address would never be read.
    first = _search_page([user()], 0, "/api/v2/users/search?q64=abc")
    del first["total"]
    mock.post(f"{API}/api/v2/users/search").mock(return_value=httpx.Response(200, json=first))
    page2 = mock.get(f"{API}/api/v2/users/search").mock(
        return_value=httpx.Response(200, json=_search_page([user(id="x")], 2, None))
    )
    assert [h["id"] for h in make_client(fake_time).search_emails(["jane.doe@example.com"])] == [user()["id"], "x"]
    assert page2.call_count == 1
