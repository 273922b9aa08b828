"""How the CLI shows progress on stderr: a rich bar on a terminal, a line at a bounded rate without one.

On a terminal: a bar with counts, rate and an estimate of the time left for
each phase (reading users, applying), and in text mode one line per finished
user above the bar as it happens. Without a terminal (CI): one short line at
most every ``interval`` seconds, and none for work that ends sooner. Never a
secret: only counts, and the result lines the final report prints anyway.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from reconciler.cli.common import STYLES, colour_wanted
from reconciler.core.progress import Progress
from reconciler.core.report.text import result_line
from reconciler.core.results import Result

__all__ = ["LineProgress", "TerminalProgress", "progress_for"]

LINE_INTERVAL = 10.0  # seconds between progress lines in CI: visible, never a flood


class TerminalProgress:
    """A rich progress bar on stderr; each finished user's result lines print above it (text mode)."""

    def __init__(self, stream: TextIO, *, show_results: bool) -> None:
        # rich is imported here, on a terminal only: `plan --help` and CI runs never load it.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f}/s" if speed else "", style="dim")

        self._text = Text
        self.console = Console(file=stream, highlight=False, emoji=False, no_color=not colour_wanted(stream))
        self.show_results = show_results
        self.shown_results = False
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._task: int | None = None
        self._lock = threading.Lock()

    def phase(self, name: str, total: int | None) -> None:
        with self._lock:
            if self._task is None:
                self._bar.start()
            else:
                self._bar.remove_task(self._task)  # type: ignore[arg-type]  # TaskID is an int
            self._task = self._bar.add_task(name, total=total)

    def advance(self, steps: int = 1, results: Sequence[Result] = ()) -> None:
        with self._lock:
            if self._task is None:
                return
            self._bar.advance(self._task, steps)  # type: ignore[arg-type]
            if self.show_results:
                for r in results:
                    line = result_line(r)
                    self._bar.console.print(self._text(line.text, style=STYLES.get(line.tag, "")))
                    self.shown_results = True

    def done(self) -> None:
        with self._lock:
            if self._task is not None:
                self._bar.stop()
                self._task = None


class LineProgress:
    """Without a terminal: "reconciler: applying: 120/300 (40%), 4.9/s, about 37 s left", at a bounded rate."""

    def __init__(
        self, stream: TextIO, *, interval: float = LINE_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._name, self._count = "", 0
        self._total: int | None = None
        self._started = self._last = clock()

    def phase(self, name: str, total: int | None) -> None:
        with self._lock:
            self._name, self._total, self._count = name, total, 0
            self._started = self._last = self.clock()

    def advance(self, steps: int = 1, results: Sequence[Result] = ()) -> None:
        with self._lock:
            self._count += steps
            now = self.clock()
            if now - self._last < self.interval:
                return
            self._last = now
            elapsed = max(now - self._started, 1e-9)
            rate = self._count / elapsed
            line = f"reconciler: {self._name}: {self._count}"
            if self._total:
                line += f"/{self._total} ({min(100, 100 * self._count // self._total)}%)"
            line += f", {rate:.1f}/s"
            if self._total and rate > 0 and self._count < self._total:
                line += f", about {(self._total - self._count) / rate:.0f} s left"
            self.stream.write(line + "\n")
            self.stream.flush()

    def done(self) -> None:
        pass


def progress_for(fmt: str, stream: TextIO | None = None) -> Progress:
    """A bar on a terminal (with live result lines in text mode), bounded-rate lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return TerminalProgress(stream, show_results=fmt == "text")
    return LineProgress(stream)
