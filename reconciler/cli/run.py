"""`reconciler run [DIR] --every 15m | --cron EXPR`: reconcile on a schedule, as a service.

Each tick reloads the files (after ``git pull --ff-only`` with ``--git-pull``),
plans, and applies within the guardrails; ``--report-only`` only reports.
``--once`` runs one tick and exits with its code (0 done, 1 failed, 2 drift
found in report-only mode), for cron and Kubernetes CronJobs. SIGTERM and
SIGINT let the write in flight finish, then exit 0.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.cli.common import EXIT_OK, add_desired_dir, add_run_options, bounded, check_port, runtime_from_args
from reconciler.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(text: str) -> float:
    """'30s', '15m', '1h', '0.5s' or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{text!r} is not a duration: use seconds, minutes or hours, e.g. 30s, 15m, 1h")
    if float(match.group(1)) <= 0:
        raise ConfigError(f"{text!r}: the interval must be positive, e.g. 30s, 15m, 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# The longest interval or jitter that makes sense for a controller of user access: a week.
MAX_DURATION = 7 * 24 * 3600.0


def _duration(*, zero_ok: bool) -> Callable[[str], float]:
    """An argparse ``type`` for durations, refusing an unparsable or out-of-range one at parsing time."""
    span = "from 0 to 7 days" if zero_ok else "above 0 and at most 7 days"

    def parse(text: str) -> float:
        if zero_ok and text.strip() in ("0", "0s", "0m", "0h"):
            return 0.0
        try:
            seconds = parse_duration(text)
        except ConfigError:
            seconds = -1.0
        if not 0 < seconds <= MAX_DURATION:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: expected a duration {span}, e.g. 30s, 15m, 1h")
        return seconds

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="reconcile on a schedule (a long-running service), correcting drift",
        description="Every interval: reload the desired-state files, plan, and apply within the guardrails. "
        "Ticks never overlap; missed ticks coalesce; a failed tick is retried at the next one.",
    )
    add_desired_dir(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--every",
        type=_duration(zero_ok=False),
        metavar="DURATION",
        help="interval between ticks: 30s, 15m, 1h, at most 7 days (default 15m)",
    )
    when.add_argument("--cron", metavar="EXPR", help='a crontab schedule in UTC, e.g. "*/15 * * * *"')
    p.add_argument(
        "--jitter",
        type=_duration(zero_ok=True),
        metavar="DURATION",
        default=0.0,
        help="delay each tick by up to this much, so many deployments spread out (default 0s)",
    )
    p.add_argument("--once", action="store_true", help="run exactly one tick and exit with its code")
    p.add_argument(
        "--max-backoff",
        metavar="DURATION",
        default="1h",
        help="when Genesys is unreachable or refuses most writes, wait longer between ticks (doubling each "
        "bad tick) up to this much (default 1h)",
    )
    p.add_argument("--report-only", action="store_true", help="detect and report drift; change nothing")
    p.add_argument(
        "--git-pull", action="store_true", help="git pull --ff-only the desired-state folder before each tick"
    )
    p.add_argument(
        "--metrics-port",
        type=bounded(int, 0, 65535),
        metavar="PORT",
        help="serve /metrics, /healthz (liveness), /readyz (last tick ok) and /status (JSON) on this port "
        "(0 to 65535; 0 picks a free one)",
    )
    p.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    p.add_argument(
        "--notify-webhook",
        metavar="URL",
        default=os.environ.get("RECONCILER_NOTIFY_WEBHOOK"),
        help="POST a short JSON (with Slack-compatible text) when drift is corrected or a tick fails "
        "(default: $RECONCILER_NOTIFY_WEBHOOK, which keeps a secret URL out of process listings)",
    )
    add_run_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the scheduler and Prometheus are only needed by this command.
    from reconciler.service.metrics import HealthServer, Metrics
    from reconciler.service.notify import Notifier
    from reconciler.service.runner import Schedule, Service

    webhook = (args.notify_webhook or "").strip() or None
    if webhook and not webhook.startswith(("https://", "http://")):
        raise ConfigError("--notify-webhook (or RECONCILER_NOTIFY_WEBHOOK) must be an http(s) URL")
    if args.cron:
        try:
            trigger = Schedule(cron=args.cron).trigger()
        except ValueError as exc:
            raise ConfigError(f"--cron {args.cron!r}: {exc}") from None
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
            # e.g. "0 0 30 2 *": a service that never ticks would look healthy and do nothing.
            raise ConfigError(f"--cron {args.cron!r} never fires (no date matches it); check the day and month")
    schedule = Schedule(
        every=(args.every or parse_duration("15m")) if not args.cron else None,
        cron=args.cron,
        jitter=args.jitter,
    )
    if args.metrics_port is not None:
        check_port(args.metrics_port, "--metrics-port")
    runtime = runtime_from_args(args)
    metrics = Metrics()
    notifier = Notifier(webhook)
    service = Service(
        runtime,
        schedule,
        metrics=metrics,
        notifier=notifier,
        report_only=args.report_only,
        git_pull=args.git_pull,
        max_backoff=parse_duration(args.max_backoff),
    )
    server = None
    if args.metrics_port is not None:
        try:
            server = HealthServer(
                metrics,
                service.health,
                ready=service.ready,
                status=service.status,
                host=args.metrics_host,
                port=args.metrics_port,
            ).start()
        except OSError as exc:
            runtime.close()
            raise ConfigError(
                f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: {exc.strerror or exc}"
            ) from None
        sys.stderr.write(f"reconciler: metrics on http://{args.metrics_host}:{server.port}/metrics\n")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, service.stop)
    try:
        if args.once:
            return service.tick().code
        service.run_forever()
        return EXIT_OK
    finally:
        if server is not None:
            server.close()
        notifier.close()
        runtime.close()
