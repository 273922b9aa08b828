"""`reconciler audit [DIR]`: print the ledger for an auditor: who, when, from which commit and file, outcome.

No API call. ``--format csv`` for spreadsheets, ``json`` for tools, ``text`` to read.
What the ledger holds came from files and from Genesys: text lines are made
visible and CSV cells cannot become formulas (core/report/safe.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path

from reconciler.cli.common import EXIT_OK, add_desired_dir, emit
from reconciler.core.audit import COLUMNS, audit_rows
from reconciler.core.instants import parse_instant
from reconciler.core.report.safe import csv_cell, visible, visible_lines
from reconciler.errors import ConfigError
from reconciler.ledger import default_ledger_path, iter_records


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="print the audit ledger (who was changed, when, from which commit, outcome)",
        description="Print the audit ledger as one row per write attempted. Makes no API call.",
    )
    add_desired_dir(p)
    p.add_argument("--ledger", metavar="PATH", help="audit ledger (default: beside the desired-state folder)")
    p.add_argument("--since", metavar="DATE", help="only writes at or after this date or instant (ISO 8601, UTC)")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text", help="output format (default text)")
    p.set_defaults(run=run)


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_instant(text, assume_utc=True)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not an ISO 8601 date (e.g. 2026-11-01)") from None


def run(args: argparse.Namespace) -> int:
    if not args.ledger and not Path(args.desired_dir).is_dir():
        # The default ledger sits beside the folder: a mistyped folder must not read as "no writes".
        raise ConfigError(
            f"the desired-state folder {args.desired_dir} does not exist, so neither does its ledger; "
            f"name the folder, or the ledger with --ledger PATH"
        )
    path = Path(args.ledger) if args.ledger else default_ledger_path(args.desired_dir)
    if not path.exists():
        sys.stderr.write(f"reconciler: warning: no ledger at {path}: nothing recorded there, or the ledger was lost\n")
    warnings: list[str] = []
    rows = audit_rows(iter_records(path, warnings), _since(args.since))  # streamed: every record, never all at once
    if args.format == "json":
        emit(
            json.dumps(
                {"ledger": str(path), "warnings": warnings, "rows": [r.as_dict() for r in rows], "problems": []},
                indent=2,
            )
            + "\n"
        )
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        # Auditors open this in a spreadsheet: no cell may become a formula (OWASP CSV injection).
        writer.writerows({k: csv_cell(v) for k, v in r.as_dict().items()} for r in rows)
        emit(buffer.getvalue())
    else:
        lines = [
            f"{r.time}  {r.outcome:<8} {r.action or '?':<13} {r.email or r.user_id}  "
            f"{r.before}->{r.after}  {r.source or ''}  commit {r.commit or '-'}"
            f"{'  reason code ' + r.reason_code if r.reason_code else ''}"
            f"{'  correlation ' + r.correlation_id if r.correlation_id else ''}"
            f"{'  (corrected drift by ' + r.changed_by + ')' if r.changed_by else ''}"
            for r in rows
        ]
        emit(visible_lines(lines or [f"(no writes recorded in {path})"]))
    for warning in warnings:
        sys.stderr.write(f"reconciler: warning: {visible(warning)}\n")
    return EXIT_OK
