"""`reconciler doctor`: check credentials, region, reachability and permissions; change nothing.

Exit 0 when no check failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os

from reconciler.cli.common import EXIT_ERROR, EXIT_OK, add_format, emit
from reconciler.genesys.doctor import run_checks


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check credentials, region, reachability and permissions (changes nothing)",
        description="Check that the OAuth client can do what reconciler needs: read users "
        "(directory:user:view), edit users (directory:user:edit) and end sessions (oauth:token:delete). "
        "Changes nothing.",
    )
    add_format(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    checks = run_checks(os.environ)
    failed = any(c.status == "fail" for c in checks)
    if args.format == "json":
        emit(
            json.dumps(
                {
                    "ok": not failed,
                    "checks": [
                        {"name": c.name, "status": c.status, "detail": c.detail, "permission": c.permission}
                        for c in checks
                    ],
                    "problems": [],
                },
                indent=2,
            )
            + "\n"
        )
    else:
        lines = [f"  {c.status:<5} {c.name:<14} {c.detail}" for c in checks]
        verdict = "doctor: some checks FAILED" if failed else "doctor: all checks passed"
        emit("\n".join([*lines, "", verdict]) + "\n")
    return EXIT_ERROR if failed else EXIT_OK
