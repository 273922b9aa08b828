"""The cyclic garbage collector: paused around bulk work, kept off the old heap during paced work.

Reading, planning and rendering 20,000 users allocates hundreds of thousands of
small containers that either live to the end of the run or die by reference
counting. CPython's collector still scans them again and again as they age:
about 0.5 s of a 4 s plan for 20,000 users in a 100,000-user org. Pausing it
for such a stage costs only the few cycles the stage does make (httpx and
tenacity leave about 70 small objects per request), collected as soon as the
stage ends. Never wrap work whose garbage grows without bound, such as an
apply's writes.

``frozen`` is for paced work (reads and writes under the pacer): the objects
that already exist (the modules, the desired state, the plan) are frozen out of
the collector, which still collects what the work makes. A full collection over
them stopped every thread for 50-130 ms on a 1,000-user apply, and the pacer
lost the slots of the workers it stalled (genesys/pacer.py). They are handed
back to the collector when the work ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen", "paused"]

_frozen = 0  # frozen() blocks open (nested, or in several threads): the outermost one thaws
_frozen_lock = threading.Lock()


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside; the collector's state as it was afterwards. Nests."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Keep the collector off the objects that exist now until the block ends (nests; thread-safe)."""
    global _frozen
    with _frozen_lock:
        if _frozen == 0:
            gc.freeze()
        _frozen += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen -= 1
            if _frozen == 0:
                gc.unfreeze()
