"""The one ISO 8601 parser and formatter (reconciler/core/instants.py), tested once for every caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.instants import instant_or_none, parse_instant, utc_iso


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T12:00:00Z",
        "2026-11-28t12:00:00z",
        "2026-11-28 12:00:00Z",
        "2026-11-28T12:00:00.000Z",
        "2026-11-28T13:00:00+01:00",
        " 2026-11-28T12:00:00+00:00 ",
    ],
)
def test_every_spelling_of_one_instant_is_the_same_instant(text: str) -> None:
    assert parse_instant(text) == datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_a_time_without_a_zone_is_refused_unless_utc_is_the_convention() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant("2026-11-28T12:00:00")
    assert parse_instant("2026-11-28T12:00:00", assume_utc=True) == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert parse_instant("2026-11-01", assume_utc=True) == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("raw", [None, "", "yesterday", 1764331200, "2026-13-01T00:00:00Z", {"dateIssued": "x"}])
def test_unreadable_data_is_none_never_a_guess(raw: object) -> None:
    assert instant_or_none(raw) is None


def test_a_naive_genesys_timestamp_reads_as_utc() -> None:
    assert instant_or_none("2026-11-28T11:00:00") == datetime(2026, 11, 28, 11, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_what_the_tool_writes_it_reads_back_to_the_millisecond(naive: datetime, offset_minutes: int) -> None:
    moment = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = utc_iso(moment)
    assert text.endswith("Z") and len(text) == len("2026-11-28T12:00:00.000Z")
    back = parse_instant(text)
    assert abs(back - moment) < timedelta(milliseconds=1)
    assert instant_or_none(text) == back


def _by_the_rule(raw: str) -> datetime | None:
    """instant_or_none as the rule states it, without the fast path for Genesys's own shape."""
    try:
        return parse_instant(raw, assume_utc=True)
    except ValueError:
        return None


_PIECES = st.sampled_from(
    ["2026", "-", "11", "28", "T", "t", " ", "12", ":", "00", ".", "986", "Z", "z", "+01:00", "0"]
)


@given(st.one_of(st.lists(_PIECES, max_size=14).map("".join), st.text(max_size=30)))
def test_the_fast_path_reads_every_text_as_the_rule_does(raw: str) -> None:
    assert instant_or_none(raw) == _by_the_rule(raw)
    value = instant_or_none(raw)
    assert value is None or value.tzinfo is not None


@given(st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC)))
def test_genesys_shaped_times_take_the_fast_path_and_agree(t: datetime) -> None:
    text = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    assert instant_or_none(text) == _by_the_rule(text) == t.replace(microsecond=t.microsecond // 1000 * 1000)


# Pieces the fast path could read differently from the rule: separators whose upper case is longer
# (sharp s, the ff ligature, n preceded by apostrophe) or become another letter (dotless i), digits
# int() reads but ISO 8601 does not (Arabic-Indic, fullwidth), leap seconds, 24:00, odd offsets,
# whitespace of every kind.
_HOSTILE = st.sampled_from(
    [
        "2026", "0000", "9999", "-", "11", "28", "T", "t", " ", "\t", "\u00a0", "\u2003", "\n", "\x00",
        "12", ":", "00", "60", "24", ".", "9", "986", "1234567", "Z", "z", "+01:00", "-00:30", "+14:00",
        "+0100", "W", "w", "01", "ß", "ﬀ", "ŉ", "ı", "İ", "ǅ", "\u0662\u0660\u0662\u0666", "２０２６", "\uff1a",
    ]
)  # fmt: skip


_DATES = st.sampled_from(["2026-11-28", "0000-01-01", "9999-12-31", "20261128", "2026-W48-6", "２０２６-11-28"])
_TIMES = st.sampled_from(["12:00:00", "23:59:60", "24:00:00", "12:00", "120000", "12", "١٢:00:00"])
_ZONES = st.sampled_from(["", "Z", "z", "+01:00", "-00:30", "+0100", "+24:00", " Z"])


@given(
    st.one_of(
        st.lists(_HOSTILE, max_size=16).map("".join),
        # Genesys's shape, each part swapped for something near it
        st.tuples(
            st.sampled_from(["", "", "", " ", "\u2003"]),
            _DATES,
            st.one_of(st.sampled_from(["T", "t", " ", "x", "ß", "ﬀ", "ŉ", "ı", "İ", "ǅ", "\x00"]), st.characters()),
            _TIMES,
            st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(".".__add__)),
            _ZONES,
            st.sampled_from(["", "", "", " ", "\n", "\x00"]),
        ).map("".join),
    )
)
@settings(max_examples=1000)
def test_the_fast_path_agrees_with_the_rule_on_hostile_text(raw: str) -> None:
    assert instant_or_none(raw) == _by_the_rule(raw)


@pytest.mark.parametrize("separator", ["ß", "ﬀ", "ŉ"])
def test_a_separator_the_rule_cannot_read_is_not_read_by_the_fast_path(separator: str) -> None:
    # fromisoformat takes any one character between date and time; the rule upper-cases first,
    # and these letters grow to two: the rule refuses the text, so the fast path must too.
    assert instant_or_none(f"2026-11-28{separator}12:00:00.000Z") is None
