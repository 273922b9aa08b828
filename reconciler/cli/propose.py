"""`reconciler propose`: desired-state YAML for a pull request, from an HR export or from dormant accounts.

Thin: reads the inputs, calls the pure core (core/propose) and the org read
(genesys/propose), writes the file and maps the outcome to an exit code. It
never writes to Genesys: what it proposes goes through review, then the usual
plan and apply. Exit codes: 0 written, nothing to look at; 2 written, but some
rows were bad or an address was flagged by --check-org; 1 error, nothing written.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    add_desired_dir,
    add_read_options,
    runtime_from_args,
    write_atomically,
)
from reconciler.core.desired import load_desired
from reconciler.core.model import DesiredEntry, Policy
from reconciler.core.propose.dates import DateRule
from reconciler.core.propose.hrcsv import FIELDS, decode_export, read_export
from reconciler.core.propose.reasons import ReasonMap, parse_reason_map
from reconciler.core.propose.select import select_dormant, skip_declared
from reconciler.core.propose.yamlout import CsvSource, comment_text, render_csv_proposal, render_dormant_proposal
from reconciler.core.report.jsondoc import dumps
from reconciler.core.report.proposal import csv_document, dormant_document, render_markdown
from reconciler.errors import ConfigError, Finding, InputError
from reconciler.genesys.propose import AddressCheck, check_addresses, read_activity

__all__ = ["Age", "add_parser", "parse_age", "run"]

MAX_EXPORT_BYTES = 64 * 1024 * 1024  # an HR export of a whole company's leavers is far smaller
_AGE = re.compile(r"^(\d+)([dwh])$")
MAX_AGE = timedelta(days=36500)  # no account is dormant for longer than a century; beyond it dates overflow


class Age(NamedTuple):
    text: str  # as given, for the file's header
    delta: timedelta


def parse_age(text: str) -> Age:
    m = _AGE.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age such as 90d, 12w or 36h")
    n = int(m.group(1))
    unit = {"d": timedelta(days=1), "w": timedelta(weeks=1), "h": timedelta(hours=1)}[m.group(2)]
    # Checked before multiplying: a larger age overflows timedelta, or the cutoff date after the scan.
    if n > MAX_AGE / unit:
        raise argparse.ArgumentTypeError(f"{text!r} is too old an age: at most 100 years ({MAX_AGE.days}d)")
    return Age(text.strip(), n * unit)


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time of day such as 17:00") from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "propose",
        help="write desired-state YAML for a pull request from an HR export or from dormant accounts",
        description="Turn an HR termination export (--from-csv) or the org's dormant accounts (--dormant 90d) "
        "into desired-state YAML for review. Never writes to Genesys. Exit 0 written; 2 written, but some rows "
        "were bad or addresses flagged; 1 error, nothing written.",
    )
    add_desired_dir(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-csv", metavar="FILE", help="an HR export of terminations (UTF-8 CSV, , or ;)")
    source.add_argument(
        "--dormant", metavar="AGE", type=parse_age, help="active users with no activity for AGE (90d, 12w, 36h)"
    )
    p.add_argument("--out", metavar="FILE", help="write the YAML here (never replaces a file without --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument(
        "--format",
        choices=("yaml", "markdown", "json"),
        default="yaml",
        help="standard output: the YAML (default), a Markdown summary for a pull request, or JSON",
    )
    csv_opts = p.add_argument_group("HR export (--from-csv)")
    for name in FIELDS:
        csv_opts.add_argument(
            f"--{name.replace('_', '-')}-column",
            metavar="NAME",
            help=f"header of the {name.replace('_', ' ')} column (default: the common exports' names)",
        )
    csv_opts.add_argument(
        "--effective-time",
        type=_clock,
        default=time(17, 0),
        metavar="HH:MM",
        help="time of day for a termination date without one (default 17:00)",
    )
    csv_opts.add_argument("--timezone", default="UTC", metavar="ZONE", help="IANA zone of the dates (default UTC)")
    csv_opts.add_argument("--date-format", metavar="FMT", help="strptime format of the dates, e.g. %%d/%%m/%%Y")
    csv_opts.add_argument("--reason-map", metavar="FILE", help="YAML mapping HR reasons to Genesys reason codes")
    csv_opts.add_argument(
        "--check-org", action="store_true", help="resolve each address in the live org (as plan does) and flag misses"
    )
    add_read_options(p, "how --check-org reads users (as for plan)")
    p.set_defaults(run=run)


def _declared(folder: Path, out: Path | None) -> tuple[list[DesiredEntry], Policy]:
    """The tree's entries (minus the file about to be replaced) and policy; an empty tree declares nothing."""
    here = out.resolve() if out else None
    files = [f for f in folder.rglob("*") if f.suffix in (".yaml", ".yml") and f.resolve() != here]
    if not folder.is_dir() or not files:
        return [], Policy()
    desired = load_desired(folder)
    entries = [e for e in desired.entries if here is None or Path(e.source.path).resolve() != here]
    return entries, desired.policy


