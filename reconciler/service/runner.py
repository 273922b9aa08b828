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

When Genesys cannot be reached or refuses most writes, the service backs off
(backoff.py): ticks are skipped for twice the period, then four times, up to
``--max-backoff``, with one notification; the first good tick ends it. Drift
is logged and notified with who made it; users held for flapping are notified
once per hold, not every tick.
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

from reconciler.core.plan import Plan
from reconciler.core.results import ApplyResult, Outcome
from reconciler.engine import Runtime
from reconciler.errors import ApiError, DesiredStateError, ReconcilerError
from reconciler.service.backoff import Backoff, TickHealth
from reconciler.service.diagnosis import auth_fix, is_unreachable
from reconciler.service.metrics import Metrics
from reconciler.service.notify import Notifier
from reconciler.service.status import ServiceStatus

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
    held: list[str] = field(default_factory=list)
    skipped: bool = False  # not run: the service is backing off
    unreachable: bool = False  # Genesys could not be reached, or refused the credentials or a permission
    fix: str | None = None  # for an auth failure: the variable or permission to fix
    message: str | None = None  # why it failed


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
        max_backoff: float = 3600.0,
    ) -> None:
        self.runtime = runtime
        self.schedule = schedule
        self.metrics = metrics or Metrics()
        self.notifier = notifier or Notifier(None)
        self.report_only = report_only
        self.git_pull = git_pull
        self.wall = wall
        self.stopping = threading.Event()
        self.state = ServiceStatus(started_at=wall(), period=schedule.period())
        self.backoff = Backoff(period=schedule.period(), max_delay=max(max_backoff, 0.0))
        self.held_notified: set[str] = set()  # users whose current hold was already notified
        self.held_now: list[str] = []
        runtime.client().stats.listeners.append(self.metrics.record_api)

    # --- health -------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Liveness: the last tick finished within two scheduling periods (or since start)."""
        return self.state.live(self.wall())

    def ready(self) -> tuple[bool, str]:
        """Readiness: the last tick did not fail (a failing tick is for people, not for a restart)."""
        return self.state.ready()

    def status(self) -> dict[str, Any]:
        """The status document (GET /status): health, the last tick's outcome, backoff and held users."""
        healthy, detail = self.health()
        return {
            "healthy": healthy,
            "detail": detail,
            "last_tick_finished": self.state.last_finished,
            **self.state.as_dict(self.wall()),
            "backoff": self.backoff.as_dict(),
            "held": list(self.held_now),
        }

    # --- one tick ---------------------------------------------------------------------

    def scheduled(self) -> TickReport:
        """What the scheduler runs: a tick, unless the service is backing off."""
        if self.backoff.waiting(self.wall()):
            # Alive and deliberately waiting: counts as a finished tick for liveness.
            self.state.last_finished = self.wall()
            log.info(
                "backing off: tick skipped (%.0fs between ticks after %d bad tick(s): %s)",
                self.backoff.delay,
                self.backoff.bad_ticks,
                self.backoff.reason,
                extra={"event": "tick_skipped", "backoff_seconds": self.backoff.delay},
            )
            return TickReport(self.state.ticks, skipped=True)
        return self.tick()

    def tick(self) -> TickReport:
        """Run one tick now (the scheduler goes through ``scheduled``; --once and tests call this)."""
        self.state.ticks += 1
        report = TickReport(self.state.ticks)
        started = time.monotonic()
        log.info("tick %d started", report.number, extra={"event": "tick_started", "tick": report.number})
        try:
            self._tick(report)
        except DesiredStateError as exc:
            self._failed(report, "invalid_files", f"the desired-state files are invalid: {exc}")
        except ApiError as exc:
            report.unreachable, report.fix = is_unreachable(exc), auth_fix(exc)
            self._failed(report, "api", f"Genesys Cloud API: {exc}")
        except ReconcilerError as exc:
            self._failed(report, "error", str(exc))
        except Exception as exc:  # a service must outlive its bugs; the next tick tries again
            log.exception("tick %d crashed", report.number, extra={"event": "tick_crashed"})
            self._failed(report, "crash", f"{type(exc).__name__}: {exc}")
        finally:
            duration = time.monotonic() - started
            finished = self.wall()
            self.state.record(report.code, report.reason, report.message, finished)
            self.metrics.last_tick.set(finished)
            self.metrics.duration.observe(duration)
            outcome = "ok" if report.code != 1 else "failed"
            self.metrics.ticks.labels(outcome=outcome).inc()
            self.metrics.last_ok.set(0 if report.code == 1 else 1)
            if report.code != 1:
                self.metrics.last_success.set(finished)
            self._back_off(report)
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
        self._held(plan, report)
        if users:
            self.metrics.drift.inc(len(users))
            actors = _actors(plan)
            for c in plan.changes:
                if c.changed_by is not None:
                    self.metrics.drift_by.labels(kind="own" if c.changed_by.own else c.changed_by.kind).inc()
            log.info(
                "%d user(s) differ from the desired state: %s",
                len(users),
                ", ".join(actors.get(u, u) for u in users[:20]),
                extra={"event": "drift_detected", "users": users, "changed_by": actors},
            )
        if plan.has_errors:
            messages = "; ".join(p.message for p in plan.errors[:5])
            codes = {p.code for p in plan.errors}
            report.unreachable = codes == {"user.read_failed"}  # every read failed: Genesys is not answering
            self._failed(report, "plan_errors", f"the plan has {len(plan.errors)} error(s): {messages}")
            return
        if not plan.changes:
            return
        actors = _actors(plan)
        if self.report_only:
            report.code = EXIT_DRIFT
            self.notifier.send(
                "drift_detected",
                f"{len(users)} user(s) differ from the desired state (report-only; "
                f"nothing changed): {', '.join(actors.get(u, u) for u in users[:10])}",
                users=users,
                changed_by=actors,
            )
            return
        result = self.runtime.apply(
            plan, should_stop=lambda: "the service is stopping" if self.stopping.is_set() else None
        )
        for r in result.results:
            self.metrics.changes.labels(action=r.change.action.value, outcome=r.outcome.value).inc()
        report.applied = result.count(Outcome.APPLIED)
        report.failed = result.count(Outcome.FAILED)
        if not result.ok and not result.interrupted:
            report.fix = auth_fix(errors=_errors(result))
            self._failed(report, "apply_failed", f"{report.failed} change(s) failed")
            return
        fixed = sorted({r.change.email or r.change.user_id for r in result.results if r.outcome is Outcome.APPLIED})
        if fixed:
            self.notifier.send(
                "drift_corrected",
                f"brought {len(fixed)} user(s) back to the desired state: "
                f"{', '.join(actors.get(u, u) for u in fixed[:10])}",
                users=fixed,
                changed_by={u: a for u, a in actors.items() if u in fixed},
            )

    def _held(self, plan: Plan, report: TickReport) -> None:
        """Count held users; notify once per user per hold (a user no longer held can be notified again)."""
        report.held = [h.email or h.user_id for h in plan.held]
        self.held_now = report.held
        self.metrics.held.set(len(plan.held))
        current = {h.user_id for h in plan.held}
        self.held_notified &= current
        for h in plan.held:
            if h.user_id in self.held_notified:
                continue
            self.held_notified.add(h.user_id)
            log.warning(
                "held: %s: %s", h.email or h.user_id, h.message, extra={"event": "user_held", "user_id": h.user_id}
            )
            self.notifier.send(
                "user_held",
                f"{h.email or h.user_id} is held, not corrected: {h.message}",
                user=h.email or h.user_id,
                changed_by=h.changed_by.as_dict(),
            )

    def _back_off(self, report: TickReport) -> None:
        health = TickHealth(
            unreachable=report.unreachable,
            attempted=report.applied + report.failed,
            failed=report.failed,
            reason=report.reason,
        )
        settings = self.runtime.settings
        was_backing_off = self.backoff.active
        change = self.backoff.record(
            health, self.wall(), failed_ratio=settings.backoff_failed_ratio, min_writes=settings.backoff_min_writes
        )
        self.metrics.backoff.set(self.backoff.delay)
        if change != "started":
            # While backing off the first message said it all; a failure of another kind still tells.
            if report.code == 1 and (not was_backing_off or change == "ended"):
                self.notifier.send(
                    "tick_failed",
                    f"tick {report.number} failed: {report.message}",
                    reason=report.reason,
                    fix=report.fix,
                )
            if change == "ended":
                log.info("back on the normal schedule", extra={"event": "backoff_ended"})
            return
        fix = f" To fix: {report.fix}." if report.fix else ""
        why = "Genesys could not be reached" if report.unreachable else "Genesys refused most writes"
        log.error(
            "backing off: the next tick waits %.0fs (doubling up to %.0fs) because %s",
            self.backoff.delay,
            self.backoff.max_delay,
            why,
            extra={"event": "backoff_started", "backoff_seconds": self.backoff.delay},
        )
        self.notifier.send(
            "backoff_started",
            f"backing off: {why}: tick {report.number} failed: {report.message or report.reason}; the next tick "
            f"waits {self.backoff.delay:.0f}s, doubling up to {self.backoff.max_delay:.0f}s.{fix}",
            backoff_seconds=self.backoff.delay,
            reason=report.reason,
            fix=report.fix,
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
        """Record and log a failed tick; _back_off decides what to notify (one message per episode)."""
        report.code, report.reason = 1, reason
        if report.fix:
            message += f". To fix: {report.fix}"
        report.message = message
        self.metrics.failures.labels(reason=reason).inc()
        log.error("tick %d failed: %s", report.number, message, extra={"event": "tick_failed", "reason": reason})

    # --- the loop -----------------------------------------------------------------

    def run_forever(self) -> None:
        """Tick now, then on schedule, until ``stop()``; the tick in flight is allowed to finish."""
        scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        scheduler.add_job(self.scheduled, self.schedule.trigger(), id="reconcile", next_run_time=datetime.now(UTC))
        scheduler.start()
        log.info("service started: %s", self._describe(), extra={"event": "service_started"})
        try:
            self.stopping.wait()
        finally:
            log.info("stopping: finishing the write in flight", extra={"event": "service_stopping"})
            scheduler.shutdown(wait=True)
            log.info("service stopped after %d tick(s)", self.state.ticks, extra={"event": "service_stopped"})

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def _describe(self) -> str:
        when = f"cron {self.schedule.cron!r}" if self.schedule.cron else f"every {self.schedule.every:g}s"
        jitter = f" (jitter up to {self.schedule.jitter:g}s)" if self.schedule.jitter else ""
        mode = "report-only" if self.report_only else "apply"
        return f"{when}{jitter}, {mode}, desired state {self.runtime.desired_dir}"


def _actors(plan: Plan) -> dict[str, str]:
    """'jane@example.com (reactivated by OAuth client Okta (5a6b…))' per drifted user, for logs and notifications."""
    out: dict[str, str] = {}
    for c in plan.changes:
        if c.changed_by is not None:
            who = c.email or c.user_id
            out[who] = f"{who} (changed by {c.changed_by.describe()})"
    return out


def _errors(result: ApplyResult) -> list[dict[str, Any]]:
    return [r.error for r in result.results if r.outcome is Outcome.FAILED and r.error]
