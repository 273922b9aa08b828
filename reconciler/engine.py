"""The one orchestration: desired -> live -> plan -> apply. The CLI and the scheduler both call it.

Effectful glue, no decisions of its own: each step is a stage module. It owns
the things a run shares: the settings, the clock, the API client, the ledger
location and the git commit the desired state came from.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from reconciler.core import collector
from reconciler.core.desired import load_desired
from reconciler.core.drift import drifted
from reconciler.core.history import History
from reconciler.core.model import DesiredEntry, DesiredState, LiveState, LiveUser
from reconciler.core.plan import Plan, Problem, build, select_targets
from reconciler.core.progress import NoProgress, Progress
from reconciler.core.results import ApplyResult, StopCheck
from reconciler.core.settings import Settings
from reconciler.errors import LedgerError, StalePlan
from reconciler.genesys.attribution import Attribution, attribute
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import Connection
from reconciler.genesys.live import estimate_targeted_calls, read_live
from reconciler.genesys.session import ApiSession
from reconciler.ledger import Ledger, compact, default_ledger_path, new_warnings, read_history

__all__ = ["PlanRun", "Runtime", "git_commit"]

log = logging.getLogger("reconciler.engine")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def git_commit(folder: str | os.PathLike[str]) -> str | None:
    """The commit the desired-state folder is at (with '+dirty' if it has local changes), if in git."""
    try:
        head = subprocess.run(
            ["git", "-C", os.fspath(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", os.fspath(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit + ("+dirty" if dirty.stdout.strip() else "")


@dataclass(frozen=True)
class PlanRun:
    desired: DesiredState
    live: LiveState
    plan: Plan


@dataclass
class Runtime:
    """What one invocation shares. Tests inject ``transport``, ``clock`` and ``sleep``."""

    desired_dir: Path
    settings: Settings = field(default_factory=Settings)
    connection: Connection | None = None
    ledger_path: Path | None = None  # None: no ledger (the token rule falls back to the 48 h window)
    use_ledger: bool = True
    read_strategy: str = "auto"
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], datetime] = _utcnow
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    ledger_read_error: str | None = None  # set when the ledger could not be read for a plan
    progress: Progress = field(default_factory=NoProgress)
    _client: GenesysClient | None = None

    def __post_init__(self) -> None:
        if self.use_ledger and self.ledger_path is None:
            self.ledger_path = default_ledger_path(self.desired_dir)

    # --- the stages -----------------------------------------------------------------

    def load(self) -> DesiredState:
        return load_desired(self.desired_dir, self.settings)

    def client(self) -> GenesysClient:
        if self._client is None:
            if self.connection is None:
                raise RuntimeError("no connection configured")
            session = ApiSession(
                self.connection, self.settings, transport=self.transport, clock=self.monotonic, sleep=self.sleep
            )
            self._client = GenesysClient(session)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def history(self) -> History:
        """What the ledger says (empty without one); torn or unreadable records are logged.

        A ledger that cannot be read is reported (and fails a later apply), never fatal: the plan is
        then made as without a ledger, whose revocation rule (lastTokenIssued within the longest
        token lifetime) covers a lost journal.
        """
        self.ledger_read_error = None
        if not self.use_ledger or self.ledger_path is None:
            return History()
        try:
            read = read_history(self.ledger_path)  # the summary plus what was appended since, not every record
        except LedgerError as exc:
            self.ledger_read_error = str(exc)
            log.error("audit ledger: %s; planning as without a ledger", exc, extra={"event": "ledger_failed"})
            return History()
        for warning in new_warnings(self.ledger_path, read.warnings):  # once each; `audit` lists them all
            log.warning("ledger: %s", warning)
        return read.history

    def attribute(self, history: History, live: LiveState | dict[str, LiveUser]) -> Attribution:
        """Who moved each drifted user (the audit API; no call when nothing drifted)."""
        users = live.users if isinstance(live, LiveState) else live
        drifts = drifted(history, users)
        # The audit trail's times are Genesys's: measure on its clock when an answer told us the time.
        genesys_now = self.client().session.server_time
        return attribute(
            self.client(),
            drifts,
            now=genesys_now or self.clock(),
            own_client_id=self.connection.client_id if self.connection else None,
            settings=self.settings,
        )

    @collector.paused()  # loading, reading and planning make no garbage cycles worth a scan
    def plan(
        self,
        desired: DesiredState | None = None,
        *,
        targets: tuple[str, ...] = (),
        allow_mass_change: bool = False,
        release: tuple[str, ...] = (),
        attribution: Attribution | None = None,
    ) -> PlanRun:
        """``attribution``: already asked of the audit trail (drift does), so it is not asked twice."""
        desired = desired or self.load()
        history = self.history()
        chosen, _ = select_targets(desired.entries, targets)  # build() reports targets that match nothing
        live = self._read(chosen, need_active_count=desired.policy.max_changes_percent is not None)
        attribution = attribution if attribution is not None else self.attribute(history, live)
        notes = (
            (Problem("warning", "drift.unattributed", attribution.warning),) if attribution.warning is not None else ()
        )
        now = self.clock()
        # Effective instants are ours (the files'); token issue times are Genesys's, so their
        # window is measured on Genesys's clock when an answer told us the time.
        genesys_now = self.client().session.server_time or now
        plan = build(
            desired,
            live,
            now=now,
            history=history,
            targets=targets,
            allow_mass_change=allow_mass_change,
            token_window_start=genesys_now - self.settings.max_token_lifetime,
            attribution=attribution.by_user,
            release=release,
            notes=notes,
        )
        return PlanRun(desired, live, plan)

    def _read(self, chosen: Sequence[DesiredEntry], *, need_active_count: bool) -> LiveState:
        """read_live, with each API call counted as a step of the "reading users" phase."""
        ids = {e.id for e in chosen if e.id}
        emails = {e.email_key for e in chosen if e.id is None and e.email_key}
        self.progress.phase("reading users", estimate_targeted_calls(len(ids), len(emails), self.settings))
        stats = self.client().stats
        step = self._step
        stats.listeners.append(step)
        try:
            return read_live(
                self.client(),
                chosen,
                settings=self.settings,
                need_active_count=need_active_count,
                strategy=self.read_strategy,
            )
        finally:
            stats.listeners.remove(step)
            self.progress.done()

    def _step(self, endpoint: str, status: int) -> None:
        self.progress.advance(1)

    def verify_saved(self, saved: Plan) -> Plan:
        """Plan again from the files and the live org; the new plan if it equals ``saved``, else StalePlan.

        The saved plan's targets, --allow-mass-change and --release are the options it was made with
        (recorded in the file); everything else (the folder, the policy, the budget, who is who, what is due) comes
        from the files and the org now. Raises DesiredStateError for files that no longer load.
        """
        from reconciler.core.saved import differences  # imported by the one verb that needs it

        fresh = self.plan(targets=saved.targets, allow_mass_change=saved.allow_mass_change, release=saved.release).plan
        reasons = differences(saved, fresh)
        if reasons:
            raise StalePlan(
                f"the saved plan is not what the files and the org call for now ({len(reasons)} difference(s)); "
                f"nothing was applied. Make a new plan and review it",
                tuple(reasons),
            )
        return fresh

    def apply(self, plan: Plan, *, should_stop: StopCheck = lambda: None) -> ApplyResult:
        """Make the plan's changes, journalled in the ledger. A ledger failure never stops a write.

        A ledger that cannot be opened, written or flushed is counted in ``ledger_failures`` with
        its path and cause in ``ledger_error`` (so the run fails), while every write goes on.
        """
        from reconciler.genesys.apply import execute  # not imported by plan, drift or the service's dry runs

        if not self.use_ledger or self.ledger_path is None:
            try:
                return execute(
                    plan, self.client(), settings=self.settings, should_stop=should_stop, progress=self.progress
                )
            finally:
                self.progress.done()
        # The commit is only recorded in the ledger: no git call without one.
        ledger = Ledger(self.ledger_path, commit=git_commit(self.desired_dir), clock=self.clock)
        with contextlib.suppress(LedgerError):
            ledger.open()  # on failure every append raises the same error, which apply reports per record
        failures: list[str] = [self.ledger_read_error] if self.ledger_read_error else []
        try:
            result = execute(
                plan,
                self.client(),
                settings=self.settings,
                ledger=ledger,
                should_stop=should_stop,
                progress=self.progress,
            )
        finally:
            self.progress.done()
            try:
                ledger.close()
            except LedgerError as exc:
                log.error("audit ledger: %s", exc, extra={"event": "ledger_failed"})
                failures.append(str(exc))
        self.compact_ledger()
        if not failures:
            return result
        return replace(
            result,
            ledger_failures=result.ledger_failures + len(failures),
            ledger_error=result.ledger_error or failures[0],
        )

    def compact_ledger(self) -> None:
        """Refresh the ledger summary when enough history has grown since it; a failure is only logged.

        After the run, never during it: the writes and their journal come first, and a
        summary that cannot be written costs the next plan time, never a record.
        """
        if self.ledger_path is None:
            return
        try:
            compact(self.ledger_path)
        except (LedgerError, OSError) as exc:
            log.warning("ledger summary not refreshed: %s", exc)
