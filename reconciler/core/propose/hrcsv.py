"""An HR termination export (CSV text) -> proposed leavers and located bad rows. Pure.

Reads what Workday, BambooHR and SuccessFactors export: UTF-8 with or
without a byte-order mark, comma- or semicolon-separated (the delimiter is
the one that splits the header into the most columns), quoted fields with
embedded delimiters, quotes and line breaks. Columns are found by header name,
case- and punctuation-insensitively; ``DEFAULT_COLUMNS`` lists the names the
common exports use, and an option names any other.

A bad row never stops the file: it is reported with its row number (the line
of the file where the row starts, header = 1) and the reason, and the rest
are read. A whole file is refused (``InputError``) only when no row could be
read at all: not UTF-8, no header, or no email column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.desired.schema import schema
from reconciler.core.propose.dates import DateRule, DateTrouble, parse_effective, slash_order
from reconciler.core.propose.reasons import ReasonMap
from reconciler.errors import Finding, InputError

__all__ = ["DEFAULT_COLUMNS", "FIELDS", "CsvReading", "Leaver", "RowNote", "decode_export", "read_export"]

FIELDS = ("email", "date", "reason", "ticket", "reason_code")

# Header names the common exports use, most specific first (compared after _norm).
DEFAULT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "email": (
        "Email - Primary Work",  # Workday
        "Work Email",  # BambooHR
        "Business Email",  # SuccessFactors
        "Work Email Address",
        "Email Address",
        "Email",
        "E-mail",
        "Mail",
    ),
    "date": (
        "Termination Date",  # Workday, BambooHR, SuccessFactors
        "Term Date",
        "Last Day of Work",
        "Last Working Day",
        "Separation Date",
        "End Date",
        "Effective Date",
    ),
    "reason": (
        "Primary Termination Reason",  # Workday
        "Termination Reason",  # BambooHR, SuccessFactors
        "Event Reason",  # SuccessFactors
        "Term Reason",
        "Reason",
    ),
    "ticket": ("Ticket", "Ticket ID", "Case Number", "Case ID", "HR Case", "Request ID", "Reference"),
    "reason_code": ("Reason Code", "Genesys Reason Code", "Attrition Reason", "Termination Type"),
}
_MAX = {"reason": 500, "ticket": 100}  # the schema's limits


def _norm(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", header.casefold())


@dataclass(frozen=True, slots=True)
class Leaver:
    """One proposed entry: a person HR says has left, and the row that said so."""

    email: str
    row: int
    effective: datetime | None
    reason: str | None = None
    ticket: str | None = None
    reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class RowNote:
    """A row that was not proposed (``bad``) or was proposed with a caveat (a warning)."""

    row: int
    message: str
    email: str | None = None


@dataclass(frozen=True)
class CsvReading:
    leavers: tuple[Leaver, ...]
    bad: tuple[RowNote, ...]
    warnings: tuple[RowNote, ...]
    rows: int  # data rows with any content
    blank: int
    delimiter: str
    columns: Mapping[str, str | None] = field(default_factory=dict)  # field -> header used


def decode_export(data: bytes, path: str) -> str:
    """The export's text: UTF-8, a leading byte-order mark dropped. Anything else is refused by line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            [Finding(path, line, "not UTF-8 text (save the export as 'CSV UTF-8'); nothing was read")]
        ) from None


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    best, width = ",", 0
    for candidate in (",", ";", "\t"):
        fields = next(csv.reader([first], delimiter=candidate), [])
        if len(fields) > width:
            best, width = candidate, len(fields)
    return best


def _choose(headers: Sequence[str], wanted: Mapping[str, str | None]) -> tuple[dict[str, int | None], list[str]]:
    by_norm: dict[str, int] = {}
    for i, h in enumerate(headers):
        by_norm.setdefault(_norm(h), i)
    chosen: dict[str, int | None] = {}
    missing: list[str] = []
    for name in FIELDS:
        given = wanted.get(name)
        if given:
            index = by_norm.get(_norm(given))
            if index is None:
                missing.append(f"no column {given!r} (--{name.replace('_', '-')}-column)")
            chosen[name] = index
        else:
            chosen[name] = next((by_norm[_norm(c)] for c in DEFAULT_COLUMNS[name] if _norm(c) in by_norm), None)
    return chosen, missing


