"""`reconciler run`: reconcile on a schedule, for weeks on end, without attention.

Effectful. Each tick goes through the same engine as `plan` and `apply`
(there is no side path that writes to Genesys): optionally ``git pull
--ff-only``, reload the files, plan, apply within the guardrails, record the
ledger. ``report_only`` plans and reports without applying.

Scheduling is APScheduler 3.x with ``max_instances=1`` (a slow tick delays
the next one, never runs beside it), ``coalesce=True`` (missed ticks collapse
into one) and optional jitter (many deployments do not hit Genesys in step).
A failing tick is logged, counted and notified, and the next tick tries
again; the service itself only stops on SIGTERM/SIGINT, after the user being
written has been finished and the ledger closed.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from reconciler.core.results import Outcome
from reconciler.engine import Runtime
from reconciler.errors import ApiError, DesiredStateError, ReconcilerError
from reconciler.service.metrics import Metrics
from reconciler.service.notify import Notifier

__all__ = ["EXIT_DRIFT", "Schedule", "Service", "TickReport"]

log = logging.getLogger("reconciler.service")

EXIT_DRIFT = 2


@dataclass(frozen=True)
class Schedule:
    every: float | None = None  # seconds
    cron: str | None = None
    jitter: float = 0.0

    def trigger(self) -> IntervalTrigger | CronTrigger:
        if self.cron:
            trigger = CronTrigger.from_crontab(self.cron, timezone=UTC)
            trigger.jitter = int(self.jitter) if self.jitter else None
            return trigger
        return IntervalTrigger(seconds=self.every or 900, jitter=self.jitter or None, timezone=UTC)

    def period(self) -> float:
        """Seconds between two ticks (for health): the interval, or the gap between two cron firings."""
        if not self.cron:
            return float(self.every or 900)
        trigger = CronTrigger.from_crontab(self.cron, timezone=UTC)
        first = trigger.get_next_fire_time(None, datetime.now(UTC))
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return (second - first).total_seconds() if first and second else 3600.0


@dataclass
class TickReport:
    number: int
    code: int = 0  # 0 converged, 1 failed, 2 drift found (report-only)
    changes: int = 0
    applied: int = 0
    failed: int = 0
    reason: str | None = None
    users: list[str] = field(default_factory=list)


class Service:
    def __init__(
        self,
        runtime: Runtime,
        schedule: Schedule,
        *,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        report_only: bool = False,
        git_pull: bool = False,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.schedule = schedule
        self.metrics = metrics or Metrics()
        self.notifier = notifier or Notifier(None)
        self.report_only = report_only
        self.git_pull = git_pull
        self.wall = wall
        self.stopping = threading.Event()
        self.started_at = wall()
        self.last_finished: float | None = None
        self.ticks = 0
        runtime.client().stats.listeners.append(self.metrics.record_api)

    # --- health -------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Healthy while the last tick finished within two scheduling periods (or since start)."""
        since = self.last_finished if self.last_finished is not None else self.started_at
        age = self.wall() - since
        limit = 2 * self.schedule.period()
        what = "last tick finished" if self.last_finished is not None else "started, no tick finished yet,"
        return age <= limit, f"{what} {age:.1f}s ago (limit {limit:.0f}s)"

    # --- one tick ---------------------------------------------------------------------

    def tick(self) -> TickReport:
        self.ticks += 1
        report = TickReport(self.ticks)
        started = time.monotonic()
        log.info("tick %d started", report.number, extra={"event": "tick_started", "tick": report.number})
        try:
            self._tick(report)
        except DesiredStateError as exc:
            self._failed(report, "invalid_files", f"the desired-state files are invalid: {exc}")
        except ApiError as exc:
            self._failed(report, "api", f"Genesys Cloud API: {exc}")
        except ReconcilerError as exc:
            self._failed(report, "error", str(exc))
        except Exception as exc:  # a service must outlive its bugs; the next tick tries again
            log.exception("tick %d crashed", report.number, extra={"event": "tick_crashed"})
            self._failed(report, "crash", f"{type(exc).__name__}: {exc}")
        finally:
            duration = time.monotonic() - started
            self.last_finished = self.wall()
            self.metrics.last_tick.set(self.last_finished)
            self.metrics.duration.observe(duration)
            outcome = "ok" if report.code != 1 else "failed"
            self.metrics.ticks.labels(outcome=outcome).inc()
            if report.code != 1:
                self.metrics.last_success.set(self.last_finished)
            log.info(
                "tick %d finished: %s, %d change(s) planned, %d applied, %d failed (%.2fs)",
                report.number,
                outcome,
                report.changes,
                report.applied,
                report.failed,
                duration,
                extra={
                    "event": "tick_finished",
                    "tick": report.number,
                    "outcome": outcome,
                    "changes": report.changes,
                    "applied": report.applied,
                    "failed": report.failed,
                },
            )
        return report

    def _tick(self, report: TickReport) -> None:
        if self.git_pull:
            self._pull()
        plan = self.runtime.plan().plan
        users = list(dict.fromkeys(c.email or c.user_id for c in plan.changes))
        report.changes, report.users = len(plan.changes), users
        if users:
            self.metrics.drift.inc(len(users))
            log.info(
                "%d user(s) differ from the desired state: %s",
                len(users),
                ", ".join(users[:20]),
                extra={"event": "drift_detected", "users": users},
            )
        if plan.has_errors:
            messages = "; ".join(p.message for p in plan.errors[:5])
            self._failed(report, "plan_errors", f"the plan has {len(plan.errors)} error(s): {messages}")
            return
        if not plan.changes:
            return
        if self.report_only:
            report.code = EXIT_DRIFT
            self.notifier.send(
                "drift_detected",
                f"{len(users)} user(s) differ from the desired state (report-only; "
                f"nothing changed): {', '.join(users[:10])}",
                users=users,
            )
            return
        result = self.runtime.apply(plan, should_stop=self.stopping.is_set)
        for r in result.results:
            self.metrics.changes.labels(action=r.change.action.value, outcome=r.outcome.value).inc()
        report.applied = result.count(Outcome.APPLIED)
        report.failed = result.count(Outcome.FAILED)
        if not result.ok and not result.interrupted:
            self._failed(report, "apply_failed", f"{report.failed} change(s) failed")
            return
        fixed = sorted({r.change.email or r.change.user_id for r in result.results if r.outcome is Outcome.APPLIED})
        if fixed:
            self.notifier.send(
                "drift_corrected",
                f"brought {len(fixed)} user(s) back to the desired state: {', '.join(fixed[:10])}",
                users=fixed,
            )

    def _pull(self) -> None:
        folder = str(self.runtime.desired_dir)
        try:
            done = subprocess.run(
                ["git", "-C", folder, "pull", "--ff-only", "--quiet"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            ok, why = done.returncode == 0, (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        except (OSError, subprocess.SubprocessError) as exc:
            ok, why = False, [str(exc)]
        if not ok:
            self.metrics.failures.labels(reason="git_pull").inc()
            log.warning(
                "git pull --ff-only failed (%s); keeping the last good state on disk",
                why[0],
                extra={"event": "git_pull_failed"},
            )
            self.notifier.send("git_pull_failed", f"git pull failed ({why[0]}); using the last good state")

    def _failed(self, report: TickReport, reason: str, message: str) -> None:
        report.code, report.reason = 1, reason
        self.metrics.failures.labels(reason=reason).inc()
        log.error("tick %d failed: %s", report.number, message, extra={"event": "tick_failed", "reason": reason})
        self.notifier.send("tick_failed", f"tick {report.number} failed: {message}", reason=reason)

    # --- the loop -----------------------------------------------------------------

    def run_forever(self) -> None:
        """Tick now, then on schedule, until ``stop()``; the tick in flight is allowed to finish."""
        scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        scheduler.add_job(self.tick, self.schedule.trigger(), id="reconcile", next_run_time=datetime.now(UTC))
        scheduler.start()
        log.info("service started: %s", self._describe(), extra={"event": "service_started"})
        try:
            self.stopping.wait()
        finally:
            log.info("stopping: finishing the write in flight", extra={"event": "service_stopping"})
            scheduler.shutdown(wait=True)
            log.info("service stopped after %d tick(s)", self.ticks, extra={"event": "service_stopped"})

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def _describe(self) -> str:
        when = f"cron {self.schedule.cron!r}" if self.schedule.cron else f"every {self.schedule.every:g}s"
        jitter = f" (jitter up to {self.schedule.jitter:g}s)" if self.schedule.jitter else ""
        mode = "report-only" if self.report_only else "apply"
        return f"{when}{jitter}, {mode}, desired state {self.runtime.desired_dir}"
