"""Fault injection and rate limiting for the sandbox.

State only: the app consults these objects on every ``/api/v2`` request. Each
fault kind is a counter ("the next N requests ...") or a per-user rule, so a
test says exactly how many faults it wants and can read back how many were
injected (``injected``) for its report.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Faults", "RateLimit", "RateWindow"]


@dataclass
class Faults:
    # The next N API requests are answered 429 with Retry-After: storm_retry_after
    # (whole seconds like Genesys; a fraction only in a time-scaled sandbox).
    rate_limit_storm: int = 0
    storm_retry_after: float = 1
    # The next N API requests are answered with server_error_status (502/503/504).
    server_errors: int = 0
    server_error_status: int = 503
    # The next N API requests get no response: the connection is closed.
    drop_connections: int = 0
    # The next N writes (PATCH user, DELETE tokens) are carried out, then the
    # connection is closed before the response: the client cannot know it worked.
    drop_after_write: int = 0
    # Seconds added to every API request, before it is processed.
    latency: float = 0.0
    # Seconds every API response is held after the request was processed (a write
    # has landed, the client does not know yet).
    response_delay: float = 0.0
    # The same, for writes only (PATCH user, DELETE tokens): reads stay fast.
    write_response_delay: float = 0.0
    # A token stops being accepted (401) after this many API requests.
    expire_tokens_after: int | None = None
    # user id -> how many of its next PATCHes are preceded by another writer's edit.
    conflicts: dict[str, int] = field(default_factory=dict)
    # user id -> HTTP status returned for every write on that user (e.g. 403, 404).
    fail_writes: dict[str, int] = field(default_factory=dict)
    # The next N API requests answer 200 with an HTML body instead of JSON.
    non_json: int = 0
    # How every audit request (/api/v2/audits/...) fails until cleared: "403", "500" or "non_json".
    audit_failure: str = ""
    # user id -> "unknown_state" | "missing_version" | "no_expand": how reads misreport that user
    # ("no_expand": the requested expansions are left out, as Genesys may: they are best effort).
    mangle: dict[str, str] = field(default_factory=dict)
    # Random faults on API requests, reproducible from the seed.
    p_server_error: float = 0.0
    p_drop: float = 0.0
    p_rate_limit: float = 0.0
    seed: int = 1
    # What was injected so far, by kind: an account of what happened, not a fault to set.
    injected: Counter[str] = field(default_factory=Counter, metadata={"settable": False})
    _rng: random.Random = field(default_factory=lambda: random.Random(1), repr=False)

    def settable(self) -> tuple[str, ...]:
        """What ``update`` accepts and ``clear`` resets: every public field not marked otherwise.

        Derived from the fields, so a fault added above is settable with no second list to keep in step.
        """
        return tuple(f.name for f in fields(self) if not f.name.startswith("_") and f.metadata.get("settable", True))

    def update(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(self.settable())
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, dict(value) if isinstance(value, dict) else value)
        if "seed" in changes:
            self._rng = random.Random(self.seed)

    def clear(self) -> None:
        """Back to no faults; keep the count of what was injected."""
        injected = self.injected
        fresh = type(self)()
        for name in self.settable():
            setattr(self, name, getattr(fresh, name))
        self.injected = injected

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        out["injected"] = dict(self.injected)
        return out

    def take(self, counter: str) -> bool:
        """Consume one from a 'next N requests' counter."""
        left = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
            return True
        return False

    def roll(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability


@dataclass
class RateWindow:
    started: float
    count: int = 0


@dataclass
class RateLimit:
    """A fixed window per token: ``allowed`` requests per ``window`` seconds."""

    allowed: int = 300
    window: float = 60.0
    send_headers: bool = False  # Genesys stopped sending inin-ratelimit-* in June 2021
    # Genesys sends Retry-After in whole seconds. A time-scaled sandbox (windows
    # of a fraction of a second, for fast tests) may send fractions instead.
    whole_seconds: bool = True
    windows: dict[str, RateWindow] = field(default_factory=dict)

    def hit(self, token: str, now: float) -> tuple[bool, int, float]:
        """Count a request: (allowed?, count in window, seconds until the window resets)."""
        w = self.windows.get(token)
        if w is None or now - w.started >= self.window:
            w = self.windows[token] = RateWindow(started=now)
        w.count += 1
        reset = max(0.0, w.started + self.window - now)
        return w.count <= self.allowed, w.count, reset

    def retry_after(self, reset: float) -> float:
        """Whole seconds, as Genesys sends Retry-After (never 0 while blocked), unless time-scaled."""
        if not self.whole_seconds:
            return max(0.001, round(reset, 3))
        return max(1, math.ceil(reset))

    @staticmethod
    def parse(text: str) -> tuple[int, float]:
        """'300/60s', '50/1s', '25/0.5s', '3000/1m' -> (allowed, window seconds)."""
        count, _, per = text.partition("/")
        per = per.strip() or "60s"
        scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(per[-1])
        try:
            if scale is None:
                raise ValueError(text)
            return int(count), float(per[:-1] or 1) * scale
        except ValueError:
            raise ValueError(f"rate limit {text!r}: use e.g. 300/60s, 50/1s or 25/0.5s") from None
