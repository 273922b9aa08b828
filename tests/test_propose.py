"""`reconciler propose`, the pure core: HR exports, dates, reason mapping, dormancy, the YAML it writes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.desired.schema import schema_errors
from reconciler.core.desired.yamlload import load_yaml
from reconciler.core.model import DesiredEntry, Policy, Source, UserState
from reconciler.core.propose.dates import DateRule, DateTrouble, parse_effective, slash_order
from reconciler.core.propose.hrcsv import Leaver, decode_export, read_export
from reconciler.core.propose.reasons import ReasonMap, parse_reason_map
from reconciler.core.propose.select import Activity, Dormancy, select_dormant, skip_declared
from reconciler.core.propose.yamlout import (
    CsvSource,
    comment_text,
    quoted,
    render_csv_proposal,
    render_dormant_proposal,
)
from reconciler.core.report.proposal import csv_document, dormant_document, render_markdown
from reconciler.errors import InputError
from tests.conftest import FIXED_NOW
from tests.golden import check

UTC_5PM = DateRule(time(17, 0), UTC)

# A Workday-style export as Excel writes it on a European desktop: BOM, semicolons, CRLF,
# quoted fields with delimiters, quotes and a line break, day-first dates, mixed-case
# addresses, a blank row, a duplicate, and rows that cannot be used.
WORKDAY = (
    "\ufeffEmployee ID;Worker;Email - Primary Work;Termination Date;Primary Termination Reason;Case Number\r\n"
    '1001;"Doe, Jane";Jane.Doe@Example.com;30/11/2026;Resignation;HR-1001\r\n'
    '1002;"Roe; John";john.roe@example.com;13/12/2026;"Dismissal; gross ""misconduct""";HR-1002\r\n'
    ";;;;;\r\n"
    "1003;Nobody;;01/12/2026;Resignation;HR-1003\r\n"
    "1004;Bad Address;not-an-address;01/12/2026;Resignation;\r\n"
    "1005;Jane again;JANE.DOE@example.com;01/12/2026;Resignation;HR-1005\r\n"
    "1006;Feb 31;feb@example.com;31/02/2026;Resignation;\r\n"
    '1007;"Multi\r\nLine";multi@example.com;02/01/2027;"End of\r\ncontract";HR-1007\r\n'
    "1008;No date;nodate@example.com;;Resignation;\r\n"
)


def test_a_workday_style_export_is_read_row_by_row_with_bad_rows_located() -> None:
    reading = read_export(WORKDAY, "hr.csv", rule=UTC_5PM)
    assert reading.delimiter == ";"
    assert reading.columns["email"] == "Email - Primary Work"
    assert reading.columns["date"] == "Termination Date"
    assert reading.columns["reason"] == "Primary Termination Reason"
    assert reading.columns["ticket"] == "Case Number"
    assert [(p.email, p.row) for p in reading.leavers] == [
        ("Jane.Doe@Example.com", 2),
        ("john.roe@example.com", 3),
        ("multi@example.com", 9),
    ]
    jane, john, multi = reading.leavers
    assert jane.effective == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert john.reason == 'Dismissal; gross "misconduct"' and john.ticket == "HR-1002"
    assert multi.reason == "End of\r\ncontract" and multi.effective == datetime(2027, 1, 2, 17, tzinfo=UTC)
    assert [(b.row, b.message) for b in reading.bad] == [
        (5, "no email"),
        (6, "'not-an-address' is not an email address"),
        (7, "the same person as row 2; only that row is proposed"),
        (8, "'31/02/2026' is not a date (read as day/month)"),
        (12, "no termination date"),  # the row above spans three lines
    ]
    assert reading.rows == 8 and reading.blank == 1


