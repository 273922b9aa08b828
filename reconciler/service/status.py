"""The service's status: a small value that the health routes, the metrics and the logs read.

Pure data, no I/O. Liveness is about the process (a tick finished recently,
so the scheduler is not stuck); readiness is about the work (the last tick
did not fail). Kubernetes restarts a pod whose liveness fails, which cannot
fix an invalid file, so a failing tick only turns readiness and ``/status``
red. Add fields here (and to ``as_dict``) for new facts a monitor should see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ServiceStatus"]


@dataclass
class ServiceStatus:
    started_at: float  # unix time
    period: float  # seconds between ticks (for liveness)
    ticks: int = 0
    last_finished: float | None = None  # unix time the last tick finished
    last_code: int | None = None  # 0 converged, 1 failed, 2 drift found (report-only)
    last_reason: str | None = None  # why the last tick failed (invalid_files, api, plan_errors, ...)
    last_message: str | None = None
    consecutive_failures: int = 0

    def record(self, code: int, reason: str | None, message: str | None, finished: float) -> None:
        """A tick finished with this outcome."""
        self.last_finished, self.last_code, self.last_reason, self.last_message = finished, code, reason, message
        self.consecutive_failures = self.consecutive_failures + 1 if code == 1 else 0

    def live(self, now: float) -> tuple[bool, str]:
        """Alive while a tick finished within two periods (or since start): the scheduler is not stuck."""
        since = self.last_finished if self.last_finished is not None else self.started_at
        age = now - since
        limit = 2 * self.period
        what = "last tick finished" if self.last_finished is not None else "started, no tick finished yet,"
        return age <= limit, f"{what} {age:.1f}s ago (limit {limit:.0f}s)"

    def ready(self) -> tuple[bool, str]:
        """Ready once a tick has finished and the last one did not fail."""
        if self.last_code is None:
            return False, "no tick has finished yet"
        if self.last_code == 1:
            return False, f"the last tick failed ({self.last_reason}): {self.last_message}"
        return True, "the last tick succeeded" if self.last_code == 0 else "the last tick found drift (report-only)"

    def as_dict(self, now: float) -> dict[str, Any]:
        live, live_detail = self.live(now)
        ready, ready_detail = self.ready()
        return {**asdict(self), "live": live, "live_detail": live_detail, "ready": ready, "ready_detail": ready_detail}
