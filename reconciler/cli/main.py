"""The `reconciler` command: parse, dispatch to one module per verb, map errors to exit codes.

This is the only place an exception becomes a message. Exit codes: 0 success,
1 error (invalid files, API or configuration errors, refused or failed
apply), 2 changes present (``plan --detailed-exitcode``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reconciler import __version__
from reconciler.cli import apply as apply_cmd
from reconciler.cli import audit as audit_cmd
from reconciler.cli import demo as demo_cmd
from reconciler.cli import doctor as doctor_cmd
from reconciler.cli import drift as drift_cmd
from reconciler.cli import export as export_cmd
from reconciler.cli import plan as plan_cmd
from reconciler.cli import propose as propose_cmd
from reconciler.cli import run as run_cmd
from reconciler.cli import sandbox as sandbox_cmd
from reconciler.cli import validate as validate_cmd
from reconciler.cli.common import EXIT_ERROR, configure_logging
from reconciler.errors import ApiError, ConfigError, DesiredStateError, InputError, ReconcilerError

__all__ = ["build_parser", "main"]

COMMANDS = (
    validate_cmd,
    plan_cmd,
    apply_cmd,
    run_cmd,
    drift_cmd,
    export_cmd,
    propose_cmd,
    audit_cmd,
    doctor_cmd,
    sandbox_cmd,
    demo_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Keep Genesys Cloud user state equal to what is committed in git: "
        "deactivate leavers, end their sessions, correct drift.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    _add_logging(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    for command in sub.choices.values():  # -v and --log-format work after the command too
        _add_logging(command, defaults=False)
    return parser


def _add_logging(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Subcommands use SUPPRESS so that an option given before the command is not reset after it.
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if defaults else argparse.SUPPRESS,
        help="more log output on stderr (-vv: debug)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text" if defaults else argparse.SUPPRESS,
        help="log line format on stderr",
    )


def _fail(message: str) -> int:
    sys.stderr.write(f"reconciler: error: {message}\n")
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # A service logs one line per event by default; one-shot commands only warnings.
    verbosity = max(args.verbose, 1) if args.command == "run" else args.verbose
    configure_logging(verbosity, args.log_format)
    try:
        code: int = args.run(args)
        return code
    except DesiredStateError as exc:
        for finding in exc.findings:
            sys.stderr.write(f"{finding}\n")
        return _fail(
            f"{len(exc.findings)} problem(s) in the desired-state files; nothing was read from or "
            f"written to Genesys Cloud"
        )
    except InputError as exc:
        for finding in exc.findings[:-1]:
            sys.stderr.write(f"{finding}\n")
        return _fail(f"{exc.findings[-1]}" if exc.findings else str(exc))
    except ConfigError as exc:
        return _fail(str(exc))
    except ApiError as exc:
        return _fail(f"Genesys Cloud API: {exc}")
    except ReconcilerError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("reconciler: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
