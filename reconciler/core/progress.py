"""Progress: how long work tells a person how far it has got. Pure interface, no I/O.

The engine reports phases (reading users, applying) and steps (an API call
made, a user finished, with that user's results); the CLI decides how to show
them (a rich bar on a terminal, a line at a bounded rate in CI, nothing in the
service, which logs instead). Implementations must be thread-safe: apply's
workers report from their own threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from reconciler.core.results import Result

__all__ = ["NoProgress", "Progress"]


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None:
        """A new phase begins; ``total`` steps if known (an estimate is fine)."""

    def advance(self, steps: int = 1, results: Sequence[Result] = ()) -> None:
        """``steps`` more done; ``results`` are the outcomes of a user just finished."""

    def done(self) -> None:
        """The work is over (successfully or not): clear any bar."""


class NoProgress:
    """Shows nothing: the default, and the service's choice (it logs one line per event)."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, steps: int = 1, results: Sequence[Result] = ()) -> None:
        pass

    def done(self) -> None:
        pass