def _schema_ref(folder: Path, out: Path | None) -> str:
    schema = folder.resolve().parent / "schemas" / "desired-state.schema.json"
    return Path(os.path.relpath(schema, (out.parent if out else folder).resolve())).as_posix()


def _emit(args: argparse.Namespace, out: Path | None, yaml_text: str, doc: dict[str, Any]) -> None:
    if out is not None:
        write_atomically(out, yaml_text, "the proposal")
    if args.format == "json":
        sys.stdout.write(dumps({**doc, "yaml": yaml_text}))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(doc))
    elif out is None:
        sys.stdout.write(yaml_text)


def _read_bytes(path: str) -> bytes:
    try:
        if Path(path).exists() and not Path(path).is_file():  # a device (/dev/zero) would be read for ever
            raise InputError([Finding(path, None, "not a regular file")])
        with open(path, "rb") as fh:
            data = fh.read(MAX_EXPORT_BYTES + 1)  # never more than the limit, whatever the size claims
        if len(data) > MAX_EXPORT_BYTES:
            raise InputError([Finding(path, None, f"over the {MAX_EXPORT_BYTES} byte limit")])
        return data
    except OSError as exc:
        raise InputError([Finding(path, None, f"cannot read: {exc.strerror or exc}")]) from None


def _from_csv(args: argparse.Namespace, out: Path | None, entries: list[DesiredEntry], policy: Policy) -> int:
    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {args.timezone!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    reasons = ReasonMap()
    if args.reason_map:
        raw = _read_bytes(args.reason_map)
        try:
            reasons, findings = parse_reason_map(raw.decode("utf-8-sig"), args.reason_map)
        except UnicodeDecodeError:
            findings = [Finding(args.reason_map, None, "not UTF-8 text")]
        if findings:
            raise InputError(findings)
    data = _read_bytes(args.from_csv)
    text = decode_export(data, args.from_csv)
    columns = {name: getattr(args, f"{name}_column") for name in FIELDS}
    rule = DateRule(args.effective_time, zone, args.date_format)
    reading = read_export(text, args.from_csv, rule=rule, columns=columns, reasons=reasons)
    proposed, skipped = skip_declared(reading.leavers, entries, policy)
    checked = AddressCheck()
    if args.check_org and proposed:
        runtime = runtime_from_args(args, use_ledger=False)
        try:
            checked = check_addresses(
                runtime.client(), [p.email for p in proposed], settings=runtime.settings, strategy=args.read_strategy
            )
        finally:
            runtime.close()
        # Now that each address has an id, people the tree names by id only are declared too.
        proposed, by_id = skip_declared(proposed, entries, policy, checked.ids)
        skipped = sorted([*skipped, *by_id], key=lambda s: s.row or 0)
    sha = hashlib.sha256(data).hexdigest()
    source = CsvSource(
        args.from_csv,
        sha,
        reading.rows,
        len(reading.bad),
        len(skipped),
        f"{args.effective_time.strftime('%H:%M')} in {args.timezone}",
    )
    notes = checked.flags
    yaml_text = render_csv_proposal(
        proposed, source, schema_ref=_schema_ref(Path(args.desired_dir), out), notes=notes, info=checked.info
    )
    doc = csv_document(
        reading,
        proposed,
        skipped,
        path=args.from_csv,
        sha256=sha,
        out=str(out) if out else None,
        notes=notes,
        info=checked.info,
        org_checked=bool(args.check_org),
    )
    _emit(args, out, yaml_text, doc)
    for note in reading.bad:
        sys.stderr.write(f"{comment_text(args.from_csv)}:{note.row}: bad row: {comment_text(note.message)}\n")
    for note in reading.warnings:
        sys.stderr.write(f"{comment_text(args.from_csv)}:{note.row}: warning: {comment_text(note.message)}\n")
    for email, why in notes.items():
        sys.stderr.write(f"reconciler: check-org: {comment_text(email)}: {comment_text(why)}\n")
    sys.stderr.write(
        f"reconciler: {len(proposed)} leavers proposed{f' in {out}' if out else ''}; "
        f"{len(skipped)} skipped (already declared or protected), {len(reading.bad)} bad rows"
        f"{f', {len(notes)} flagged by --check-org' if args.check_org else ''}\n"
    )
    return EXIT_CHANGES if reading.bad or notes else EXIT_OK


def _progress() -> Callable[[int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(count: int) -> None:
        sys.stderr.write(f"\rreconciler: scanned {count:,} active users…")
        sys.stderr.flush()

    return show


def _dormant(args: argparse.Namespace, out: Path | None, entries: list[DesiredEntry], policy: Policy) -> int:
    runtime = runtime_from_args(args, use_ledger=False)
    try:
        client = runtime.client()
        progress = _progress()
        users = read_activity(client, progress)
        if progress is not None:
            sys.stderr.write("\n")
        # Token times are Genesys's: measure their age on Genesys's clock (its Date header) when it told us.
        now = client.session.server_time or runtime.clock()
        calls = client.stats.total
    finally:
        runtime.close()
    age_text = args.dormant.text
    selection = select_dormant(users, now=now, age=args.dormant.delta, entries=entries, policy=policy)
    assert runtime.connection is not None
    yaml_text = render_dormant_proposal(
        selection,
        age_text=age_text,
        now=now,
        source=runtime.connection.api_url,
        schema_ref=_schema_ref(Path(args.desired_dir), out),
    )
    doc = dormant_document(
        selection,
        age_text=age_text,
        now=now,
        api_url=runtime.connection.api_url,
        out=str(out) if out else None,
        calls=calls,
    )
    _emit(args, out, yaml_text, doc)
    sys.stderr.write(
        f"reconciler: {len(selection.dormant)} dormant users proposed (commented out){f' in {out}' if out else ''}; "
        f"{len(selection.unknown)} with last activity unknown; {selection.scanned} scanned in {calls} API calls\n"
    )
    return EXIT_OK


_CSV_ONLY = ("check_org", "reason_map", "date_format", *(f"{name}_column" for name in FIELDS))


def run(args: argparse.Namespace) -> int:
    if args.dormant is not None:
        given = [name for name in _CSV_ONLY if getattr(args, name)]
        if given:
            option = "--" + given[0].replace("_", "-")
            raise ConfigError(f"{option} applies to --from-csv, not to --dormant")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        raise ConfigError(f"{out} exists; pass --force to replace it (nothing was read or written)")
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; name a file")
    entries, policy = _declared(Path(args.desired_dir), out)
    if args.dormant is not None:
        return _dormant(args, out, entries, policy)
    return _from_csv(args, out, entries, policy)
