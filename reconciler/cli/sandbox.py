"""`reconciler sandbox`: serve a local fake Genesys Cloud org over HTTP on loopback.

Prints the environment to export (one ``export NAME=value`` line each), then
serves until interrupted. The org is generated deterministically from
``--seed``; with ``--state-file`` it survives restarts. Faults can be injected
from the start (``--fault``) or at any time through the test API.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from reconciler.cli.common import EXIT_OK, bounded, check_port
from reconciler.errors import ConfigError
from reconciler.sandbox.faults import Faults, RateLimit

# The org lives in memory: the bound keeps a typo (a zero too many) from exhausting it.
MAX_USERS = 1_000_000


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sandbox",
        help="serve a local fake Genesys Cloud org (no credentials, no network)",
        description="Serve a faithful local emulation of the Genesys Cloud endpoints reconciler "
        "uses, with a generated org, on 127.0.0.1.",
    )
    p.add_argument(
        "--port",
        type=bounded(int, 0, 65535),
        default=8765,
        help="port on 127.0.0.1, 0 to 65535 (default 8765; 0 picks a free one)",
    )
    p.add_argument(
        "--users",
        type=bounded(int, 1, MAX_USERS),
        default=500,
        help=f"users in the generated org, 1 to {MAX_USERS:,} (default 500)",
    )
    p.add_argument("--seed", type=int, default=7, help="seed for the generated org (default 7)")
    p.add_argument("--state-file", metavar="PATH", help="keep the org in this JSON file across restarts")
    p.add_argument(
        "--rate-limit",
        default="300/60s",
        metavar="N/WINDOW",
        help="requests allowed per token per window, e.g. 300/60s (default), 50/1s or 25/0.5s",
    )
    p.add_argument(
        "--ratelimit-headers",
        action="store_true",
        help="send inin-ratelimit-* headers (Genesys stopped sending them in 2021)",
    )
    p.add_argument(
        "--fractional-retry-after",
        action="store_true",
        help="for time-scaled runs: Retry-After in fractions of a second (Genesys sends whole seconds)",
    )
    p.add_argument(
        "--latency",
        type=bounded(float, 0, 60),
        default=0.0,
        metavar="SECONDS",
        help="added to every API request, 0 to 60 (default 0)",
    )
    p.add_argument(
        "--search-lag",
        type=bounded(float, 0, 3600),
        default=0.0,
        metavar="SECONDS",
        help="how far the search index lags behind writes, 0 to 3600 (default 0)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="inject faults, e.g. p_server_error=0.05, rate_limit_storm=20, expire_tokens_after=100, "
        "drop_after_write=3 (repeatable; see reconciler/sandbox/faults.py)",
    )
    p.set_defaults(run=run)


def parse_faults(items: list[str]) -> Faults:
    """`--fault NAME=VALUE` options -> Faults. Values are JSON (numbers, objects) or plain text."""
    changes: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--fault {item!r}: expected NAME=VALUE")
        try:
            changes[name.strip()] = json.loads(raw)
        except ValueError:
            changes[name.strip()] = raw
    faults = Faults()
    try:
        faults.update(changes)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--fault: {exc}") from None
    return faults


def run(args: argparse.Namespace) -> int:
    try:
        allowed, window = RateLimit.parse(args.rate_limit)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    from reconciler.sandbox.server import Sandbox  # the HTTP server is only needed by this command

    check_port(args.port, "--port")
    if args.state_file:
        folder = Path(args.state_file).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"--state-file {args.state_file}: the folder {folder} does not exist")
        if Path(args.state_file).is_dir():
            raise ConfigError(f"--state-file {args.state_file}: it is a folder; name a file")

    faults = parse_faults(args.fault)
    faults.latency = args.latency or faults.latency
    limit = RateLimit(
        allowed=allowed,
        window=window,
        send_headers=args.ratelimit_headers,
        whole_seconds=not args.fractional_retry_after,
    )
    try:
        sandbox = Sandbox(
            users=args.users,
            seed=args.seed,
            port=args.port,
            state_file=args.state_file,
            rate_limit=limit,
            faults=faults,
            search_lag=args.search_lag,
        )
    except OSError as exc:
        raise ConfigError(f"cannot serve the sandbox on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a state file that is not the sandbox's JSON
        raise ConfigError(f"--state-file {args.state_file}: not a sandbox state file ({exc})") from None
    sandbox.start()
    for name, value in sandbox.env.items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    sys.stderr.write(
        f"sandbox: {len(sandbox.org.users)} users at {sandbox.base_url}; "
        f"test API at {sandbox.base_url}/_sandbox/ ; Ctrl-C to stop\n"
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.close()
    return EXIT_OK