def _clip(name: str, value: str, row: int, email: str, warnings: list[RowNote]) -> str | None:
    value = value.strip()
    if not value:
        return None
    limit = _MAX[name]
    if len(value) > limit:
        warnings.append(RowNote(row, f"{name} cut to {limit} characters", email))
        return value[: limit - 1] + "…"
    return value


def read_export(
    text: str,
    path: str,
    *,
    rule: DateRule,
    columns: Mapping[str, str | None] | None = None,
    reasons: ReasonMap | None = None,
) -> CsvReading:
    """Rows of the export -> leavers (first row per person wins) and bad rows, each located."""
    reasons = reasons or ReasonMap()
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        headers = next(reader)
    except StopIteration:
        raise InputError([Finding(path, 1, "the file is empty: expected a header row")]) from None
    except csv.Error as exc:
        raise InputError([Finding(path, 1, f"the header row is not CSV: {exc}")]) from None
    index, missing = _choose(headers, columns or {})
    if missing:
        raise InputError([Finding(path, 1, m) for m in missing])
    if index["email"] is None:
        tried = ", ".join(repr(c) for c in DEFAULT_COLUMNS["email"])
        raise InputError([Finding(path, 1, f"no email column (tried {tried}); name it with --email-column")])
    used = {name: (headers[i] if i is not None else None) for name, i in index.items()}
    email_pattern = re.compile(schema()["$defs"]["email"]["pattern"])

    records: list[tuple[int, list[str]]] = []
    bad: list[RowNote] = []
    blank = 0
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # an unclosed quote swallows the rest of the file: say so, keep what was read
            bad.append(RowNote(line, f"not CSV from here on ({exc}); the rest of the file was not read"))
            break
        if any(cell.strip() for cell in record):
            records.append((line, record))
        else:
            blank += 1
        line = reader.line_num + 1

    def cell(record: list[str], name: str) -> str:
        i = index[name]
        return record[i] if i is not None and i < len(record) else ""

    if not rule.date_format and rule.slash is None and index["date"] is not None:
        rule = DateRule(rule.effective_time, rule.zone, None, slash_order(cell(r, "date") for _, r in records))
    leavers: list[Leaver] = []
    warnings: list[RowNote] = []
    first_row: dict[str, int] = {}
    for row, record in records:
        email = cell(record, "email").strip()
        if not email:
            bad.append(RowNote(row, "no email"))
            continue
        if len(email) > 254 or not email_pattern.match(email):
            bad.append(RowNote(row, f"{email!r} is not an email address", email))
            continue
        key = email.lower()
        if key in first_row:
            bad.append(RowNote(row, f"the same person as row {first_row[key]}; only that row is proposed", email))
            continue
        effective = None
        if index["date"] is not None:
            try:
                effective = parse_effective(cell(record, "date"), rule)
            except DateTrouble as exc:
                bad.append(RowNote(row, str(exc), email))
                continue
        first_row[key] = row
        reason = _clip("reason", cell(record, "reason"), row, email, warnings)
        ticket = _clip("ticket", cell(record, "ticket"), row, email, warnings)
        hr_code = cell(record, "reason_code").strip() if index["reason_code"] is not None else (reason or "")
        code = reasons.code_for(hr_code) if hr_code else None
        if hr_code and code is None and (index["reason_code"] is not None or reasons.codes):
            warnings.append(RowNote(row, f"no reason code for {hr_code!r}: add it to the mapping file", email))
        leavers.append(Leaver(email, row, effective, reason, ticket, code))
    return CsvReading(tuple(leavers), tuple(bad), tuple(warnings), len(records), blank, delimiter, used)
