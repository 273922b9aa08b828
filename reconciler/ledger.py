"""The audit ledger: an append-only JSON-lines journal of every write attempted.

Effectful (local file only). Two records per write: an ``intent`` appended
before the API call and an ``outcome`` after it, sharing an ``attempt`` id.
The intent is what makes a crash recoverable: a deactivation with no outcome
may have landed, so the next plan still owes that user a token revoke (see
history.py).

Each record is one ``write()`` on a file opened with O_APPEND, so it reaches
the operating system before the API call it announces and survives the
process being killed (SIGKILL included); the file is fsynced when a run
closes the ledger. A record half-written when the machine died ("torn") is
reported and skipped on reading, never fatal, and the next append starts on a
fresh line. Secrets never reach the ledger: records are built from plan
values and error summaries only.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.core.history import History
from reconciler.core.instants import utc_iso
from reconciler.errors import LedgerError

__all__ = ["FORMAT", "Ledger", "LedgerRead", "default_ledger_path", "read_ledger"]

FORMAT = 1


def default_ledger_path(desired_root: str | os.PathLike[str]) -> Path:
    """``.reconciler/ledger.jsonl`` beside the desired-state folder (not inside: it is not desired state)."""
    return Path(desired_root).resolve().parent / ".reconciler" / "ledger.jsonl"


@dataclass(frozen=True)
class LedgerRead:
    records: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]

    @property
    def history(self) -> History:
        return History.from_records(self.records)


def read_ledger(path: str | os.PathLike[str]) -> LedgerRead:
    """All readable records, oldest first. A missing file is an empty ledger."""
    p = Path(path)
    if not p.exists():
        return LedgerRead((), ())
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {p}: {exc.strerror}") from None
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    lines = data.split(b"\n")
    last = len(lines) - 1
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            torn = number - 1 == last  # no newline after it: the write never finished
            warnings.append(
                f"{p}:{number}: {'torn last line' if torn else 'unreadable record'} (an interrupted write); ignored"
            )
            continue
        records.append(record)
    return LedgerRead(tuple(records), tuple(warnings))


class Ledger:
    """Appends records for one run. Thread-safe; use as a context manager."""

    def __init__(
        self, path: str | os.PathLike[str], *, run_id: str | None = None, commit: str | None = None, clock: Any = None
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.commit = commit
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> Ledger:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        os.write(self._fd, b"\n")  # close off a torn record; reading reports it
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        full = {"v": FORMAT, "time": utc_iso(self._clock()), "run": self.run_id, "commit": self.commit, **record}
        line = (json.dumps(full, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise LedgerError("the ledger is not open")
            try:
                os.write(self._fd, line)
            except OSError as exc:
                raise LedgerError(f"cannot append to the ledger {self.path}: {exc.strerror}") from None
        return full
