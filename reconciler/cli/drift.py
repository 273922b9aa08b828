"""`reconciler drift [DIR]`: users moved away from the state this tool last set. Writes nothing.

Exit 2 when there is drift (for alerting), 0 when there is none, 1 on error.
"""

from __future__ import annotations

import argparse
import json
import sys

from reconciler.cli.common import EXIT_CHANGES, EXIT_OK, add_desired_dir, add_format, emit, runtime_from_args
from reconciler.core.attribution import UNKNOWN
from reconciler.core.desired import load_desired
from reconciler.core.drift import Drift, find_drift
from reconciler.core.report.safe import visible_lines
from reconciler.errors import DesiredStateError, ReconcilerError
from reconciler.genesys.live import read_users


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="list users whose state moved away from what reconciler set (exit 2 on drift)",
        description="Compare each user's live state with the state reconciler last set according to the "
        "ledger. Writes nothing. Exit 2 when there is drift, 0 when there is none.",
    )
    add_desired_dir(p)
    add_format(p)
    ledger = p.add_argument_group("ledger")
    ledger.add_argument("--ledger", metavar="PATH", help="audit ledger (default: beside the desired-state folder)")
    p.set_defaults(run=run)


def _rows(d: Drift) -> list[str]:
    """Two lines per drifted user; each is made visible on its own (visible_lines), so neither may hold a newline."""
    when = d.set_at.strftime("%Y-%m-%d %H:%M:%SZ") if d.set_at else "?"
    commit = f" from commit {d.commit[:12]}" if d.commit else ""
    declared = "" if d.declared is None else ("" if d.declared else " (no longer declared)")
    by = d.changed_by or UNKNOWN
    at = f" at {by.at.strftime('%Y-%m-%d %H:%M:%SZ')}" if by.at else ""
    return [
        f"  {d.email or d.user_id} [{d.user_id}]: set {d.set_state} at {when}{commit}; now {d.live_state}{declared}",
        f"      changed by {by.describe()}{at}",
    ]


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from_args(args)
    try:
        history = runtime.history()
        ids = sorted(h for h, v in history.users.items() if v.last_set_state)
        live, unread = read_users(runtime.client(), ids, runtime.settings)
        if unread:  # an unread user would look "missing": report it as an error, never as drift
            first = next(iter(unread.values()))
            raise ReconcilerError(f"could not read {len(unread)} of the {len(ids)} users reconciler has set: {first}")
        attribution = runtime.attribute(history, live)  # no audit call when nothing drifted
    finally:
        runtime.close()
    declared: set[str] | None
    try:
        desired = load_desired(args.desired_dir)
        ids_declared = {e.id for e in desired.entries if e.id}
        emails_declared = {e.email_key for e in desired.entries if e.email_key}
        declared = {u.id for u in live.values() if u.id in ids_declared or (u.email or "").lower() in emails_declared}
    except DesiredStateError:
        declared = None
    if attribution.warning:
        sys.stderr.write(f"reconciler: warning: {attribution.warning}\n")
    drifts = find_drift(history, live, declared, attribution.by_user)
    if args.format == "json":
        emit(
            json.dumps(
                {
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
                            "changed_by": (d.changed_by or UNKNOWN).as_dict(),
                        }
                        for d in drifts
                    ],
                    "checked": len(ids),
                },
                indent=2,
            )
            + "\n"
        )
    elif drifts:
        emit(
            visible_lines(
                [f"Drift: {len(drifts)} of {len(ids)} users reconciler has set are no longer in that state:"]
                + [line for d in drifts for line in _rows(d)]
            )
        )
    else:
        emit(f"No drift: all {len(ids)} users reconciler has set are still in that state.\n")
    return EXIT_CHANGES if drifts else EXIT_OK
