"""The `reconciler` command: parse, dispatch to one module per verb, map errors to exit codes.

This is the only place an exception becomes a message. Exit codes: 0 success,
1 error (invalid files, API or configuration errors, refused or failed
apply), 2 changes present (``plan --detailed-exitcode``) or a usage error,
130 interrupted (SIGINT), 143 an apply stopped by SIGTERM (cli/stopping.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from reconciler import __version__
from reconciler.cli.common import EXIT_ERROR, configure_logging
from reconciler.core.report.safe import visible
from reconciler.errors import ApiError, ConfigError, DesiredStateError, InputError, ReconcilerError

__all__ = ["VERBS", "build_parser", "main"]

# Every verb: its module (reconciler/cli/<name>.py) and its one-line help. A run imports
# only the module of its own verb, so `--help` and `validate` never load httpx, the
# planner or the sandbox (start-up is most of a small run's cost). A test pins these
# lines to the modules' own help.
VERBS: tuple[tuple[str, str], ...] = (
    ("validate", "validate the desired-state files (no API calls)"),
    ("plan", "show the changes apply would make (read-only)"),
    ("apply", "make the planned changes in Genesys Cloud"),
    ("run", "reconcile on a schedule (a long-running service), correcting drift"),
    ("drift", "list users whose state moved away from what reconciler set (exit 2 on drift)"),
    ("export", "write desired-state YAML from the live org (bootstrap)"),
    ("propose", "write desired-state YAML for a pull request from an HR export or from dormant accounts"),
    ("audit", "print the audit ledger (who was changed, when, from which commit, outcome)"),
    ("doctor", "check credentials, region, reachability and permissions (changes nothing)"),
    ("sandbox", "serve a local fake Genesys Cloud org (no credentials, no network)"),
    ("demo", "run the whole story against a local sandbox org"),
)


def build_parser(only: str | None = None, *, summary: bool = False) -> argparse.ArgumentParser:
    """The argument parser: every verb in full, or (``only``) one verb in full and the others by name.

    ``summary``: every verb by name and help only, enough for ``reconciler --help``.
    """
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Keep Genesys Cloud user state equal to what is committed in git: "
        "deactivate leavers, end their sessions, correct drift.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    _add_logging(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_line in VERBS:
        if summary or (only is not None and name != only):
            sub.add_parser(name, help=help_line)
        else:
            importlib.import_module(f"reconciler.cli.{name}").add_parser(sub)
    for command in sub.choices.values():  # -v and --log-format work after the command too
        _add_logging(command, defaults=False)
    return parser


def _verb_in(argv: Sequence[str]) -> str | None:
    """The verb an argument list names, looking past the options that may precede it."""
    names = {name for name, _ in VERBS}
    args = iter(argv)
    for arg in args:
        if arg == "--log-format":
            next(args, None)
        elif not arg.startswith("-"):
            return arg if arg in names else None
    return None


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
    sys.stderr.write(f"reconciler: error: {visible(message)}\n")
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb_in(argv)
    parser = build_parser(verb, summary=verb is None)
    args = parser.parse_args(argv)
    # A service logs one line per event by default; one-shot commands only warnings.
    verbosity = max(args.verbose, 1) if args.command == "run" else args.verbose
    configure_logging(verbosity, args.log_format)
    try:
        code: int = args.run(args)
        return code
    except DesiredStateError as exc:
        for finding in exc.findings:
            sys.stderr.write(f"{visible(finding)}\n")
        return _fail(
            f"{len(exc.findings)} problem(s) in the desired-state files; nothing was read from or "
            f"written to Genesys Cloud"
        )
    except InputError as exc:
        for finding in exc.findings[:-1]:
            sys.stderr.write(f"{visible(finding)}\n")
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
