"""Client-side pacing: one request budget per token, shared by every worker thread.

Genesys counts requests per token. Three signals set our pace, strongest first:

1. A 429's ``Retry-After``: every worker waits it out (not just the one that
   was refused). Without rate headers, the pace is then cut by
   ``DECREASE`` (once per throttling episode, however many workers were
   refused) and recovers by ``RECOVERY_PER_SECOND`` of the configured rate
   for every second without a 429 (AIMD: quick to back off, slow to push).
2. ``inin-ratelimit-count/allowed/reset`` on ordinary responses, when present:
   the remaining budget is spread over the time left in the window, minus what
   is already in flight. (Genesys stopped sending these in June 2021; some
   proxies and our sandbox still do.)
3. Otherwise the configured ``requests_per_minute``, evenly spaced.

A turn is a slot on an even grid, handed out ahead to the workers that ask. A
worker that wakes more than ``LATE_SLOTS`` intervals after its slot (the
process was stalled: a CPU busy elsewhere, a garbage collection) does not send
late: the slot is lost and it queues again. Otherwise every worker woken by the
end of a stall would send at once, a burst that a rate window counts in full.
So whatever our process does, any span of T seconds holds at most
T x rate + 1 + LATE_SLOTS of our requests; the headroom leaves room for that
and for the network's own jitter.

The pacer also sees every request go out and its answer come back, so it keeps
the latency (``latency``) that sizes the worker pool (workers.py).

The clock and sleep are injected, so tests run the whole policy in no time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Pacer", "RateHeaders"]

log = logging.getLogger("reconciler.genesys.pacer")  # pacing decisions: debug (-vv)

DECREASE = 0.8  # rate multiplier after a 429 episode (no rate headers)
RECOVERY_PER_SECOND = 0.01  # share of the configured rate regained per second without a 429
MAX_SLOWDOWN = 8.0  # never slower than 1/8 of the configured pace
HEADROOM = 0.98  # aim just under the configured ceiling so window edges do not tip us over
# How late (in intervals) a worker may still use its slot. With Genesys's 300 a window, 2%
# headroom is 6 intervals a window: 2 for a worker woken late, 1 for rounding, 3 for the network.
LATE_SLOTS = 2.0


@dataclass(frozen=True, slots=True)
class RateHeaders:
    count: int
    allowed: int
    reset: float

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateHeaders | None:
        try:
            return cls(
                int(headers["inin-ratelimit-count"]),
                int(headers["inin-ratelimit-allowed"]),
                float(headers["inin-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return None


class Pacer:
    def __init__(
        self, requests_per_minute: float, *, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._base_rate = requests_per_minute / 60.0 * HEADROOM  # requests per second
        self._rate = self._base_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._blocked_until = 0.0
        self._episode = 0  # bumped by every 429: slots handed out before it are void
        self._recovered_at = clock()
        self._in_flight = 0
        self._header_interval: float | None = None
        self._header_valid_until = 0.0
        self._latency: float | None = None
        self.rate_limited = 0  # 429s seen, for reports and metrics
        self.missed = 0  # slots lost to a worker that woke too late to use them

    @property
    def rate(self) -> float:
        """The current pace in requests per second (without rate headers)."""
        return self._rate

    @property
    def latency(self) -> float | None:
        """Seconds from sending a request to its answer, averaged over this run (None before the first)."""
        return self._latency

    def acquire(self) -> float:
        """Wait for this worker's turn to send one request.

        A worker already asleep when another one is refused with a 429 gives up
        its slot on waking and queues again behind the Retry-After pause, so the
        waiting workers resume one paced interval apart, not all at once.
        A worker that wakes too late for its slot queues again (the slot is lost).
        Returns when it may send (give it back to ``release``).
        """
        with self._lock:
            now = self._clock()
            slot = self._reserve(now)
            episode = self._episode
            self._in_flight += 1
        if slot - now >= 1.0:  # only waits a person would notice; even spacing is every request
            log.debug("pacing: waiting %.2f s for a turn (%.1f requests/s)", slot - now, self._rate)
        while slot > now:
            self._sleep(slot - now)
            with self._lock:
                now = self._clock()
                # A 429 (or a spent header budget) voided every slot handed out before it.
                if self._episode != episode or now < self._blocked_until:
                    slot = self._reserve(now)
                    episode = self._episode
                elif now - slot > LATE_SLOTS * self._current_interval(now):
                    # Woken too late: sending now would bunch up with the workers woken on time.
                    self.missed += 1
                    slot = self._reserve(now)
        return now

    def _reserve(self, now: float) -> float:
        """The next free slot (never inside a Retry-After pause); called with the lock held."""
        slot = max(now, self._next_slot, self._blocked_until)
        self._next_slot = slot + self._current_interval(now)
        return slot

    def release(self, headers: Mapping[str, str] | None, sent: float | None = None) -> None:
        """A response (headers) or a failure (None) arrived for a request sent at ``sent`` (from ``acquire``)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if headers is not None and sent is not None:
                # Rise fast, fall slowly: an under-estimate costs rate, an over-estimate only idle threads.
                seconds, old = self._clock() - sent, self._latency
                weight = 0.5 if old is None or seconds > old else 0.1
                self._latency = seconds if old is None else old + weight * (seconds - old)
            info = RateHeaders.parse(headers) if headers is not None else None
            if info is None:
                return
            now = self._clock()
            remaining = info.allowed - info.count - self._in_flight
            if remaining <= 0:
                self._blocked_until = max(self._blocked_until, now + info.reset)
                self._header_interval = None
                log.debug("pacing: rate headers say the budget is spent; holding for %.1f s", info.reset)
            else:
                self._header_interval = info.reset / remaining
                self._header_valid_until = now + info.reset

    def rate_limited_for(self, retry_after: float) -> None:
        """A 429: nobody sends on this token until Retry-After has passed; then go slower."""
        with self._lock:
            self.rate_limited += 1
            now = self._clock()
            new_episode = now >= self._blocked_until
            self._blocked_until = max(self._blocked_until, now + retry_after)
            self._next_slot = self._blocked_until  # the queue restarts after the pause
            self._episode += 1
            self._header_interval = None
            if new_episode:  # workers refused in the same window count as one signal
                self._rate = max(self._base_rate / MAX_SLOWDOWN, self._rate * DECREASE)
                log.debug(
                    "pacing: 429, every worker holds %.1f s, then %.1f requests/s (was %.1f)",
                    retry_after,
                    self._rate,
                    self._rate / DECREASE,
                )
            self._recovered_at = self._blocked_until

    def _current_interval(self, now: float) -> float:
        if self._header_interval is not None and now < self._header_valid_until:
            return self._header_interval
        if self._rate < self._base_rate and now > self._recovered_at:
            regained = self._base_rate * RECOVERY_PER_SECOND * (now - self._recovered_at)
            self._rate = min(self._base_rate, self._rate + regained)
            self._recovered_at = now
        return 1.0 / self._rate
