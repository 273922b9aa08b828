"""The audit trail: ledger records joined into one row per write attempted. Pure.

An intent and its outcome share an ``attempt`` id. An intent with no outcome
is a write the process did not live to report: its outcome is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from reconciler.core.attribution import changed_by_from_dict
from reconciler.core.instants import instant_or_none

__all__ = ["COLUMNS", "AuditRow", "audit_rows"]


@dataclass(frozen=True, slots=True)
class AuditRow:
    time: str
    run: str | None
    action: str | None
    user_id: str | None
    email: str | None
    before: str | None
    after: str | None
    outcome: str
    message: str | None
    commit: str | None
    source: str | None
    reason: str | None
    ticket: str | None
    reason_code: str | None
    changed_by: str | None  # who had moved the user, when this write corrected drift
    correlation_id: str | None
    error_status: int | None
    error_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(AuditRow.__dataclass_fields__)


def _actor(raw: Any) -> str | None:
    found = changed_by_from_dict(raw)
    return found.describe() if found is not None else None


def _row(intent: Mapping[str, Any], outcome: Mapping[str, Any] | None) -> AuditRow:
    error = (outcome or {}).get("error") or {}
    return AuditRow(
        time=str(intent.get("time")),
        run=intent.get("run"),
        action=intent.get("action"),
        user_id=intent.get("user_id"),
        email=intent.get("email"),
        before=intent.get("before"),
        after=intent.get("after"),
        outcome=str((outcome or {}).get("outcome") or "unknown (interrupted)"),
        message=(outcome or {}).get("message"),
        commit=intent.get("commit"),
        source=intent.get("source"),
        reason=intent.get("reason"),
        ticket=intent.get("ticket"),
        reason_code=intent.get("reason_code"),
        changed_by=_actor(intent.get("changed_by")),
        correlation_id=(outcome or {}).get("correlation_id"),
        error_status=error.get("status"),
        error_code=error.get("code"),
    )


def audit_rows(records: Iterable[Mapping[str, Any]], since: datetime | None = None) -> list[AuditRow]:
    """One row per write attempted, by time. Streams: only writes still awaiting their outcome are held.

    A ledger of years is read record by record; what stays in memory is the rows
    shown (all of them, or those ``since`` a date) and the intents not yet answered.
    """
    standalone: list[AuditRow] = []
    rows: list[AuditRow | None] = []  # in intent order; None until the outcome (or the end) fills it
    pending: dict[str, tuple[int, Mapping[str, Any]]] = {}
    skipped: set[str] = set()  # intents before ``since``: their outcomes are dropped too

    def shown(record: Mapping[str, Any]) -> bool:
        if since is None:
            return True
        when = instant_or_none(record.get("time"))
        return when is not None and when >= since

    for r in records:
        attempt = r.get("attempt")
        if r.get("event") == "intent" and isinstance(attempt, str):
            if shown(r):
                pending[attempt] = (len(rows), r)
                rows.append(None)
            else:
                skipped.add(attempt)
        elif r.get("event") == "outcome":
            if isinstance(attempt, str) and attempt in pending:
                index, intent = pending.pop(attempt)
                rows[index] = _row(intent, r)
            elif isinstance(attempt, str) and attempt in skipped:
                skipped.discard(attempt)
            elif shown(r):  # a change skipped without an attempt (e.g. a revoke after a failed deactivation)
                standalone.append(_row(r, r))
    for index, intent in pending.values():  # the process did not live to report these
        rows[index] = _row(intent, None)
    out = standalone + [row for row in rows if row is not None]
    out.sort(key=lambda row: row.time)
    return out
