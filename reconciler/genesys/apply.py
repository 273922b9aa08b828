"""Stage 4: execute a Plan -> ApplyResult. Writes to Genesys and to the ledger.

Apply consumes the plan as it is; it never re-plans. It branches on the
action only. For each user (several users at once, as many as the rate
limit needs at the measured latency: workers.py) it runs that user's changes in order: the state
change first, then the token revoke, so a deactivated user cannot log in
again between the two.

Apply checks its input and its output:

* the PATCH carries the version the plan read; a version conflict means
  someone else changed the user. We re-read it and re-decide that one change:
  already in the target state -> ``skipped`` (nothing to do); still in the
  planned ``before`` state -> PATCH again with the new version (at most
  ``settings.conflict_retries`` times); anything else -> ``failed``, untouched;
* after a PATCH, the user Genesys returns must be in the state we asked for,
  or the change is ``failed`` as an inconsistent result.

One user's failure never stops the others: each change ends ``applied``,
``failed`` (with the API error) or ``skipped`` (with why). Whether a failed
state change landed is decided by Genesys's answer (``ApiError.nothing_changed``),
never by the exception class: only a definite 4xx refusal proves nothing
changed, and only then is the user's revoke skipped; after a 5xx of any kind,
a 3xx, a timeout, a dropped connection or a body we cannot parse the PATCH
may have landed, so the sessions are ended anyway. A PATCH whose first answer
was lost and whose retry is refused as stale, with the user now in the target
state, landed: it is ``applied``, not ``skipped``.

A stop condition (``should_stop``: a signal, a service shutting down) is asked
before each user begins: once it gives a reason, no new user starts, the users
in flight finish both their writes, and the rest are ``skipped`` with that
reason. A ledger that cannot be written is reported and fails the run, but
never stops a lock-out.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.core import collector
from reconciler.core.instants import utc_iso
from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan
from reconciler.core.progress import NoProgress, Progress
from reconciler.core.results import UNREACHABLE, ApplyResult, Outcome, Result, StopCheck, not_started
from reconciler.core.settings import Settings
from reconciler.errors import ApiError, LedgerError, NotFound, PlanRefused, Unreachable, VersionConflict
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.live import parse_user
from reconciler.ledger import Ledger

__all__ = ["ApplyResult", "Outcome", "Result", "execute"]

log = logging.getLogger("reconciler.genesys.apply")


class _UserRun:
    """Runs one user's changes, in order, recording each to the ledger."""

    def __init__(self, client: GenesysClient, settings: Settings, ledger: Ledger | None) -> None:
        self.client = client
        self.settings = settings
        self.ledger = ledger
        self.ledger_failures = 0
        self.ledger_error: str | None = None
        self._lock = threading.Lock()
        self._unreachable_streak = 0  # writes in a row that could not reach Genesys at all
        self.unreachable = threading.Event()

    def _reached(self, failed_to_connect: bool) -> None:
        """Count connection failures in a row; enough of them mean Genesys is unreachable: stop starting."""
        with self._lock:
            self._unreachable_streak = self._unreachable_streak + 1 if failed_to_connect else 0
            if self._unreachable_streak >= self.settings.unreachable_after and not self.unreachable.is_set():
                log.error(
                    "Genesys unreachable: %d writes in a row could not connect; starting no more users",
                    self._unreachable_streak,
                    extra={"event": "genesys_unreachable"},
                )
                self.unreachable.set()

    def run(self, changes: list[Change]) -> list[Result]:
        results: list[Result] = []
        refused = False  # Genesys refused the state change: it certainly did not land
        for change in changes:
            if self.unreachable.is_set():
                # A revoke skipped here stays owed in the journal (its PATCH's intent is recorded),
                # so the next plan still ends the sessions of a user whose PATCH may have landed.
                results.append(self._record_skip(change, not_started(UNREACHABLE)))
                continue
            if change.action is Action.REVOKE_TOKENS and refused:
                results.append(
                    self._record_skip(
                        change, "not attempted: Genesys refused the deactivation before it, so nothing changed"
                    )
                )
                continue
            result = self._attempt(change)
            results.append(result)
            if change.action is not Action.REVOKE_TOKENS:
                # After any other failure (a timeout, a 5xx, a 3xx, a crash) the PATCH may have
                # landed: ending the sessions is then essential, and harmless if it did not land.
                refused = result.refused
        return results

    # --- ledger -------------------------------------------------------------------

    def _append(self, record: dict[str, Any]) -> None:
        """Journal a record. A ledger that cannot be written is reported, but never stops a lock-out."""
        if self.ledger is None:
            return
        try:
            self.ledger.append(record)
        except LedgerError as exc:
            with self._lock:
                self.ledger_failures += 1
                first = self.ledger_error is None
                self.ledger_error = self.ledger_error or str(exc)
            if first:  # once: a full disk would otherwise log two lines per write
                log.error("audit ledger: %s; the writes go on", exc, extra={"event": "ledger_failed"})

    def _intent(self, change: Change) -> str:
        attempt = os.urandom(16).hex()  # as random as uuid4, without importing uuid (and platform)
        self._append(
            {
                "event": "intent",
                "attempt": attempt,
                "action": change.action.value,
                "user_id": change.user_id,
                "email": change.email,
                "name": change.name,
                "before": change.before,
                "after": change.after,
                "version": change.version,
                "source": change.source,
                "reason": change.reason,
                "ticket": change.ticket,
                "detail": change.detail,
                "reason_code": change.reason_code,
                "changed_by": change.changed_by.as_dict() if change.changed_by is not None else None,
            }
        )
        return attempt

    def _outcome(
        self, attempt: str | None, result: Result, *, correlation_id: str | None = None, server_time: str | None = None
    ) -> Result:
        c = result.change
        self._append(
            {
                "event": "outcome",
                "attempt": attempt,
                "action": c.action.value,
                "user_id": c.user_id,
                "email": c.email,
                "before": c.before,
                "after": c.after,
                "source": c.source,
                "outcome": result.outcome.value,
                "message": result.message,
                "error": result.error,
                "correlation_id": correlation_id or (result.error or {}).get("correlation_id"),
                "server_time": server_time,
                "version_after": result.version_after,
                "reason_code": c.reason_code,
                "changed_by": c.changed_by.as_dict() if c.changed_by is not None else None,
                "refused": result.refused,
            }
        )
        level = logging.WARNING if result.outcome is Outcome.FAILED else logging.INFO
        log.log(
            level,
            "%s %s (%s): %s%s",
            c.action.value,
            c.email or c.user_id,
            c.user_id,
            result.outcome.value,
            f": {result.message}" if result.message else "",
            extra={"event": "write", "action": c.action.value, "user_id": c.user_id, "outcome": result.outcome.value},
        )
        return result

    def _record_skip(self, change: Change, message: str) -> Result:
        return self._outcome(None, Result(change, Outcome.SKIPPED, message))

    # --- writes -------------------------------------------------------------------

    def _attempt(self, change: Change) -> Result:
        attempt = self._intent(change)
        try:
            if change.action is Action.REVOKE_TOKENS:
                done = self._revoke(change, attempt)
            else:
                done = self._set_state(change, attempt)
        except ApiError as exc:
            self._reached(isinstance(exc, Unreachable))
            failed = Result(change, Outcome.FAILED, exc.message, exc.as_dict(), refused=exc.nothing_changed)
            return self._outcome(attempt, failed)
        except Exception as exc:  # one user's surprise must not cost the others their results
            log.exception("%s %s failed unexpectedly", change.action.value, change.user_id)
            failed = Result(change, Outcome.FAILED, f"unexpected {type(exc).__name__}: {exc}")
            return self._outcome(attempt, failed)
        self._reached(False)
        return done

    def _revoke(self, change: Change, attempt: str) -> Result:
        try:
            resp = self.client.revoke_tokens(change.user_id)
        except NotFound as exc:
            # Genesys does not document the answer for a user without tokens; a 404
            # means there is nothing left to revoke for this id either way.
            return self._outcome(
                attempt, Result(change, Outcome.APPLIED, "no tokens to revoke (404)"), correlation_id=exc.correlation_id
            )
        server = resp.server_time
        return self._outcome(
            attempt,
            Result(change, Outcome.APPLIED),
            correlation_id=resp.correlation_id,
            server_time=utc_iso(server) if server else None,
        )

    def _set_state(self, change: Change, attempt: str) -> Result:
        # The state written comes from the action, never from the plan's free-text fields.
        target = "inactive" if change.action is Action.DEACTIVATE else "active"
        version = change.version
        for _ in range(self.settings.conflict_retries + 1):
            try:
                # With a reason code the same write is a PUT /state: same version, same conflict rules.
                if change.reason_code is None:
                    resp = self.client.set_state(change.user_id, target, version)
                else:
                    resp = self.client.set_state(change.user_id, target, version, reason_code=change.reason_code)
            except VersionConflict as conflict:
                fresh = self._reread(change)
                ours = conflict.earlier_attempt_unanswered  # our own first attempt may have landed
                if fresh.state == target:
                    message = (
                        f"landed: the first answer was lost, the retry was refused as stale and the user is now "
                        f"{target}"
                        if ours
                        else f"already {target}: changed since the plan by someone else"
                    )
                    outcome = Outcome.APPLIED if ours else Outcome.SKIPPED
                    return self._outcome(attempt, Result(change, outcome, message, version_after=fresh.version))
                if fresh.state != change.before or fresh.version is None:
                    return self._outcome(
                        attempt,
                        Result(
                            change,
                            Outcome.FAILED,
                            f"the user changed to {fresh.state!r} since the plan; not touching it",
                            refused=not ours,
                        ),
                    )
                log.info("%s: version %s is stale, retrying with %s", change.user_id, version, fresh.version)
                version = fresh.version
                continue
            returned = resp.data.get("state")
            after_version = resp.data.get("version")
            if returned != target:
                return self._outcome(
                    attempt,
                    Result(
                        change,
                        Outcome.FAILED,
                        f"inconsistent result after apply: asked for {target}, Genesys returned {returned!r}",
                    ),
                    correlation_id=resp.correlation_id,
                )
            new_version = after_version if isinstance(after_version, int) else None
            server = resp.server_time
            return self._outcome(
                attempt,
                Result(change, Outcome.APPLIED, version_after=new_version),
                correlation_id=resp.correlation_id,
                server_time=utc_iso(server) if server else None,
            )
        return self._outcome(
            attempt,
            Result(
                change,
                Outcome.FAILED,
                f"version conflict {self.settings.conflict_retries + 1} times in a row: another writer keeps changing "
                f"this user",
                refused=True,
            ),
        )

    def _reread(self, change: Change) -> Any:
        raws = self.client.users_by_ids([change.user_id])
        for raw in raws:
            user = parse_user(raw)
            if user.id == change.user_id:
                return user
        raise NotFound("the user disappeared during apply", status=404, request="GET /api/v2/users")


