"""`reconciler apply [DIR]`: make the planned changes, and only those.

Plans first (the same plan `reconciler plan` shows), then asks for
confirmation on a terminal; without a terminal it refuses unless
``--auto-approve`` is given. Exit 0 when everything needed was done (or
nothing was needed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    add_desired_dir,
    add_format,
    add_run_options,
    emit,
    runtime_from_args,
)
from reconciler.report import json as json_report
from reconciler.report import text as text_report


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "apply",
        help="make the planned changes in Genesys Cloud",
        description="Plan, confirm, then deactivate/reactivate users and revoke tokens as planned.",
    )
    add_desired_dir(p)
    add_format(p)
    add_run_options(p)
    p.add_argument("--auto-approve", action="store_true", help="apply without asking for confirmation")
    p.set_defaults(run=run)


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip() == "yes"
    except (EOFError, KeyboardInterrupt):
        return False


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from_args(args)
    try:
        planned = runtime.plan(targets=tuple(args.target), allow_mass_change=args.allow_mass_change)
        plan = planned.plan
        as_json = args.format == "json"
        if plan.has_errors:
            if as_json:
                emit(json_report.dumps(json_report.plan_document(plan, kind="apply")))
            else:
                emit(text_report.render_plan(plan))
            sys.stderr.write(
                f"reconciler: apply refused: the plan has {len(plan.errors)} error(s); nothing was changed\n"
            )
            return EXIT_ERROR
        if not plan.has_changes:
            result = runtime.apply(plan)
            emit(json_report.dumps(json_report.apply_document(result)) if as_json else text_report.render_plan(plan))
            return EXIT_OK
        if not args.auto_approve:
            if not as_json:
                emit(text_report.render_plan(plan))
            if not sys.stdin.isatty():
                sys.stderr.write(
                    "reconciler: apply refused: no terminal to confirm on; review the plan and "
                    "re-run with --auto-approve\n"
                )
                return EXIT_ERROR
            if not _confirm("\nDo you want to make these changes? Only 'yes' will be accepted: "):
                sys.stderr.write("reconciler: apply cancelled; nothing was changed\n")
                return EXIT_ERROR
        elif not as_json:
            emit(text_report.render_plan(plan))
        result = runtime.apply(plan)
    finally:
        runtime.close()
    if as_json:
        emit(json_report.dumps(json_report.apply_document(result)))
    else:
        emit("\n" + text_report.render_apply(result))
    return EXIT_OK if result.ok else EXIT_ERROR