def test_a_bamboohr_style_export_with_commas_iso_dates_and_no_bom() -> None:
    text = (
        "Employee #,Name,Work Email,Termination Date,Termination Type,Termination Reason\n"
        '7,"Shah, Priya",priya.shah@example.com,2026-12-01,Voluntary,"Relocation, family"\n'
        "8,Lee,morgan.lee@example.com,2026-12-02T09:30:00+02:00,Involuntary,Performance\n"
    )
    reading = read_export(text, "bamboo.csv", rule=UTC_5PM, reasons=ReasonMap({"involuntary": "Performance"}))
    assert reading.delimiter == ","
    assert reading.columns["reason_code"] == "Termination Type"
    priya, morgan = reading.leavers
    assert priya.reason == "Relocation, family" and priya.reason_code == "Voluntary"
    assert morgan.reason_code == "Performance"
    # A date that carries its own time and zone keeps them.
    assert morgan.effective == datetime(2026, 12, 2, 9, 30, tzinfo=ZoneInfo("Europe/Athens"))
    assert not reading.bad


def test_a_successfactors_style_export_with_excel_serial_dates_and_named_columns() -> None:
    text = "Business Email,End Date,Event Reason,Request ID\nA@Example.com,46356,Retirement,R-1\n"
    reading = read_export(text, "sf.csv", rule=DateRule(time(23, 59), ZoneInfo("America/New_York")))
    (a,) = reading.leavers
    assert a.effective == datetime(2026, 11, 30, 23, 59, tzinfo=ZoneInfo("America/New_York"))
    assert a.effective.utcoffset() == timedelta(hours=-5)
    custom = read_export(
        "Mail Address;Left On\nb@example.com;2026-12-01\n",
        "x.csv",
        rule=UTC_5PM,
        columns={"email": "mail address", "date": "LEFT_ON"},
    )
    assert custom.leavers[0].effective == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_a_whole_file_is_refused_only_when_nothing_can_be_read() -> None:
    with pytest.raises(InputError, match=r"hr.csv:1: no email column"):
        read_export("Name,Date\nJane,2026-12-01\n", "hr.csv", rule=UTC_5PM)
    with pytest.raises(InputError, match=r"no column 'Mail' \(--email-column\)"):
        read_export("Email\na@example.com\n", "hr.csv", rule=UTC_5PM, columns={"email": "Mail"})
    with pytest.raises(InputError, match="empty"):
        read_export("", "hr.csv", rule=UTC_5PM)
    with pytest.raises(InputError, match=r"hr.csv:3: not UTF-8"):
        decode_export(b"Email\na@example.com\n\xe9@example.com\n", "hr.csv")
    assert decode_export(b"\xef\xbb\xbfEmail\n", "hr.csv") == "Email\n"


def test_an_unclosed_quote_is_a_bad_row_and_the_rows_before_it_are_kept() -> None:
    reading = read_export('Email,Reason\na@example.com,x\nb@example.com,"never closed\n', "q.csv", rule=UTC_5PM)
    assert [p.email for p in reading.leavers] == ["a@example.com"]
    assert reading.bad[0].row == 3 and "not CSV" in reading.bad[0].message


@pytest.mark.parametrize(
    ("cells", "order"),
    [
        (["30/11/2026", "01/02/2026"], "dmy"),
        (["11/30/2026", "01/02/2026"], "mdy"),
        (["01/02/2026", "03/04/2026"], None),
        (["30/11/2026", "11/30/2026"], None),  # contradicts itself: nothing is guessed
    ],
)
def test_the_file_decides_which_comes_first_in_slashed_dates(cells: list[str], order: str | None) -> None:
    assert slash_order(cells) == order


