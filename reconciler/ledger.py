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

The history is never rewritten. Planning reads a compacted per-user summary
kept beside it plus the records appended since (``read_history``,
``compact``; see the section on growth below); auditing streams every record
(``iter_records``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.core.history import History, HistoryFold
from reconciler.core.instants import utc_iso
from reconciler.core.summary import ROW_LENGTH, LazyUsers, encode_users
from reconciler.errors import LedgerError

__all__ = [
    "FORMAT",
    "HistoryRead",
    "Ledger",
    "LedgerRead",
    "compact",
    "default_ledger_path",
    "iter_records",
    "new_warnings",
    "read_history",
    "read_ledger",
    "summary_path",
]

FORMAT = 1

log = logging.getLogger("reconciler.ledger")


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


def _refuse_irregular(p: Path) -> None:
    """A ledger is a regular file: a folder cannot be read, and a device such as /dev/full would be read forever."""
    if p.exists() and not p.is_file():
        kind = "a directory" if p.is_dir() else "not a regular file"
        raise LedgerError(f"cannot read the ledger {p}: it is {kind}")


def iter_records(path: str | os.PathLike[str], warnings: list[str]) -> Iterator[dict[str, Any]]:
    """Every readable record, oldest first, one line at a time (a ledger of years never sits in memory).

    Torn or unreadable lines are added to ``warnings`` and skipped. A missing file has no records.
    """
    p = Path(path)
    _refuse_irregular(p)
    try:
        fh = open(p, "rb")  # noqa: SIM115  # closed when the generator finishes
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {p}: {exc.strerror}") from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            record = _record(raw)
            if record is None:
                torn = not raw.endswith(b"\n")  # no newline after it: the write never finished
                warnings.append(
                    f"{p}:{number}: {'torn last line' if torn else 'unreadable record'} (an interrupted write); ignored"
                )
                continue
            yield record


def _record(raw: bytes) -> dict[str, Any] | None:
    """One ledger line as a record, or None when it is not a JSON object (a torn or damaged write)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_ledger(path: str | os.PathLike[str]) -> LedgerRead:
    """All readable records, oldest first. A missing file is an empty ledger.

    Holds every record in memory: for tests and small ledgers. Planning reads
    ``read_history`` (the summary and the tail), auditing streams ``iter_records``.
    """
    warnings: list[str] = []
    records = tuple(iter_records(path, warnings))
    return LedgerRead(records, tuple(warnings))


def _where(warning: str) -> str:
    match = re.match(r"(.*?:\d+):", warning)
    return match.group(1) if match else warning


def new_warnings(path: str | os.PathLike[str], warnings: tuple[str, ...]) -> tuple[str, ...]:
    """The warnings not reported before, remembering them beside the ledger (``ledger.jsonl.noted``).

    A torn record stays in the append-only file for ever; warning about it on
    every later command would teach people to ignore the warning. `audit`
    still lists every one. If the note cannot be kept, every warning is new.
    """
    if not warnings:
        return ()
    noted_path = Path(f"{os.fspath(path)}.noted")
    try:
        noted = set(json.loads(noted_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        noted = set()
    # Keyed by "path:line": the same record reads "torn last line" until apply closes it off, then "unreadable".
    fresh = tuple(w for w in warnings if _where(w) not in noted)
    if fresh:
        with contextlib.suppress(OSError):
            noted_path.write_text(json.dumps(sorted(noted | {_where(w) for w in fresh})), encoding="utf-8")
    return fresh


class Ledger:
    """Appends records for one run. Thread-safe; use as a context manager."""

    def __init__(
        self, path: str | os.PathLike[str], *, run_id: str | None = None, commit: str | None = None, clock: Any = None
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id or os.urandom(6).hex()
        self.commit = commit
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._broken: LedgerError | None = None  # why open() failed, raised again by every append

    def __enter__(self) -> Ledger:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open for appending; a LedgerError names the path and the cause.

        After a failed open, every ``append`` raises that same error: apply reports each record
        it could not write and goes on writing to Genesys (a lock-out never waits on its record).
        """
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            in_the_way = " (a file of that name is in the way)" if folder.exists() and not folder.is_dir() else ""
            self._broken = LedgerError(
                f"cannot create the folder {folder} for the ledger {self.path}: {exc.strerror}{in_the_way}"
            )
            raise self._broken from None
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        os.write(self._fd, b"\n")  # close off a torn record; reading reports it
        except OSError as exc:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._broken = LedgerError(f"cannot open the ledger {self.path} for appending: {exc.strerror}")
            raise self._broken from None

    def close(self) -> None:
        """Flush to disk and close; a failure to flush is a LedgerError (the records may be lost)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: a device or pipe, which has nothing to sync
                raise LedgerError(f"cannot flush the ledger {self.path} to disk: {exc.strerror}") from None
        finally:
            os.close(fd)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        full = {"v": FORMAT, "time": utc_iso(self._clock()), "run": self.run_id, "commit": self.commit, **record}
        line = (json.dumps(full, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise self._broken or LedgerError(f"the ledger {self.path} is not open")
            try:
                os.write(self._fd, line)
            except OSError as exc:
                raise LedgerError(f"cannot append to the ledger {self.path}: {exc.strerror}") from None
        log.debug(  # the journal: -vv
            "journal: %s %s %s%s",
            record.get("event"),
            record.get("action"),
            record.get("user_id"),
            f" -> {record['outcome']}" if record.get("outcome") else "",
        )
        return full


# --- growth: the compacted summary beside the append-only history ------------------------------
#
# The history file is never rewritten. Beside it, ``<name>.summary.json`` holds the fold of the
# history up to a byte offset (core/summary.py), so a plan or a service tick reads the summary and
# only the records appended since: its cost follows the users the tool has touched, not the years
# of records behind them. The summary is a cache: it names the offset and hashes of the history
# bytes it covers, and any mismatch (a restored, truncated or replaced history) means it is ignored
# and the whole history is folded again. It is replaced only whole, by a crash-safe swap (write a
# temporary file, fsync, rename over, fsync the folder): a reader sees the old summary or the new.

SUMMARY_FORMAT = 1
COMPACT_AFTER_BYTES = 4 << 20  # rewrite the summary once this much history has been appended since
_PROBE = 4096  # bytes of the history hashed at each end of the summary's offset


def summary_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.stem + ".summary.json")


@dataclass(frozen=True)
class HistoryRead:
    history: History
    warnings: tuple[str, ...]
    summary_offset: int  # history bytes the summary covered (0: none used)
    end: int  # history bytes folded in all (complete lines only)
    lines: int


def _probe(fh: Any, offset: int) -> tuple[str, str]:
    fh.seek(0)
    head = hashlib.sha256(fh.read(min(offset, _PROBE))).hexdigest()
    start = max(0, offset - _PROBE)
    fh.seek(start)
    tail = hashlib.sha256(fh.read(offset - start)).hexdigest()
    return head, tail


def _load_summary(path: Path, fh: Any, size: int, warnings: list[str]) -> tuple[LazyUsers, int, int] | None:
    spath = summary_path(path)
    try:
        data = spath.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.append(f"cannot read the ledger summary {spath}: {exc.strerror}; folding the whole ledger")
        return None
    head_line, _, body = data.partition(b"\n")
    try:
        head = json.loads(head_line)
        offset, lines = int(head["offset"]), int(head["lines"])
        ok = (
            head.get("format") == SUMMARY_FORMAT
            and hashlib.sha256(body).hexdigest() == head["users_sha256"]
            and 0 <= offset <= size
            and _probe(fh, offset) == (head["head_sha256"], head["tail_sha256"])
        )
        rows = json.loads(body) if ok else None
    except (ValueError, KeyError, TypeError):
        ok, rows = False, None
    # Every row the shape this version writes, checked once here (a few ms for 100,000 users):
    # a row that failed to decode later would read as "no history", which must never happen silently.
    if not ok or not isinstance(rows, dict) or not all(type(r) is list and len(r) == ROW_LENGTH for r in rows.values()):
        warnings.append(f"the ledger summary {spath} does not match the ledger; folding the whole ledger")
        return None
    warnings.extend(str(w) for w in head.get("warnings") or ())
    return LazyUsers(rows), offset, lines


def read_history(path: str | os.PathLike[str]) -> HistoryRead:
    """The folded history: the summary plus the records appended since. A missing file is empty."""
    p = Path(path)
    warnings: list[str] = []
    _refuse_irregular(p)
    try:
        fh = open(p, "rb")  # noqa: SIM115  # closed below; the summary check reads it too
    except FileNotFoundError:
        return HistoryRead(History(), (), 0, 0, 0)
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {p}: {exc.strerror}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        summary = _load_summary(p, fh, size, warnings)
        base, start, number = summary if summary is not None else (None, 0, 0)
        fold = HistoryFold(base)
        end = start
        fh.seek(start)
        for raw in fh:
            if not raw.endswith(b"\n"):  # still being written, or torn: never covered by a summary
                warnings.append(f"{p}:{number + 1}: torn last line (an interrupted write); ignored")
                break
            number += 1
            end += len(raw)
            if not raw.strip():
                continue
            record = _record(raw)
            if record is None:
                warnings.append(f"{p}:{number}: unreadable record (an interrupted write); ignored")
                continue
            fold.add(record)
    return HistoryRead(fold.history(), tuple(warnings), start, end, number)


def compact(path: str | os.PathLike[str], *, min_bytes: int | None = None) -> bool:
    """Rewrite the summary if at least ``min_bytes`` of history were appended since it (or it is unusable).

    Returns whether a new summary was written. Failing to write one is not an error
    (the history is the record; the summary only saves reading it): a LedgerError says why.
    """
    p = Path(path)
    read = read_history(p)
    threshold = COMPACT_AFTER_BYTES if min_bytes is None else min_bytes
    if read.end == 0 or read.end - read.summary_offset < threshold:
        return False
    with open(p, "rb") as fh:
        head_sha, tail_sha = _probe(fh, read.end)
    body = json.dumps(encode_users(read.history.users), separators=(",", ":")).encode()
    header = {
        "format": SUMMARY_FORMAT,
        "offset": read.end,
        "lines": read.lines,
        "head_sha256": head_sha,
        "tail_sha256": tail_sha,
        "users_sha256": hashlib.sha256(body).hexdigest(),
        "users": len(read.history.users),
        # Unreadable records stay reported after they are folded past; a torn last line is not one yet.
        "warnings": [w for w in read.warnings if "unreadable record" in w][:100],
    }
    _swap(summary_path(p), json.dumps(header, separators=(",", ":")).encode() + b"\n" + body)
    return True


def _swap(target: Path, data: bytes) -> None:
    """Replace ``target`` whole: a crash leaves the old file or the new one, never half of either."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise LedgerError(f"cannot write the ledger summary {target}: {exc.strerror}") from None
