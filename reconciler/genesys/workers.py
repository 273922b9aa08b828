"""How many requests to keep in flight, and running paced work on that many threads.

Effectful only through the session it is given. Throughput is
min(allowed rate, workers / latency): a fixed number of workers wastes the
rate limit at high latency and piles up idle threads at low latency. By
Little's law the requests in flight needed to hold a rate R at a latency L are
R x L, so the pool is sized from the pacer's rate and the latency measured on
this run's own requests, with a margin for the time a worker spends between
requests (parsing, the ledger). Every worker still waits for the one pacer, so
more workers never means a faster pace than the token allows; the only cost of
a generous pool is idle threads.

``--concurrency`` (``Settings.concurrency``) caps the number; without it the
cap is ``Settings.max_concurrency``. Never a worker per task beyond the tasks
there are.

While paced work runs, the old heap is frozen out of the garbage collector
(``core.collector.frozen``): a full collection would stall every worker.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from reconciler.core import collector
from reconciler.core.settings import Settings

if TYPE_CHECKING:  # only the type: importing the session (and httpx) is the caller's business
    from reconciler.genesys.session import ApiSession

__all__ = ["MARGIN", "cap", "pool_size", "run_all", "workers_for"]

# In-flight requests beyond rate x latency: the measured latency leaves out the
# worker's own time between requests (parsing, the ledger, waiting for a CPU on
# a busy machine), and a latency estimate is an average. At low latency the
# spares matter most: with 2, batched reads at 20 ms reached 87% of the rate on
# a loaded 2-core machine.
MARGIN = 1.5
SPARE = 4
# Before the first answer there is no latency to size from: assume this much (a
# slow call to Genesys). Too high only costs idle threads; the next pool is sized
# from what this one measured.
ASSUMED_LATENCY = 0.5

T = TypeVar("T")
R = TypeVar("R")


def workers_for(rate: float, latency: float, limit: int) -> int:
    """Workers needed to hold ``rate`` requests/s at ``latency`` s per request, at most ``limit``."""
    needed = math.ceil(rate * latency * MARGIN) + SPARE
    return max(1, min(limit, needed))


def cap(settings: Settings) -> int:
    """The most workers this run may use: ``--concurrency`` when given, else the built-in ceiling."""
    return max(1, settings.concurrency if settings.concurrency is not None else settings.max_concurrency)


def pool_size(session: ApiSession, tasks: int) -> int:
    """Workers for ``tasks`` units of work of one request each (a user's writes run in series)."""
    latency = session.pacer.latency if session.pacer.latency is not None else ASSUMED_LATENCY
    return workers_for(session.pacer.rate, latency, min(cap(session.settings), max(1, tasks)))


def run_all(session: ApiSession, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``work(item)`` for every item, on as many threads as the rate needs; results in item order.

    The pool starts at ``pool_size`` and grows as the latency measured on its own requests asks
    for more (the first pool of a run is sized on ``ASSUMED_LATENCY``, before any answer).
    An exception from ``work`` is raised here, after the items already started have finished;
    the items not yet started never start.
    """
    if len(items) <= 1 or cap(session.settings) == 1:
        return [work(item) for item in items]
    return _Pool(session, work, items).run()


class _Pool(Generic[T, R]):
    """Threads that each take the next item until none is left; one more whenever the pace needs it."""

    def __init__(self, session: ApiSession, work: Callable[[T], R], items: Sequence[T]) -> None:
        self._session = session
        self._work = work
        self._items = items
        self._results: list[R | None] = [None] * len(items)
        self._failed: dict[int, BaseException] = {}
        self._next = 0  # the next item to start
        self._stopped = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def run(self) -> list[R]:
        with collector.frozen():
            self._grow()
            joined = 0
            try:
                while True:
                    with self._lock:  # a running thread may add one: join until none is left
                        if joined == len(self._threads):
                            break
                        thread = self._threads[joined]
                    thread.join()
                    joined += 1
            except BaseException:  # Ctrl-C: start nothing more
                with self._lock:
                    self._stopped = True
                raise
        if self._failed:
            raise self._failed[min(self._failed)]
        return cast("list[R]", self._results)

    def _grow(self) -> None:
        """Start threads up to what the pace needs now, never more than the items left to start."""
        with self._lock:
            want = pool_size(self._session, len(self._items))
            want = min(want, len(self._threads) + len(self._items) - self._next)
            while len(self._threads) < want and not self._stopped:
                thread = threading.Thread(target=self._loop, name=f"read_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._stopped or self._next >= len(self._items):
                    return
                index = self._next
                self._next += 1
            try:
                self._results[index] = self._work(self._items[index])
            except BaseException as exc:
                # A failure that stops the whole read (Genesys unreachable, credentials) stops the
                # queue too: the items not yet started never send their requests and their retries.
                with self._lock:
                    self._failed[index] = exc
                    self._stopped = True
                return
            self._grow()
