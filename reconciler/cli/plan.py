"""`reconciler plan [DIR]`: show what apply would change. Reads Genesys; writes nothing.

Exit codes: 0 fine, 1 error (any problem of severity error). With
``--detailed-exitcode``: 0 no changes, 2 changes present, 1 error (Terraform's contract).
"""

from __future__ import annotations

import argparse

from reconciler.cli.common import (
    EXIT_CHANGES,
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
        "plan",
        help="show the changes apply would make (read-only)",
        description="Validate the files, read the managed users from Genesys Cloud and show "
        "exactly what apply would change. Writes nothing.",
    )
    add_desired_dir(p)
    add_format(p)
    add_run_options(p)
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from_args(args)
    try:
        result = runtime.plan(targets=tuple(args.target), allow_mass_change=args.allow_mass_change)
    finally:
        runtime.close()
    plan = result.plan
    if args.format == "json":
        emit(json_report.dumps(json_report.plan_document(plan)))
    else:
        emit(text_report.render_plan(plan))
    if plan.has_errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
