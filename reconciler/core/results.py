"""What apply did: one Result per planned change, gathered in an ApplyResult. Pure values.

Kept apart from apply.py (which talks to the API) so that reports and the
scheduler can use them without importing any HTTP code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.plan import Change, Plan

__all__ = ["STOPPED", "ApplyResult", "Outcome", "Result"]

STOPPED = "not started: shutting down"


class Outcome(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Result:
    change: Change
    outcome: Outcome
    message: str | None = None
    error: dict[str, Any] | None = None
    version_after: int | None = None


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    results: tuple[Result, ...]
    interrupted: bool = False  # a shutdown request left some users untouched
    ledger_failures: int = 0  # audit records that could not be written (the writes themselves went on)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        """Everything needed was done (or nothing was needed)."""
        return (
            not self.interrupted
            and not self.ledger_failures
            and all(r.outcome is not Outcome.FAILED for r in self.results)
        )
