"""`reconciler validate [DIR]`: check the desired-state files; no API call. Exit 0 valid, 1 invalid."""

from __future__ import annotations

import argparse
import json

from reconciler.cli.common import EXIT_OK, add_desired_dir, add_format, emit
from reconciler.core.desired import load_desired


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="validate the desired-state files (no API calls)",
        description="Validate the desired-state files against the schema and the rules "
        "(duplicates, conflicts, one policy). Makes no API call.",
    )
    add_desired_dir(p)
    add_format(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    desired = load_desired(args.desired_dir)  # DesiredStateError is reported by main
    if args.format == "json":
        emit(
            json.dumps(
                {
                    "valid": True,
                    "files": len(desired.files),
                    "users": len(desired.entries),
                    "digest": desired.digest,
                    "errors": [],
                    "problems": [],
                },
                indent=2,
            )
            + "\n"
        )
    else:
        policy = desired.policy
        budget = f"max_changes {policy.max_changes}" + (
            f", max_changes_percent {policy.max_changes_percent:g}%" if policy.max_changes_percent else ""
        )
        emit(
            f"{args.desired_dir}: valid: {len(desired.files)} file(s), {len(desired.entries)} user entries; "
            f"policy: {budget}, {len(policy.protected)} protected\n"
        )
    return EXIT_OK