def test_an_ambiguous_slashed_date_is_an_error_never_a_guess() -> None:
    with pytest.raises(DateTrouble, match="--date-format"):
        parse_effective("03/04/2026", UTC_5PM)
    assert parse_effective("04/04/2026", UTC_5PM) == datetime(2026, 4, 4, 17, tzinfo=UTC)
    us = DateRule(time(17, 0), UTC, slash="mdy")
    assert parse_effective("03/04/2026", us) == datetime(2026, 3, 4, 17, tzinfo=UTC)
    fmt = DateRule(time(9, 0), UTC, date_format="%d/%m/%Y")
    assert parse_effective("03/04/2026", fmt) == datetime(2026, 4, 3, 9, tzinfo=UTC)
    reading = read_export("Email,Termination Date\na@example.com,03/04/2026\n", "x.csv", rule=UTC_5PM)
    assert reading.bad[0].row == 2 and "could be day/month" in reading.bad[0].message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-11-30", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("2026/11/30", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("2026-11-30 08:15", datetime(2026, 11, 30, 8, 15, tzinfo=UTC)),
        ("2026-11-30T08:15:00Z", datetime(2026, 11, 30, 8, 15, tzinfo=UTC)),
        ("30.11.2026", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("30-Nov-2026", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("Nov 30, 2026", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("46356", datetime(2026, 11, 30, 17, tzinfo=UTC)),
        ("11/30/2026 08:15", datetime(2026, 11, 30, 8, 15, tzinfo=UTC)),
    ],
)
def test_the_date_shapes_hr_exports_use(cell: str, expected: datetime) -> None:
    assert parse_effective(cell, UTC_5PM) == expected


@pytest.mark.parametrize("cell", ["tomorrow", "12", "2026-13-01", "=NOW()", "1e5"])
def test_what_is_not_a_date_is_refused(cell: str) -> None:
    with pytest.raises(DateTrouble):
        parse_effective(cell, UTC_5PM)


def test_the_reason_mapping_file_maps_hr_words_and_reports_bad_lines() -> None:
    good, problems = parse_reason_map(
        "reason_codes:\n  Resignation: Voluntary\n  End of  Contract: Seasonal\ndefault: Unknown\n", "map.yaml"
    )
    assert not problems
    assert good.code_for(" resignation ") == "Voluntary"
    assert good.code_for("end of contract") == "Seasonal"
    assert good.code_for("conduct") == "Conduct"  # a Genesys code needs no mapping
    assert good.code_for("Something else") == "Unknown"
    _, problems = parse_reason_map(
        "reason_codes:\n  Resignation: voluntary\n  RESIGNATION: Voluntary\nextra: 1\n", "map.yaml"
    )
    assert [str(p) for p in problems] == [
        "map.yaml:4: unknown key 'extra' (reason_codes, default)",
        "map.yaml:2: 'Resignation': 'voluntary' is not a Genesys reason code "
        "(one of Voluntary, Seasonal, Leave, Performance, Conduct, Unknown)",
        "map.yaml:3: 'RESIGNATION' is the same reason as 'Resignation'",
    ]
    _, problems = parse_reason_map("reason_codes: [a]\n", "map.yaml")
    assert "reason_codes" in problems[0].message
    _, problems = parse_reason_map("reason_codes:\n  a: b\n  a: c\n", "map.yaml")
    assert problems[0].line == 3 and "duplicate key" in problems[0].message


def test_an_unmapped_reason_is_proposed_without_a_code_and_warned_about() -> None:
    reading = read_export(
        "Email,Reason Code\na@example.com,Redundancy\nb@example.com,Leave\n",
        "x.csv",
        rule=UTC_5PM,
    )
    assert [p.reason_code for p in reading.leavers] == [None, "Leave"]
    assert [(w.row, w.message) for w in reading.warnings] == [
        (2, "no reason code for 'Redundancy': add it to the mapping file")
    ]


def _entry(email: str | None = None, user_id: str | None = None, line: int = 3) -> DesiredEntry:
    return DesiredEntry(email, user_id, UserState.INACTIVE, Source("desired_state/leavers.yaml", line))


def test_people_already_declared_or_protected_are_skipped_and_said_why() -> None:
    leavers = [
        Leaver("Jane.Doe@EXAMPLE.com", 2, None),
        Leaver("admin@example.com", 3, None),
        Leaver("new@example.com", 4, None),
    ]
    policy = Policy(protected=frozenset({"admin@example.com"}))
    kept, skipped = skip_declared(leavers, [_entry("jane.doe@example.com", line=7)], policy)
    assert [k.email for k in kept] == ["new@example.com"]
    assert [(s.row, s.why) for s in skipped] == [
        (2, "already declared at desired_state/leavers.yaml:7"),
        (3, "protected by the policy"),
    ]


def _user(n: int, days: float | None, dormancy: Dormancy = Dormancy.DATED, email: str | None = None) -> Activity:
    return Activity(
        id=f"{n:08d}-0000-4000-8000-000000000000",
        email=email or f"u{n}@example.com",
        name=f"User {n}",
        department="Support",
        title="Agent",
        dormancy=dormancy,
        last=FIXED_NOW - timedelta(days=days) if days is not None else None,
    )


def test_dormancy_is_measured_sorted_and_never_confuses_unknown_with_never() -> None:
    users = [
        _user(1, 10),
        _user(2, 91),
        _user(3, 400),
        _user(4, None, Dormancy.NEVER),
        _user(5, None, Dormancy.UNKNOWN),
        _user(6, 200, email="declared@example.com"),
        _user(7, 300),
        _user(8, 89.9),
    ]
    policy = Policy(protected=frozenset({users[6].id}))
    sel = select_dormant(
        users, now=FIXED_NOW, age=timedelta(days=90), entries=[_entry("DECLARED@example.com")], policy=policy
    )
    assert [u.email for u in sel.dormant] == ["u4@example.com", "u3@example.com", "u2@example.com"]
    assert [u.email for u in sel.unknown] == ["u5@example.com"]
    assert sel.scanned == 8 and sel.recent == 2
    assert sorted(s.why for s in sel.skipped) == [
        "already declared at desired_state/leavers.yaml:3",
        "protected by the policy",
    ]


def _loads(text: str) -> object:
    data = load_yaml(text).data
    assert list(schema_errors(data)) == []
    return data


def test_the_hr_proposal_is_valid_desired_state_with_provenance() -> None:
    reading = read_export(WORKDAY, "exports/hr.csv", rule=DateRule(time(17, 0), ZoneInfo("Europe/Berlin")))
    source = CsvSource("exports/hr.csv", "ab" * 32, reading.rows, len(reading.bad), 0, "17:00 in Europe/Berlin")
    text = render_csv_proposal(
        reading.leavers,
        source,
        schema_ref="../schemas/desired-state.schema.json",
        notes={"john.roe@example.com": "no Genesys user has email john.roe@example.com"},
    )
    check("propose-csv.yaml", text)
    data = _loads(text)
    assert isinstance(data, dict)
    assert data["users"][1] == {
        "email": "john.roe@example.com",
        "effective": "2026-12-13T17:00:00+01:00",
        "reason": 'Dismissal; gross "misconduct"',
        "ticket": "HR-1002",
    }
    assert data["users"][2]["reason"] == "End of\r\ncontract"
    assert text.startswith("# yaml-language-server: $schema=../schemas/desired-state.schema.json\n")
    doc = csv_document(reading, reading.leavers, [], path="exports/hr.csv", sha256="ab" * 32, out=None)
    check("propose-csv.md", render_markdown(doc))


@given(st.text(min_size=1, max_size=60))
def test_any_text_survives_the_yaml_quoting_exactly(text: str) -> None:
    loaded = load_yaml(f"reason: {quoted(text)}\n").data
    assert loaded == {"reason": text}
    assert all(ch.isprintable() for ch in quoted(text))


@given(st.text(max_size=60))
def test_comments_are_one_printable_line(text: str) -> None:
    flat = comment_text(text)
    assert "\n" not in flat and "\r" not in flat and all(ch.isprintable() for ch in flat)


def test_hostile_text_cannot_break_the_file_or_reach_a_terminal_raw() -> None:
    hostile = '=HYPERLINK("http://x")\x1b[31m\u202eevil\nusers: []\x00'
    reading = read_export(
        f'Email,Reason,Ticket\na@example.com,"{hostile.replace(chr(34), 2 * chr(34))}",T\n', "h.csv", rule=UTC_5PM
    )
    text = render_csv_proposal(
        reading.leavers, CsvSource("h\x1b.csv", "0" * 64, 1, 0, 0, "17:00 in UTC"), schema_ref="s.json"
    )
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert _loads(text) == {"users": [{"email": "a@example.com", "reason": hostile, "ticket": "T"}]}
    md = render_markdown(csv_document(reading, reading.leavers, [], path="h.csv", sha256="0" * 64, out=None))
    assert "\x1b" not in md and "\u202e" not in md


def test_markdown_from_an_export_cannot_become_a_link_an_image_or_emphasis_in_the_pull_request() -> None:
    """The PR body is Markdown: a reason or ticket from HR must read as the text it is (safe.md_text)."""
    reason = "[Re-authenticate here](https://evil.example) ![x](https://evil.example/p.png) **urgent** ~~no~~ <b>"
    reading = read_export(f'Email,Reason,Ticket\na@example.com,"{reason}",_T_\n', "h_`x`.csv", rule=UTC_5PM)
    md = render_markdown(csv_document(reading, reading.leavers, [], path="h_`x`.csv", sha256="0" * 64, out=None))
    row = next(line for line in md.splitlines() if line.startswith("| 2 |"))
    assert "[Re-authenticate here](" not in row and "![x](" not in row and "**urgent**" not in row
    assert r"\[Re-authenticate here\]" in row and r"\*\*urgent\*\*" in row and r"\<b\>" in row
    assert r"\_T\_" in row
    assert "## Leavers from ``h_`x`.csv``" in md  # the file name is a code span no backtick can close


def test_the_dormant_proposal_changes_nothing_as_is_and_each_line_uncomments_alone() -> None:
    users = [
        _user(1, 400),
        _user(2, None, Dormancy.NEVER),
        _user(3, None, Dormancy.UNKNOWN),
        _user(4, 120, email="Odd Address"),
    ]
    sel = select_dormant(users, now=FIXED_NOW, age=timedelta(days=90), entries=[], policy=Policy())
    text = render_dormant_proposal(
        sel, age_text="90d", now=FIXED_NOW, source="http://127.0.0.1:1", schema_ref="../schemas/x.json"
    )
    check("propose-dormant.yaml", text)
    assert _loads(text) == {"users": []}
    lines = text.splitlines()
    entries = [i for i, line in enumerate(lines) if line.startswith("  # {")]
    assert len(entries) == 4
    for i in entries:  # uncommenting any one entry proposes exactly that person
        edited = [*lines[:i], "  " + lines[i][4:], *lines[i + 1 :]]
        data = _loads("\n".join(edited) + "\n")
        assert isinstance(data, dict) and len(data["users"]) == 1
    assert "idle 400 days (last activity 2025-10-24)" in text
    assert "never active" in text
    unknown_at = text.index("Last activity UNKNOWN")
    assert text.index("u3@example.com") > unknown_at > text.index("u1@example.com")
    assert "{id: 00000004-0000-4000-8000-000000000000" in text  # no usable email: by id only
    doc = dormant_document(sel, age_text="90d", now=FIXED_NOW, api_url="http://127.0.0.1:1", out=None, calls=2)
    assert [e["dormancy"] for e in doc["entries"]] == ["never", "dated", "dated"]
    assert doc["unknown"][0]["last_activity"] is None and doc["unknown"][0]["dormancy"] == "unknown"
    check("propose-dormant.md", render_markdown(doc))
