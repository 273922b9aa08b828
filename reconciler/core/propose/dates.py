"""Termination dates as HR exports write them -> timezone-aware instants. Pure.

A date without a time becomes ``effective_time`` on that day in ``zone`` (the
defaults, 17:00 UTC, are the CLI's). Accepted: ISO 8601 (``2026-11-30``,
``2026-11-30T17:00``, with or without a zone), ``2026/11/30``, day-first dotted
dates (``30.11.2026``), month names (``30-Nov-2026``, ``Nov 30, 2026``), Excel
serial day numbers (``46356``, what a spreadsheet exports when a cell lost its
format), and slashed dates (``11/30/2026`` or ``30/11/2026``). A slashed date
is ambiguous on its own: the whole file decides (see ``slash_order``), and a
day like ``03/04/2026`` in a file that never shows which comes first is an
error for that row, never a guess. ``date_format`` (strptime) overrides all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from reconciler.core.instants import parse_iso

__all__ = ["DateRule", "DateTrouble", "parse_effective", "slash_order"]

_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is accounted for
# Serial days from 1982 to 2173: an integer outside this is not a termination date.
_EXCEL_RANGE = range(30000, 100000)
_NAMED = ("%d-%b-%Y", "%d %b %Y", "%d-%B-%Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y")


class DateTrouble(ValueError):
    """A cell that is not a date this module can read without guessing."""


@dataclass(frozen=True, slots=True)
class DateRule:
    """How to read the date cells of one file."""

    effective_time: time
    zone: tzinfo
    date_format: str | None = None
    slash: str | None = None  # "mdy" | "dmy" | None: undecided (ambiguous cells are errors)


def slash_order(cells: Iterable[str]) -> str | None:
    """Which order the file's slashed dates use: "mdy", "dmy", or None if no cell shows it.

    A cell whose first number is over 12 proves day-first; a second number over 12 proves
    month-first. A file that proves both is inconsistent: None, so every ambiguous cell fails.
    """
    day_first = month_first = False
    for cell in cells:
        m = _SLASH.match(cell.strip())
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            day_first |= a > 12
            month_first |= b > 12
    if day_first == month_first:
        return None
    return "dmy" if day_first else "mdy"


def _at(day: date, clock: time | None, rule: DateRule) -> datetime:
    return datetime.combine(day, clock or rule.effective_time, tzinfo=rule.zone)


def _slashed(m: re.Match[str], rule: DateRule, text: str) -> datetime:
    a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    order = rule.slash
    if order is None:
        if a > 12:
            order = "dmy"
        elif b > 12 or a == b:
            order = "mdy"
        else:
            raise DateTrouble(
                f"{text!r} could be day/month or month/day and nothing else in the file says which; "
                f"give --date-format %d/%m/%Y or %m/%d/%Y"
            )
    month, day = (a, b) if order == "mdy" else (b, a)
    clock = time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)) if m.group(4) else None
    try:
        return _at(date(year, month, day), clock, rule)
    except ValueError:
        raise DateTrouble(
            f"{text!r} is not a date (read as {'month/day' if order == 'mdy' else 'day/month'})"
        ) from None


def parse_effective(text: str, rule: DateRule) -> datetime:
    """The instant a termination cell means, aware, in its own zone (or ``rule.zone``)."""
    cell = text.strip()
    if not cell:
        raise DateTrouble("no termination date")
    if rule.date_format:
        try:
            parsed = datetime.strptime(cell, rule.date_format)
        except ValueError:
            raise DateTrouble(f"{cell!r} does not match --date-format {rule.date_format}") from None
        has_clock = any(d in rule.date_format for d in ("%H", "%I", "%M"))
        if parsed.tzinfo is not None:
            return parsed
        return _at(parsed.date(), parsed.time() if has_clock else None, rule)
    if cell.isdigit():
        serial = int(cell)
        if serial not in _EXCEL_RANGE:
            raise DateTrouble(f"{cell!r} is not a date")
        return _at(_EXCEL_EPOCH + timedelta(days=serial), None, rule)
    m = _SLASH.match(cell)
    if m:
        return _slashed(m, rule, cell)
    iso = cell.replace("/", "-") if re.match(r"^\d{4}/\d{1,2}/\d{1,2}", cell) else cell
    found: datetime | None
    try:
        found = parse_iso(iso)
    except ValueError:
        found = None
    if found is not None:
        if found.tzinfo is not None:
            return found.astimezone(UTC) if found.utcoffset() == timedelta(0) else found
        only_date = len(iso) <= 10
        return _at(found.date(), None if only_date else found.time(), rule)
    for fmt in ("%d.%m.%Y", *_NAMED):
        try:
            return _at(datetime.strptime(cell, fmt).date(), None, rule)
        except ValueError:
            continue
    raise DateTrouble(f"{cell!r} is not a date this tool can read; give --date-format")