def execute(
    plan: Plan,
    client: GenesysClient,
    *,
    settings: Settings,
    ledger: Ledger | None = None,
    should_stop: StopCheck = lambda: None,
    progress: Progress | None = None,
) -> ApplyResult:
    """Make the plan's changes. Raises PlanRefused for a plan with errors; otherwise returns outcomes.

    ``should_stop`` is asked before each user begins; once it gives a reason, no new user starts.
    After ``settings.unreachable_after`` connection failures in a row the run stops the same way
    (reason: Genesys unreachable). ``progress`` hears of each user as it finishes, with its results.
    """
    if plan.has_errors:
        raise PlanRefused(f"the plan has {len(plan.errors)} error(s); nothing was applied")
    groups: dict[str, list[Change]] = {}
    for change in plan.changes:
        groups.setdefault(change.user_id, []).append(change)
    runner = _UserRun(client, settings, ledger)
    by_user: dict[str, list[Result]] = {}
    stopped: list[str] = []  # the reason the run stopped starting users, once it did
    shown = progress or NoProgress()
    shown.phase("applying", len(groups))

    def work(user_id: str) -> list[Result]:
        reason = should_stop() or (UNREACHABLE if runner.unreachable.is_set() else None)
        if reason is not None:
            stopped.append(reason)
            results = [Result(c, Outcome.SKIPPED, not_started(reason)) for c in groups[user_id]]
        else:
            results = runner.run(groups[user_id])
        shown.advance(1, results)
        return results

    # Sized from the pace and the latency the plan's reads measured (Little's law), --concurrency a cap.
    workers = client.workers(len(groups))
    log.info("applying %d user(s) with %d worker(s)", len(groups), workers)
    with collector.frozen(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
        futures = {uid: pool.submit(work, uid) for uid in groups}
        for uid, future in futures.items():
            try:
                by_user[uid] = future.result()
            except Exception as exc:  # a bug in our own code: report it for this user, keep the rest
                log.exception("applying the changes of %s failed", uid)
                by_user[uid] = [Result(c, Outcome.FAILED, f"unexpected {type(exc).__name__}") for c in groups[uid]]
    results = [r for uid in groups for r in by_user[uid]]
    return ApplyResult(
        plan=plan,
        results=tuple(results),
        interrupted=bool(stopped) and not runner.unreachable.is_set(),
        stop_reason=stopped[0] if stopped else None,
        ledger_failures=runner.ledger_failures,
        ledger_error=runner.ledger_error,
        unreachable=runner.unreachable.is_set(),
    )
