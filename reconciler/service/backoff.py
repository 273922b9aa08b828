"""When the service stops hammering a broken org: exponential backoff between ticks.

Pure state, no I/O: the runner tells it how each tick went and asks whether
the next one may run; the clock is passed in. Like Entra ID quarantining a
provisioning job whose calls mostly fail, a tick in which Genesys could not be
reached (or refused the credentials or a permission) or refused most writes
starts a backoff: the next tick waits twice the schedule's period, then four
times, and so on up to ``max_delay``. The first good tick returns to the
normal schedule. A backoff never makes the service unhealthy (Kubernetes
must not restart a pod for Genesys's outage); it is reported in the status
document, in ``reconciler_backoff_seconds`` and in one notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Backoff", "TickHealth"]


@dataclass(frozen=True, slots=True)
class TickHealth:
    """What a tick says about Genesys: reachable at all, and how many writes it refused."""

    unreachable: bool = False  # the tick could not read or write at all (network, 5xx, 429, auth)
    attempted: int = 0
    failed: int = 0
    reason: str | None = None

    def bad(self, *, failed_ratio: float, min_writes: int) -> bool:
        if self.unreachable:
            return True
        return self.attempted >= min_writes and self.failed > failed_ratio * self.attempted


@dataclass
class Backoff:
    period: float  # seconds between ticks on the normal schedule
    max_delay: float  # --max-backoff
    delay: float = 0.0  # the current wait between ticks beyond the schedule; 0: normal
    until: float | None = None  # wall time before which scheduled ticks are skipped
    bad_ticks: int = 0  # in a row
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.delay > 0

    def waiting(self, now: float) -> bool:
        """Must the tick due now be skipped?"""
        return self.until is not None and now < self.until

    def record(self, health: TickHealth, now: float, *, failed_ratio: float, min_writes: int) -> str | None:
        """Take a finished tick into account. Returns "started", "longer", "ended" or None (no change)."""
        if not health.bad(failed_ratio=failed_ratio, min_writes=min_writes):
            if not self.active:
                return None
            self.delay, self.until, self.bad_ticks, self.reason = 0.0, None, 0, None
            return "ended"
        self.bad_ticks += 1
        self.reason = health.reason
        started = not self.active
        self.delay = min(self.max_delay, self.period * 2**self.bad_ticks)
        # ``now`` is when the bad tick ended, but scheduled ticks keep the rhythm of their starts: with
        # ``now + delay`` the tick due ``delay`` after the bad one would be skipped too, and every wait
        # would be one period longer than said (and than --max-backoff). Half a period of slack lets
        # it run whenever the bad tick took less than half a period.
        self.until = now + self.delay - self.period / 2
        return "started" if started else "longer"

    def as_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "seconds": self.delay,
            "until": datetime.fromtimestamp(self.until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.until else None,
            "bad_ticks": self.bad_ticks,
            "reason": self.reason,
            "max_seconds": self.max_delay,
        }
