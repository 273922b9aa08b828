"""Shared CLI plumbing: options, the runtime from the environment, output, logging, exit codes.

The CLI is a thin shell: it parses arguments, builds a Runtime, calls the
engine, renders the result and maps it to an exit code. Only here (and in
main.py) do exceptions become messages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.core.report.safe import visible, visible_lines
from reconciler.core.settings import Settings
from reconciler.errors import ConfigError

if TYPE_CHECKING:
    # The engine (and httpx under it) is imported by the verbs that talk to Genesys, when they run;
    # the renderers by the verbs that render. `--help` and `validate` load neither (start-up cost).
    from reconciler.core.report.text import Line
    from reconciler.engine import Runtime

__all__ = [
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_CONCURRENCY",
    "MAX_REQUESTS_PER_MINUTE",
    "add_desired_dir",
    "add_format",
    "add_read_options",
    "add_release",
    "add_run_options",
    "bounded",
    "check_port",
    "check_writable",
    "colour_wanted",
    "configure_logging",
    "emit",
    "os_error_message",
    "runtime_from_args",
    "write_atomically",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 2  # as argparse: the command line itself is wrong

# More requests in flight than the automatic ceiling only queue on the per-token rate limit; the
# ceiling on the pace is far above any Genesys limit and is there for time-scaled sandbox runs.
MAX_CONCURRENCY = Settings().max_concurrency
MAX_REQUESTS_PER_MINUTE = 1_000_000.0


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], Any]:
    """An argparse ``type`` accepting only numbers from ``low`` to ``high``, naming the range otherwise.

    A number out of range is a usage error at parsing time: never silently a default (0 used to
    mean "the default") nor a switch (a negative rate used to turn pacing off).
    """
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is out of range: expected {noun} from {_num(low)} to {_num(high)}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def add_desired_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "desired_dir",
        nargs="?",
        default="desired_state",
        metavar="DIR",
        help="desired-state folder (default: desired_state)",
    )


def add_format(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    p.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that talks to Genesys."""
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="EMAIL_OR_ID",
        help="limit the run to this entry (repeatable); an email matches case-insensitively, an id exactly",
    )
    p.add_argument("--allow-mass-change", action="store_true", help="lift the policy's change budget for this run only")
    ledger = p.add_mutually_exclusive_group()
    ledger.add_argument(
        "--ledger",
        metavar="PATH",
        help="audit ledger file (default: .reconciler/ledger.jsonl beside the desired-state folder)",
    )
    ledger.add_argument(
        "--no-ledger",
        action="store_true",
        help="keep no ledger (token revocation then relies on lastTokenIssued alone)",
    )
    add_read_options(p, "how to read live users: batched look-ups, a full listing, or whichever costs fewer calls")
    p.add_argument(
        "--concurrency",
        type=bounded(int, 1, MAX_CONCURRENCY),
        metavar="N",
        help=f"at most N requests in flight, 1 to {MAX_CONCURRENCY} (default: sized from the rate limit and "
        f"the measured latency, up to {Settings().max_concurrency})",
    )


def add_read_options(p: argparse.ArgumentParser, strategy_help: str) -> None:
    """How live users are read and paced: every verb that reads the org (plan, apply, run, propose)."""
    p.add_argument("--read-strategy", choices=("auto", "targeted", "listing"), default="auto", help=strategy_help)
    p.add_argument(
        "--requests-per-minute",
        type=bounded(float, 1, MAX_REQUESTS_PER_MINUTE),
        metavar="N",
        help=f"pace ceiling when Genesys sends no rate headers, 1 to {MAX_REQUESTS_PER_MINUTE:.0f} "
        f"(default {Settings().requests_per_minute:g})",
    )


def add_release(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--release",
        action="append",
        default=[],
        metavar="EMAIL_OR_ID",
        help="correct this held (flapping) user anyway, for this run only (repeatable)",
    )


def runtime_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None, **overrides: Any) -> Runtime:
    env = os.environ if env is None else env
    settings = Settings()
    # The parser has already refused anything out of range (see bounded()).
    if getattr(args, "concurrency", None) is not None:
        settings = replace(settings, concurrency=args.concurrency)
    if getattr(args, "requests_per_minute", None) is not None:
        settings = replace(settings, requests_per_minute=args.requests_per_minute)
    from reconciler.engine import Runtime
    from reconciler.genesys.config import connection_from_env

    connection = connection_from_env(env)
    _REDACTION.add(connection.secret_values)
    ledger = Path(args.ledger) if getattr(args, "ledger", None) else None
    options: dict[str, Any] = {
        "desired_dir": Path(args.desired_dir),
        "settings": settings,
        "connection": connection,
        "ledger_path": ledger,
        "use_ledger": not getattr(args, "no_ledger", False),
        "read_strategy": getattr(args, "read_strategy", "auto"),
    }
    options.update(overrides)
    return Runtime(**options)


