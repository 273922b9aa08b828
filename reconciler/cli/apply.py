"""`reconciler apply [DIR | PLAN.json]`: make the planned changes, and only those.

With a folder, it plans first (the same plan `reconciler plan` shows), then
asks on a terminal; without a terminal it refuses unless ``--auto-approve``.
With a saved plan file (`reconciler plan --out`), it plans again from the
desired-state folder (``--desired-state``, default ``desired_state``) and the
live org, and applies only if that plan's changes equal the saved ones
exactly; otherwise it names what differs and writes nothing. No prompt: a
saved plan counts as reviewed. ``--target``, ``--allow-mass-change`` and
``--release`` are usage errors with a saved plan (the plan is made with them). Exit 0 when
everything needed was done (or nothing was needed), 1 otherwise, 2 for a
usage error, 130/143 when stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    add_format,
    add_release,
    add_run_options,
    emit,
    runtime_from_args,
)
from reconciler.cli.failures import problems_from, refused_apply_document
from reconciler.cli.plan import render
from reconciler.cli.progress import progress_for
from reconciler.cli.stopping import SignalStop
from reconciler.core.plan import Plan
from reconciler.core.report import jsondoc as json_report
from reconciler.core.report import markdown as markdown_report
from reconciler.core.report import text as text_report
from reconciler.core.report.safe import visible
from reconciler.core.results import UNREACHABLE, ApplyResult
from reconciler.core.results import not_started as not_started_msg
from reconciler.core.saved import load_plan_file
from reconciler.engine import Runtime
from reconciler.errors import StalePlan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "apply",
        help="make the planned changes in Genesys Cloud",
        description="Plan (or load a saved plan), confirm, then deactivate/reactivate users and revoke "
        "tokens exactly as planned.",
    )
    p.add_argument(
        "desired_dir",
        nargs="?",
        default="desired_state",
        metavar="DIR_OR_PLAN",
        help="desired-state folder (default: desired_state), or a plan file saved by `plan --out`",
    )
    add_format(p, ("text", "json", "markdown"))
    add_run_options(p)
    add_release(p)
    p.add_argument(
        "--desired-state",
        metavar="DIR",
        help="with a saved plan: the desired-state folder to plan again from and compare (default: desired_state)",
    )
    p.add_argument("--auto-approve", action="store_true", help="apply without asking for confirmation")
    p.set_defaults(run=run)


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip() == "yes"
    except (EOFError, KeyboardInterrupt):
        return False


def _render_result(result: ApplyResult, fmt: str, *, each: bool = True) -> str | list[text_report.Line]:
    if fmt == "json":
        return json_report.dumps(json_report.apply_document(result))
    if fmt == "markdown":
        return markdown_report.render_apply(result)
    return [text_report.Line(""), *text_report.apply_lines(result, each=each)]


def _refuse(plan: Plan, fmt: str, why: str, *, shown: bool = False) -> int:
    """Refuse with the plan as data: in JSON every planned change is in ``results`` as ``skipped``, with why."""
    if fmt == "json":
        emit(json_report.dumps(refused_apply_document(plan, why)))
    elif not shown:
        emit(render(plan, fmt))
    sys.stderr.write(f"reconciler: apply refused: {why}; nothing was changed\n")
    return EXIT_ERROR


def _execute(runtime: Runtime, plan: Plan, fmt: str, *, show_plan: bool) -> int:
    """The common tail: (show the plan,) apply it, report, exit code.

    While it writes, SIGINT/SIGTERM stop it cleanly (stopping.py): the results so far are
    printed and the exit code is 130 or 143.
    """
    brake = SignalStop()
    try:
        if show_plan and fmt == "text":
            emit(text_report.plan_lines(plan))
        with brake.installed():
            result = runtime.apply(plan, should_stop=brake.reason)
    finally:
        runtime.close()
    # When a person watched each user's outcome appear on this terminal, end with the verdict only;
    # a pipe or a file always gets the whole report.
    watched = getattr(runtime.progress, "shown_results", False) and sys.stdout.isatty()
    emit(_render_result(result, fmt, each=not watched))
    if brake.exit_code is not None:
        return brake.exit_code
    if result.unreachable:
        causes = (str(r.error.get("message")) for r in result.results if r.error)
        cause = next((c for c in causes if c.startswith("cannot reach")), "Genesys Cloud could not be reached")
        not_started = sum(1 for r in result.results if r.message == not_started_msg(UNREACHABLE))
        sys.stderr.write(
            f"reconciler: error: {cause}; stopped after {runtime.settings.unreachable_after} connection failures "
            f"in a row, {not_started} change(s) not started. Tokens still owed are revoked by the next apply\n"
        )
    return EXIT_OK if result.ok else EXIT_ERROR


def _saved(path: Path, args: argparse.Namespace) -> int:
    plan = load_plan_file(path)
    if plan.has_errors:
        return _refuse(plan, args.format, f"the saved plan has {len(plan.errors)} error(s)")
    # Re-plan from the folder named now (never the one the file names), as the plan was made.
    runtime = runtime_from_args(args, desired_dir=Path(args.desired_state), progress=progress_for(args.format))
    try:
        fresh = runtime.verify_saved(plan)
    except StalePlan as exc:
        runtime.close()
        if args.format == "json":
            emit(json_report.dumps(refused_apply_document(plan, "the saved plan is stale", problems_from(exc))))
        elif args.format == "markdown":
            emit(markdown_report.render_failure("apply", problems_from(exc)))
        for reason in exc.reasons:
            sys.stderr.write(f"  {visible(reason)}\n")
        sys.stderr.write(f"reconciler: apply refused: {visible(exc)}\n")
        return EXIT_ERROR
    except BaseException:
        runtime.close()
        raise
    return _execute(runtime, fresh, args.format, show_plan=True)


def _usage_error(message: str) -> int:
    sys.stderr.write(f"reconciler apply: error: {message}\n")
    return EXIT_USAGE


def _misused_options(args: argparse.Namespace, saved: bool) -> str | None:
    """Options that would change what a saved plan does are refused with it (as Terraform refuses -target)."""
    if saved:
        options = (
            ("--target", bool(args.target), "--target EMAIL_OR_ID"),
            ("--allow-mass-change", args.allow_mass_change, "--allow-mass-change"),
            ("--release", bool(args.release), "--release USER"),
        )
        for option, given, usage in options:
            if given:
                return (
                    f"{option} cannot be used with a saved plan: a saved plan applies exactly what was "
                    f"reviewed. Make the plan with it: reconciler plan {usage} --out FILE"
                )
    elif args.desired_state is not None:
        return "--desired-state is for a saved plan; with a folder, name the folder instead"
    return None


def _approved(plan: Plan, args: argparse.Namespace) -> bool:
    """Auto-approved, or a 'yes' on a terminal. Without a terminal, refuse (and say how to proceed)."""
    if args.auto_approve:
        return True
    if args.format != "json":
        emit(render(plan, args.format))
    if not sys.stdin.isatty():
        _refuse(
            plan,
            args.format,
            "no terminal to confirm on; review the plan and re-run with --auto-approve",
            shown=True,
        )
        return False
    if not _confirm("\nDo you want to make these changes? Only 'yes' will be accepted: "):
        if args.format == "json":
            emit(json_report.dumps(refused_apply_document(plan, "cancelled at the prompt")))
        sys.stderr.write("reconciler: apply cancelled; nothing was changed\n")
        return False
    return True


def run(args: argparse.Namespace) -> int:
    saved = Path(args.desired_dir).is_file()
    misuse = _misused_options(args, saved)
    if misuse is not None:
        return _usage_error(misuse)
    if saved:
        if args.desired_state is None:
            args.desired_state = "desired_state"
        return _saved(Path(args.desired_dir), args)
    runtime = runtime_from_args(args, progress=progress_for(args.format))
    try:
        plan = runtime.plan(
            targets=tuple(args.target), allow_mass_change=args.allow_mass_change, release=tuple(args.release)
        ).plan
        refusal = None
        if plan.has_errors:
            refusal = _refuse(plan, args.format, f"the plan has {len(plan.errors)} error(s)")
        elif not plan.has_changes:
            nothing = ApplyResult(plan=plan, results=())
            emit(text_report.plan_lines(plan) if args.format == "text" else _render_result(nothing, args.format))
            refusal = EXIT_OK
        elif not _approved(plan, args):
            refusal = EXIT_ERROR
    except BaseException:
        runtime.close()
        raise
    if refusal is not None:
        runtime.close()
        return refusal
    return _execute(runtime, plan, args.format, show_plan=args.auto_approve)
