"""What apply did: one Result per planned change, gathered in an ApplyResult. Pure values.

Kept apart from apply.py (which talks to the API) so that reports and the
scheduler can use them without importing any HTTP code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.plan import Change, Plan

__all__ = ["UNREACHABLE", "ApplyResult", "Outcome", "Result", "StopCheck", "not_started"]

# Asked before each user's writes begin: why to start no new user (a signal, a service shutting
# down, Genesys unreachable), or None to go on. Users already started always finish.
StopCheck = Callable[[], "str | None"]


def not_started(reason: str) -> str:
    """The message of a change skipped because the run stopped before its user began."""
    return f"not started: {reason}"


UNREACHABLE = "Genesys unreachable"  # the stop reason after Settings.unreachable_after connection failures


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
    # Genesys definitely refused this write (a 4xx to every attempt): nothing changed. A failed
    # state change that was not refused may have landed, so its revoke is still sent.
    refused: bool = False


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    results: tuple[Result, ...]
    interrupted: bool = False  # a stop request left some users untouched
    ledger_failures: int = 0  # audit records that could not be written (the writes themselves went on)
    stop_reason: str | None = None  # why the run stopped starting users (with ``interrupted``)
    ledger_error: str | None = None  # the first ledger failure: which file, and why
    unreachable: bool = False  # apply stopped starting users after consecutive connection failures

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        """Everything needed was done (or nothing was needed)."""
        return (
            not self.interrupted
            and not self.unreachable
            and not self.ledger_failures
            and all(r.outcome is not Outcome.FAILED for r in self.results)
        )

    @property
    def verdict(self) -> str:
        """One word (or phrase) for the run, the same in every rendering."""
        if self.ok:
            return "complete"
        if self.unreachable:
            return "stopped (Genesys unreachable)"
        return "interrupted" if self.interrupted else "incomplete"
