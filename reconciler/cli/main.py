"""The `reconciler` command: parse, dispatch to one module per verb, map errors to exit codes.

This is the only place an exception becomes a message. Exit codes: 0 success,
1 error (invalid files, API or configuration errors, refused or failed
apply), 2 changes present (``plan --detailed-exitcode``) or a usage error,
130 interrupted (SIGINT), 143 an apply stopped by SIGTERM (cli/stopping.py).

No input may produce a Python traceback: an operating-system error (a busy
port, a folder where a file was expected, a full disk) becomes one line naming
the path and the cause, and anything unforeseen one line that points to
``-vv``, which prints the trace for a bug report. With ``--format json`` or
``markdown`` a failure is also a document on stdout (cli/failures.py).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from reconciler import __version__

# Nothing else from reconciler at module level: `reconciler --help` must start in a blink, so
# logging, the error tree and the escaping are imported by the code paths that use them.

__all__ = ["NO_COLLECTOR", "VERBS", "build_parser", "entry", "main"]

# Every verb: its module (reconciler/cli/<name>.py) and its one-line help. A run imports
# only the module of its own verb, so `--help` and `validate` never load httpx, the
# planner or the sandbox (start-up is most of a small run's cost). A test pins these
# lines to the modules' own help.
VERBS: tuple[tuple[str, str], ...] = (
    ("validate", "validate the desired-state files (no API calls)"),
    ("plan", "show the changes apply would make (read-only)"),
    ("apply", "make the planned changes in Genesys Cloud"),
    ("run", "reconcile on a schedule (a long-running service), correcting drift"),
    ("drift", "list users whose state differs from what reconciler set or the files declare (exit 2 on drift)"),
    ("export", "write desired-state YAML from the live org (bootstrap)"),
    ("propose", "write desired-state YAML for a pull request from an HR export or from dormant accounts"),
    ("audit", "print the audit ledger (who was changed, when, from which commit, outcome)"),
    ("doctor", "check credentials, region, reachability and permissions (changes nothing)"),
    ("sandbox", "serve a local fake Genesys Cloud org (no credentials, no network)"),
    ("demo", "run the whole story against a local sandbox org"),
    ("completion", "print shell code for tab completion (bash, zsh, fish)"),
)


_columns: int | None = None


def _terminal_columns() -> int:
    """The width shutil.get_terminal_size() would give argparse: $COLUMNS, the terminal, or 80."""
    global _columns
    if _columns is None:
        try:
            _columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            _columns = 0
        if _columns <= 0:
            try:
                _columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                _columns = 0
        if _columns <= 0:
            _columns = 80
    return _columns


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter, told the width once.

    argparse builds a formatter for every argument it adds, and each one imports shutil (and
    with it bz2, lzma and fnmatch) to ask the terminal's width: a tenth of a small validate.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose formatter is _Formatter unless told otherwise; subparsers are built from its class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def build_parser(only: str | None = None, *, summary: bool = False) -> argparse.ArgumentParser:
    """The argument parser: every verb in full, or (``only``) one verb in full and the others by name.

    ``summary``: every verb by name and help only, enough for ``reconciler --help``.
    """
    parser = _Parser(
        prog="reconciler",
        description="Keep Genesys Cloud user state equal to what is committed in git: "
        "deactivate leavers, end their sessions, correct drift.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    _add_logging(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)  # verbs are _Parsers too
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
    from reconciler.cli.common import EXIT_ERROR
    from reconciler.core.report.safe import visible

    sys.stderr.write(f"reconciler: error: {visible(message)}\n")
    return EXIT_ERROR


def _crash(exc: BaseException, verbosity: int) -> int:
    """The last resort: one line, and the trace only when asked for with -vv."""
    if verbosity >= 2:
        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if verbosity >= 2 else "; run again with -vv for the trace"
    return _fail(f"unexpected {type(exc).__name__}: {exc}{hint}")


# Verbs whose garbage cycles are bounded by their reads (httpx and tenacity leave ~70 small objects
# per request): the process ends with the command, so the cyclic collector's scans of a large heap
# are pure cost (0.5 s of a 4 s plan of 20,000 users). apply (cycles per write), run, sandbox and
# demo (long-running) keep it. See core/collector.py.
NO_COLLECTOR = frozenset({"validate", "plan", "drift", "export", "propose", "audit", "doctor", "completion"})


def entry() -> int:
    """The console script and ``python -m reconciler``: one process, one command."""
    if _verb_in(sys.argv[1:]) in NO_COLLECTOR:
        gc.disable()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:  # the shell hook of `reconciler completion SHELL` is asking
        import argcomplete

        argcomplete.autocomplete(build_parser())  # every verb in full; exits after answering
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb_in(argv)
    parser = build_parser(verb, summary=verb is None)
    args = parser.parse_args(argv)
    # A service logs one line per event by default; one-shot commands only warnings.
    verbosity = max(args.verbose, 1) if args.command == "run" else args.verbose
    from reconciler.cli.common import configure_logging

    configure_logging(verbosity, args.log_format, api_calls=args.verbose >= 1)
    try:
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        sys.stderr.write("reconciler: interrupted\n")
        return 130
    except Exception as exc:
        _as_data(args, exc)
        return _report(exc, verbosity)


def _as_data(args: argparse.Namespace, exc: Exception) -> None:
    """In JSON or Markdown, a failure is a document on stdout too (for CI comments and scripts)."""
    fmt = getattr(args, "format", "text")
    if fmt not in ("json", "markdown"):
        return
    try:
        from reconciler.cli.failures import failure_output, problems_from

        text = failure_output(args.command, fmt, problems_from(exc))
    except Exception:  # reporting must never replace the error it reports
        return
    if text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()


def _report(exc: Exception, verbosity: int) -> int:
    """The one place an exception becomes a message on stderr and an exit code."""
    from reconciler.cli.common import os_error_message
    from reconciler.core.report.safe import visible
    from reconciler.errors import ApiError, DesiredStateError, InputError, ReconcilerError

    if isinstance(exc, DesiredStateError):
        for finding in exc.findings:
            sys.stderr.write(f"{visible(finding)}\n")
        return _fail(
            f"{len(exc.findings)} problem(s) in the desired-state files; nothing was read from or "
            f"written to Genesys Cloud"
        )
    if isinstance(exc, InputError):
        for finding in exc.findings[:-1]:
            sys.stderr.write(f"{visible(finding)}\n")
        return _fail(f"{exc.findings[-1]}" if exc.findings else str(exc))
    if isinstance(exc, ApiError):
        return _fail(f"Genesys Cloud API: {exc}")
    if isinstance(exc, ReconcilerError):
        return _fail(str(exc))
    if isinstance(exc, OSError):
        return _fail(os_error_message(exc))
    if isinstance(exc, MemoryError):
        return _fail("out of memory (is an input a device or an endless file?)")
    return _crash(exc, verbosity)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