def os_error_message(exc: OSError) -> str:
    """'PATH: cause' for an operating-system error, without Python's class names."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {cause}" if exc.filename is not None else cause


def check_port(port: int, option: str) -> int:
    """A TCP port number, or a ConfigError naming the option (0 picks a free port)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option} {port}: a port is a number from 0 to 65535")
    return port


def check_writable(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse, before any work, an output path that names a folder or a device."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"cannot write {what} {target}: it is a folder; name a file")
    if target.exists() and not target.is_file():
        raise ConfigError(f"cannot write {what} {target}: not a regular file")
    return target


def write_atomically(path: str | os.PathLike[str], text: str, what: str) -> Path:
    """Write a whole file or nothing: a half-written plan must never pass for a reviewed one.

    The temporary file sits beside the target (so the rename is atomic) and is
    removed on any failure, so a refused write leaves no stray file behind.
    """
    import tempfile  # here: it imports shutil, random and more, which validate and --help never need

    target = check_writable(path, what)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ConfigError(f"cannot write {what} {target}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


# Styles by what a line is (its tag, set by the renderer from the data), never by what it looks like.
STYLES = {
    "deactivate": "bold yellow",
    "reactivate": "bold cyan",
    "revoke": "bold red",
    "error": "red",
    "warning": "yellow",
    "failed": "bold red",
    "applied": "green",
    "ok": "green",
    "summary": "bold",
}


def colour_wanted(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (to anything: no-color.org)."""
    env = os.environ if env is None else env
    return stream.isatty() and "NO_COLOR" not in env


def emit(output: str | Sequence[Line], stream: TextIO | None = None) -> None:
    """Write a rendering. Lines carry tags: on a terminal, rich styles each line by its tag."""
    stream = stream or sys.stdout
    if isinstance(output, str) or not colour_wanted(stream):
        stream.write(output if isinstance(output, str) else visible_lines([line.text for line in output]))
        stream.flush()
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
    for line in output:
        # Text, never markup: a name such as "[bold]x" from a file or from Genesys prints as written.
        console.print(Text(visible(line.text), style=STYLES.get(line.tag, "")))


class _Redact(logging.Filter):
    """Last line of defence: no log line may carry a secret or a bearer token."""

    _TOKEN = re.compile(r"(Bearer\s+|access_token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]+")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def reset(self, secrets: Iterable[str]) -> None:
        self.secrets = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(dict.fromkeys((*self.secrets, *(s for s in secrets if s))))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._TOKEN.sub(r"\1***", message)
        for secret in self.secrets:
            clean = clean.replace(secret, "***")
        if clean != message:
            record.msg, record.args = clean, ()
        return True


class _TextFormatter(logging.Formatter):
    """One line per event whatever the message holds: names and errors from Genesys are made visible."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


# One filter for every handler configure_logging installs; the connection adds its secrets when it
# is built (runtime_from_args), so a secret that reached us by any route is masked.
_REDACTION = _Redact()

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus the structured fields of the event."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            # UTC with a Z, like every other time this tool writes: log shippers need no guess at the zone.
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(
    verbosity: int, log_format: str = "text", env: Mapping[str, str] | None = None, *, api_calls: bool | None = None
) -> None:
    """-v: info, including one line per API call; -vv: debug (retries, pacing, the journal).

    ``api_calls=False`` keeps the per-call lines off at info level (the service logs
    one line per event unless -v is given explicitly).
    """
    env = os.environ if env is None else env
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("reconciler: %(levelname)s: %(message)s"))
    _REDACTION.reset((env.get("GENESYSCLOUD_OAUTHCLIENT_SECRET", ""),))  # before any connection exists
    handler.addFilter(_REDACTION)
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG)
    root.propagate = False
    calls = logging.getLogger("reconciler.api")
    calls.setLevel(logging.NOTSET if api_calls is None or api_calls or verbosity >= 2 else logging.WARNING)
    # The scheduler's own warnings (a tick skipped because the previous one still runs) go the same way.
    scheduler = logging.getLogger("apscheduler")
    scheduler.handlers[:] = [handler]
    scheduler.setLevel(logging.WARNING)
    scheduler.propagate = False
