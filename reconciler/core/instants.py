"""Instants: the one parser and the one formatter of ISO 8601 times. Pure.

Times reach the tool from four places (desired-state files, Genesys's answers,
the ledger, saved plans and the command line) and used to be parsed by five
hand-written copies that disagreed on the edge cases. There is one rule now:

* ``parse_instant`` is strict: ISO 8601, ``Z`` or an offset, ``T`` or a space,
  either case; a text without a zone is refused unless the caller says it is
  UTC by convention (Genesys's timestamps, the ledger's, ``--since``).
* ``instant_or_none`` is for data we did not write ourselves in this run (a
  ledger record, an API answer): anything unreadable is ``None``, never a
  guess and never an exception.
* ``utc_iso`` writes the one format the tool emits: UTC, milliseconds, ``Z``
  (the shape Genesys uses).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["instant_or_none", "parse_instant", "parse_iso", "utc_iso"]


def parse_iso(text: str) -> datetime:
    """ISO 8601 text as written: aware when it names a zone, naive when not. ValueError if it is not ISO 8601.

    For callers with their own rule for a time without a zone (an HR export's dates); everyone
    else wants ``parse_instant``.
    """
    return datetime.fromisoformat(text.strip().upper().replace(" ", "T", 1))


def parse_instant(text: str, *, assume_utc: bool = False) -> datetime:
    """An aware datetime from ISO 8601 text. ValueError if it is not one, or has no zone and not ``assume_utc``."""
    value = parse_iso(text)
    if value.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"{text!r} has no time zone")
        value = value.replace(tzinfo=UTC)
    return value


def instant_or_none(raw: object) -> datetime | None:
    """A UTC-by-convention instant from a record or an answer, or None when it is missing or unreadable."""
    if not isinstance(raw, str) or not raw:
        return None
    # Genesys's and the ledger's own shape (2026-11-28T12:00:00.000Z) needs none of parse_iso's
    # normalising, and this runs once per user read: 20,000 times in a big plan. Whatever ASCII
    # text fromisoformat reads as written, parse_iso reads the same way. Not so beyond ASCII:
    # fromisoformat takes any one character between date and time, and upper() turns some of
    # them into two (ß -> SS), which the rule then refuses.
    value: datetime | None = None
    if raw.isascii():
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            value = None
    if value is None:
        try:
            return parse_instant(raw, assume_utc=True)
        except ValueError:
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc_iso(t: datetime) -> str:
    """``2026-11-28T12:00:00.000Z``: UTC, milliseconds, Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
