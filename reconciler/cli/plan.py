"""`reconciler plan [DIR]`: show what apply would change. Reads Genesys; writes nothing to it.

Exit codes: 0 fine, 1 error (any problem of severity error). With
``--detailed-exitcode``: 0 no changes, 2 changes present, 1 error (Terraform's contract).
``--out FILE`` also saves the plan (the same JSON as ``--format json``) for
``reconciler apply FILE``.
"""

from __future__ import annotations

import argparse

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    add_desired_dir,
    add_format,
    add_release,
    add_run_options,
    check_writable,
    emit,
    runtime_from_args,
    write_atomically,
)
from reconciler.cli.progress import progress_for
from reconciler.core.plan import Plan
from reconciler.core.report import jsondoc as json_report
from reconciler.core.report import markdown as markdown_report
from reconciler.core.report import text as text_report

FORMATS = ("text", "json", "markdown")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="show the changes apply would make (read-only)",
        description="Validate the files, read the managed users from Genesys Cloud and show "
        "exactly what apply would change. Writes nothing to Genesys.",
    )
    add_desired_dir(p)
    add_format(p, FORMATS)
    add_run_options(p)
    add_release(p)
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--out", metavar="FILE", help="also save the plan here, for `reconciler apply FILE`")
    p.set_defaults(run=run)


def render(plan: Plan, fmt: str) -> str | list[text_report.Line]:
    """The plan in ``fmt``; text as tagged lines, which emit() styles on a terminal."""
    if fmt == "json":
        return json_report.dumps(json_report.plan_document(plan))
    if fmt == "markdown":
        return markdown_report.render_plan(plan)
    return text_report.plan_lines(plan)


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_writable(args.out, "the plan file")
    runtime = runtime_from_args(args, progress=progress_for(args.format))
    try:
        plan = runtime.plan(
            targets=tuple(args.target), allow_mass_change=args.allow_mass_change, release=tuple(args.release)
        ).plan
    finally:
        runtime.close()
    if args.out:
        write_atomically(args.out, json_report.dumps(json_report.plan_document(plan)), "the plan file")
    emit(render(plan, args.format))
    if plan.has_errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
