"""`reconciler drift [DIR]`: users whose live state differs from what reconciler set or the files declare.

Writes nothing. Exit 2 when there is drift (for alerting), 0 when there is
none, 1 when it cannot tell (invalid or missing files, users it could not
read, errors in the plan). It never says "no drift" on no evidence: without a
ledger it still compares every declared user's live state with the files.
Drift from the ledger names who made the change (Genesys's audit trail).
"""

from __future__ import annotations

import argparse
import json
import sys

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    add_desired_dir,
    add_format,
    emit,
    runtime_from_args,
)
from reconciler.cli.progress import progress_for
from reconciler.core.attribution import UNKNOWN
from reconciler.core.drift import Drift, find_drift, from_plan
from reconciler.core.model import address_key
from reconciler.core.plan import Plan
from reconciler.core.report.safe import visible_lines
from reconciler.errors import ReconcilerError
from reconciler.genesys.live import read_users


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="list users whose state differs from what reconciler set or the files declare (exit 2 on drift)",
        description="Compare each user's live state with the state reconciler last set (from the ledger) and "
        "with the state the desired-state files declare. Writes nothing. Exit 2 when there is drift, 0 when "
        "there is none, 1 when it cannot tell.",
    )
    add_desired_dir(p)
    add_format(p)
    ledger = p.add_argument_group("ledger")
    ledger.add_argument("--ledger", metavar="PATH", help="audit ledger (default: beside the desired-state folder)")
    p.set_defaults(run=run)


def _rows(d: Drift) -> list[str]:
    """The lines for one drifted user; each is made visible on its own (visible_lines), so none may hold a newline."""
    who = f"  {d.email or d.user_id} [{d.user_id}]"
    if d.basis == "desired":
        return [
            f"{who}: declared {d.set_state} in {d.source}; now {d.live_state} (not set by reconciler per the ledger)"
        ]
    when = d.set_at.strftime("%Y-%m-%d %H:%M:%SZ") if d.set_at else "?"
    commit = f" from commit {d.commit}" if d.commit else ""
    declared = "" if d.declared is None else ("" if d.declared else " (no longer declared)")
    by = d.changed_by or UNKNOWN
    at = f" at {by.at.strftime('%Y-%m-%d %H:%M:%SZ')}" if by.at else ""
    return [
        f"{who}: set {d.set_state} at {when}{commit}; now {d.live_state}{declared}",
        f"      changed by {by.describe()}{at}",
    ]


def _doc(drifts: list[Drift], checked: int, plan: Plan, ledger: str, ledger_found: bool) -> str:
    problems = [
        {"severity": p.severity, "code": p.code, "message": p.message, "source": p.source, "id": p.user_id}
        for p in plan.errors
    ]
    doc = {
        "drift": [
            {
                "id": d.user_id,
                "email": d.email,
                "name": d.name,
                "set_state": d.set_state,
                "set_at": d.set_at.isoformat() if d.set_at else None,
                "commit": d.commit,
                "live_state": d.live_state,
                "declared": d.declared,
                "changed_by": (d.changed_by or UNKNOWN).as_dict() if d.basis == "ledger" else None,
                "basis": d.basis,
                "source": d.source,
            }
            for d in drifts
        ],
        "checked": checked,
        "managed": plan.managed,
        "ledger": {"path": ledger, "found": ledger_found},
        "problems": problems,
    }
    return json.dumps(doc, indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from_args(args, progress=progress_for(args.format))
    try:
        desired = runtime.load()  # invalid or missing files: an error, never "no drift"
        history = runtime.history()
        ids = sorted(h for h, v in history.users.items() if v.last_set_state)
        live, unread = read_users(runtime.client(), ids, runtime.settings)
        if unread:  # an unread user would look "missing": report it as an error, never as drift
            first = next(iter(unread.values()))
            raise ReconcilerError(f"could not read {len(unread)} of the {len(ids)} users reconciler has set: {first}")
        attribution = runtime.attribute(history, live)  # no audit call when nothing drifted
        plan = runtime.plan(desired, attribution=attribution).plan
    finally:
        runtime.close()
    ids_declared = {e.id for e in desired.entries if e.id}
    emails_declared = {e.email_key for e in desired.entries if e.email_key}
    declared = {u.id for u in live.values() if u.id in ids_declared or address_key(u.email) in emails_declared}
    if attribution.warning:
        sys.stderr.write(f"reconciler: warning: {attribution.warning}\n")
    drifts = find_drift(history, live, declared, attribution.by_user)
    drifts += from_plan(plan, {d.user_id for d in drifts})
    ledger = str(runtime.ledger_path)
    found = runtime.ledger_path is not None and runtime.ledger_path.exists()
    if not found:
        sys.stderr.write(
            f"reconciler: note: no ledger at {ledger}; compared the live state with the desired state only\n"
        )
    if args.format == "json":
        emit(_doc(drifts, len(ids), plan, ledger, found))
    elif plan.has_errors or drifts:
        lines = [f"  error: {p.message}" + (f" ({p.source})" if p.source else "") for p in plan.errors]
        if drifts:
            lines.insert(0, f"Drift: {len(drifts)} user(s) differ from what reconciler set or the files declare:")
            lines[1:1] = [line for d in drifts for line in _rows(d)]
        emit(visible_lines(lines))
    else:
        emit(
            f"No drift: all {len(ids)} users reconciler has set are still in that state, and all "
            f"{plan.managed} declared users match the desired state.\n"
        )
    if plan.has_errors:
        # Some declared users could not be checked: never "no drift". Drift found elsewhere still
        # alerts as drift (2); with none found, it cannot tell (1).
        sys.stderr.write(f"reconciler: error: cannot tell for every user: {len(plan.errors)} error(s) in the plan\n")
    if drifts:
        return EXIT_CHANGES
    return EXIT_ERROR if plan.has_errors else EXIT_OK
