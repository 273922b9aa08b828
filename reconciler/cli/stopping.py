"""The operator's brake for `apply`: SIGINT (Ctrl-C) and SIGTERM stop a run cleanly.

The first signal starts no new user: the users already in flight finish both
their writes (deactivation and revoke), the results so far are printed, the
ledger is closed, and the command exits 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM). A second signal exits at once: every write in
flight was journalled (an ``intent`` before it), so the next plan owes those
users their revoke.

CLI only: it installs process signal handlers (main thread), and the engine
sees nothing but a stop condition (``StopCheck``) asked before each user.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["SignalStop"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """Records the first SIGINT/SIGTERM; exits the process on the second."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def reason(self) -> str | None:
        """The StopCheck apply asks before each user: None to go on."""
        return None if self.signum is None else f"{signal.Signals(self.signum).name} received"

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        # os.write, not sys.stderr: the main thread may be inside a buffered write right now.
        if self.signum is not None:
            os.write(2, f"reconciler: {name} again: exiting now; the ledger journals the writes in flight\n".encode())
            os._exit(128 + signum)
        self.signum = signum
        os.write(
            2,
            f"reconciler: {name} received: starting no new user; finishing the users in flight "
            f"(send it again to exit at once)\n".encode(),
        )

    @contextmanager
    def installed(self) -> Iterator[SignalStop]:
        """Handle the signals for the duration of the block, then restore the previous handlers."""
        previous = {sig: signal.signal(sig, self._handle) for sig in _SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
