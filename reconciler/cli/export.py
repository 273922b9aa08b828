"""`reconciler export --state inactive --out FILE`: write desired-state YAML from the live org.

Users already declared elsewhere in the desired-state folder are left out,
so the tree stays free of duplicates; a plan right after an export shows no
changes (except revocations of tokens still valid on recently deactivated users).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.cli.common import EXIT_OK, add_desired_dir, check_writable, runtime_from_args, write_atomically
from reconciler.core.desired import load_desired
from reconciler.core.model import address_key
from reconciler.genesys.export import fetch_users, render_export


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write desired-state YAML from the live org (bootstrap)",
        description="List the org's users in one state and write them as desired-state YAML (email and id "
        "for each, sorted, with a header comment). Reads Genesys; writes only the output file.",
    )
    add_desired_dir(p)
    p.add_argument(
        "--state",
        choices=("inactive", "active"),
        default="inactive",
        help="which users to export (default inactive; active is for review, not for applying)",
    )
    p.add_argument("--out", metavar="FILE", default="-", help="output file (default: standard output)")
    p.set_defaults(run=run)


def _declared_elsewhere(folder: Path, out: Path | None) -> tuple[set[str], set[str]]:
    """Ids and emails the folder already declares (outside the output file). Invalid files are an error:
    exporting everything past them would write duplicates that the next validate rejects."""
    here = out.resolve() if out else None
    others = [
        p
        for p in folder.rglob("*.y*ml")
        if p.suffix in (".yaml", ".yml")
        and p.resolve() != here
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    if not others:
        return set(), set()  # a new or empty folder: bootstrapping, nothing declared yet
    desired = load_desired(folder)
    entries = [e for e in desired.entries if here is None or Path(e.source.path).resolve() != here]
    return {e.id for e in entries if e.id}, {e.email_key for e in entries if e.email_key}


def run(args: argparse.Namespace) -> int:
    out = None if args.out == "-" else check_writable(args.out, "the export file")
    ids, emails = (
        _declared_elsewhere(Path(args.desired_dir), out) if Path(args.desired_dir).is_dir() else (set(), set())
    )
    runtime = runtime_from_args(args, use_ledger=False)
    try:
        users = list(fetch_users(runtime.client(), args.state))
    finally:
        runtime.close()
    fresh = [u for u in users if u.id not in ids and address_key(u.email) not in emails]
    assert runtime.connection is not None
    text = render_export(
        fresh,
        state=args.state,
        source=runtime.connection.api_url,
        now=runtime.clock(),
        skipped_declared=len(users) - len(fresh),
    )
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomically(out, text, "the export file")
        sys.stderr.write(
            f"reconciler: wrote {len(fresh)} {args.state} users to {out}"
            f"{f' ({len(users) - len(fresh)} already declared elsewhere)' if len(fresh) < len(users) else ''}\n"
        )
    return EXIT_OK
