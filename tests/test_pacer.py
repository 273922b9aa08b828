"""The pacer with several worker threads on a virtual clock: what each thread sends, and when.

The single-threaded pacer tests live in test_client.py. Here threads really
block in ``acquire``; ``VirtualTime`` advances its clock to the earliest wake-up
only once every thread is asleep, so the schedule is exact and takes no time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reconciler.genesys.pacer import DECREASE, HEADROOM, Pacer


class VirtualTime:
    """A clock that moves only when every thread it knows is asleep (discrete-event time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._cond = threading.Condition()
        self._wakes: list[float] = []
        self._running = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            wake = self.now + max(0.0, seconds)
            self._wakes.append(wake)
            self._cond.notify_all()
            while self.now < wake:
                self._cond.wait()
            self._wakes.remove(wake)

    def run(self, jobs: list[Callable[[], None]]) -> None:
        """Run each job in its own thread until all have returned."""

        def wrapped(job: Callable[[], None]) -> None:
            try:
                job()
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

        threads = [threading.Thread(target=wrapped, args=(job,), daemon=True) for job in jobs]
        with self._cond:
            self._running = len(threads)
        for t in threads:
            t.start()
        with self._cond:
            while self._running:
                asleep = [w for w in self._wakes if w > self.now]
                if len(asleep) == self._running:
                    self.now = min(asleep)
                    self._cond.notify_all()
                else:
                    assert self._cond.wait(timeout=10), "a thread neither slept nor finished"
        for t in threads:
            t.join(timeout=10)


def test_workers_waiting_through_a_429_resume_at_the_paced_spacing() -> None:
    vt = VirtualTime()
    pacer = Pacer(600, clock=vt.clock, sleep=vt.sleep)  # 10 a second, less the headroom
    interval = 1 / (10 * HEADROOM)
    slower = interval / DECREASE  # the pace after a 429 episode
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        pacer.acquire()
        with lock:
            sent.append(vt.now)
        pacer.release(None)

    def refused_at_quarter_second() -> None:
        vt.sleep(0.25)  # one request is answered 429 Retry-After: 1 while six workers wait
        pacer.rate_limited_for(1.0)

    vt.run([refused_at_quarter_second, *[worker for _ in range(6)]])
    before = [t for t in sent if t < 0.25]
    after = sorted(t for t in sent if t >= 0.25)
    assert before == pytest.approx([0, interval, 2 * interval])
    # The three workers that were asleep in the pause go one (slower) interval apart from its end, not all at 1.25.
    assert after == pytest.approx([1.25, 1.25 + slower, 1.25 + 2 * slower])


def test_a_second_429_during_the_pause_restarts_the_queue_after_it() -> None:
    vt = VirtualTime()
    pacer = Pacer(600, clock=vt.clock, sleep=vt.sleep)
    interval = 1 / (10 * HEADROOM)
    slower = interval / DECREASE  # the pace after a 429 episode
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        pacer.acquire()
        with lock:
            sent.append(vt.now)

    def refused_twice() -> None:
        vt.sleep(0.05)
        pacer.rate_limited_for(1.0)
        vt.sleep(0.5)
        pacer.rate_limited_for(2.0)  # another worker's earlier request comes back 429 too

    vt.run([refused_twice, *[worker for _ in range(4)]])
    assert sorted(sent) == pytest.approx([0, 2.55, 2.55 + slower, 2.55 + 2 * slower])
