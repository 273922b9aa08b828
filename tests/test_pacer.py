"""The pacer with several worker threads on a virtual clock: what each thread sends, and when.

The single-threaded pacer tests live in test_client.py. Here threads really
block in ``acquire``; ``VirtualTime`` advances its clock to the earliest wake-up
only once every thread is asleep, so the schedule is exact and takes no time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reconciler.genesys.pacer import DECREASE, HEADROOM, LATE_SLOTS, Pacer


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


def test_workers_woken_late_by_a_stall_queue_again_instead_of_sending_at_once() -> None:
    """A stalled process (a busy CPU, a garbage collection) must not send its missed slots in one burst."""
    vt = VirtualTime()
    stall_until = 0.5

    def stalled(seconds: float) -> None:  # nobody in this process wakes before 0.5 s
        vt.sleep(max(seconds, stall_until - vt.now) if vt.now < stall_until else seconds)

    pacer = Pacer(600, clock=vt.clock, sleep=stalled)  # 10 a second, less the headroom
    interval = 1 / (10 * HEADROOM)
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            pacer.acquire()
            with lock:
                sent.append(vt.now)
            pacer.release(None)

    vt.run([worker for _ in range(6)])
    times = sorted(sent)
    assert len(times) == 18
    # Any span holds at most span / interval + 1 requests, plus the LATE_SLOTS a late worker may still use.
    # Sending every missed slot at 0.5 s would put five requests in the same instant.
    for i, first in enumerate(times):
        for j in range(i + 1, len(times)):
            assert j - i + 1 <= (times[j] - first) / interval + 1 + LATE_SLOTS + 1e-9, (first, times[j])
    # At 0.5 s only the slots within LATE_SLOTS intervals (0.31 and 0.41 s) are still used, not all four.
    assert sum(1 for t in times if t == pytest.approx(stall_until)) == 2
    assert pacer.missed == 2  # the slots at 0.1 and 0.2 s passed during the stall and were given up


def test_a_worker_a_little_late_still_uses_its_slot() -> None:
    """Scheduling jitter within LATE_SLOTS intervals costs no slot (and no rate)."""
    vt = VirtualTime()
    pacer = Pacer(600, clock=vt.clock, sleep=lambda s: vt.sleep(s + 0.01))  # every wake-up 10 ms late
    sent: list[float] = []

    def worker() -> None:
        for _ in range(5):
            pacer.acquire()
            sent.append(vt.now)
            pacer.release(None)

    vt.run([worker])
    assert pacer.missed == 0 and len(sent) == 5
