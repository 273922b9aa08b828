"""Stage 1: the desired-state folder -> one validated, immutable DesiredState.

Reads local files only; never the network. Every problem in every file is
collected and raised together as one DesiredStateError (each finding named by
file and line), so a reviewer fixes a pull request in one pass. Nothing
downstream runs unless the whole tree is valid.
"""

from __future__ import annotations

import hashlib
import math
import os
from datetime import timedelta
from typing import Any

from reconciler.core import collector
from reconciler.core.desired.files import SourceFile, read_tree
from reconciler.core.desired.schema import schema_errors
from reconciler.core.desired.yamlload import LoadedYaml, YamlProblem, load_yaml
from reconciler.core.instants import parse_instant
from reconciler.core.model import (
    DEFAULT_FLAPPING_MAX_CORRECTIONS,
    DEFAULT_FLAPPING_WINDOW,
    DEFAULT_MAX_CHANGES,
    DesiredEntry,
    DesiredFile,
    DesiredState,
    MissingUsers,
    Policy,
    Source,
    UserState,
    loaded_entry,
    source_at,
)
from reconciler.core.settings import Settings
from reconciler.errors import DesiredStateError, Finding

__all__ = ["digest_of", "load_desired", "parse_instant", "parse_window"]

_WINDOW_UNITS = {"m": 60, "h": 3600, "d": 86400}
_STATES = {s.value: s for s in UserState}  # the schema has checked the value; Enum() is slow per entry
_INACTIVE = UserState.INACTIVE  # what an entry without a state asks for


def parse_window(text: str) -> timedelta:
    """'90m', '24h', '7d' (the schema has checked the shape) -> a timedelta."""
    return timedelta(seconds=int(text[:-1]) * _WINDOW_UNITS[text[-1]])


def digest_of(files: list[SourceFile] | tuple[DesiredFile, ...]) -> str:
    """A digest of the tree: each file's path relative to the root and content hash."""
    h = hashlib.sha256()
    for f in files:
        rel = f.rel if isinstance(f, SourceFile) else f.path
        h.update(f"{rel}\0{f.sha256}\n".encode())
    return "sha256:" + h.hexdigest()


class _Duplicates:
    """The same user (same email, or same id) declared twice is an error naming both places.

    Filled while the entries are built (one pass instead of two over 100,000 entries);
    its findings go after every other finding, as they always have.
    """

    __slots__ = ("by_email", "by_id", "findings")

    def __init__(self) -> None:
        self.by_email: dict[str, DesiredEntry] = {}  # lower-cased email -> first entry
        self.by_id: dict[str, DesiredEntry] = {}
        self.findings: list[Finding] = []

    def report(self, kind: str, entry: DesiredEntry, previous: DesiredEntry) -> None:
        if previous.state != entry.state:
            what = f"declared twice with different states: {entry.state} here, {previous.state} at {previous.source}"
        else:
            what = f"declared twice: also at {previous.source}; keep one entry"
        label = entry.id if kind == "id" else repr(entry.email)
        self.findings.append(Finding(entry.source.path, entry.source.line, f"{kind} {label} {what}"))


def _entries(
    file: SourceFile, data: dict[str, Any], loaded: LoadedYaml, findings: list[Finding], seen: _Duplicates
) -> list[DesiredEntry]:
    """The file's entries (valid against the schema), each checked for a duplicate as it is built."""
    entries: list[DesiredEntry] = []
    append = entries.append
    path = file.path
    users: list[dict[str, Any]] = data.get("users") or []
    lines = loaded.item_lines("users")
    if len(lines) < len(users):  # both readers give every item's line; a missing one reads as line 1
        lines = [*lines, *[1] * (len(users) - len(lines))]
    by_email, by_id = seen.by_email, seen.by_id
    for index, (raw, line) in enumerate(zip(users, lines, strict=False)):
        if len(raw) == 1:  # an address or an id alone (the schema asks for one): most entries of a big file
            email = raw.get("email")
            user_id = None if email is not None else raw["id"]
            entry = loaded_entry(email, user_id, _INACTIVE, source_at(path, line), None, None, None, None)
        else:
            get = raw.get
            effective = None
            if "effective" in raw:
                try:
                    effective = parse_instant(raw["effective"])
                except ValueError as exc:
                    where = loaded.line_at(["users", index, "effective"])
                    findings.append(Finding(path, where, f"users[{index}].effective: {exc}"))
                    continue
            email = get("email")
            user_id = get("id")
            entry = loaded_entry(
                email,
                user_id,
                _STATES[get("state", "inactive")],
                source_at(path, line),
                get("reason"),
                get("ticket"),
                effective,
                get("reason_code"),
            )
        append(entry)
        # One finding per entry is enough: a repeated email is reported, and its id is not looked at.
        if email is not None:
            previous = by_email.setdefault(email.lower(), entry)
            if previous is not entry:
                seen.report("email", entry, previous)
                continue
        if user_id is not None:
            previous = by_id.setdefault(user_id, entry)
            if previous is not entry:
                seen.report("id", entry, previous)
    return entries


def _policy(file: SourceFile, raw: dict[str, Any], loaded: LoadedYaml) -> Policy:
    flapping: dict[str, Any] = raw.get("flapping") or {}
    return Policy(
        protected=frozenset(str(p).lower() for p in raw.get("protected", [])),
        max_changes=int(raw.get("max_changes", DEFAULT_MAX_CHANGES)),
        max_changes_percent=(float(raw["max_changes_percent"]) if "max_changes_percent" in raw else None),
        missing_users=MissingUsers(raw.get("missing_users", MissingUsers.ERROR.value)),
        source=Source(file.path, loaded.line_at(["policy"]) or 1),
        default_reason_code=raw.get("default_reason_code"),
        flapping_max_corrections=int(flapping.get("max_corrections", DEFAULT_FLAPPING_MAX_CORRECTIONS)),
        flapping_window=parse_window(flapping["window"]) if "window" in flapping else DEFAULT_FLAPPING_WINDOW,
    )


def load_desired(root: str | os.PathLike[str], settings: Settings | None = None) -> DesiredState:
    # A 100,000-entry file makes about 300,000 objects in one go and no reference cycles: the
    # collector would walk them again and again (0.2-0.4 s, a fifth of a validate) for nothing.
    with collector.paused():
        return _load(root, settings)


def _load(root: str | os.PathLike[str], settings: Settings | None) -> DesiredState:
    settings = settings or Settings()
    files, findings = read_tree(root, max_file_bytes=settings.max_file_bytes)
    entries: list[DesiredEntry] = []
    seen = _Duplicates()
    policy: Policy | None = None
    for file in files:
        try:
            loaded = load_yaml(file.text)
        except YamlProblem as problem:
            findings.append(problem.finding(file.path))
            continue
        problems = [Finding(file.path, loaded.line_at(path), message) for path, message in schema_errors(loaded.data)]
        if problems:
            findings.extend(problems)
            continue
        data: dict[str, Any] = loaded.data
        entries.extend(_entries(file, data, loaded, findings, seen))
        if "policy" in data:
            this = _policy(file, data["policy"], loaded)
            percent = this.max_changes_percent
            if percent is not None and not math.isfinite(percent):
                findings.append(
                    Finding(
                        file.path,
                        loaded.line_at(["policy", "max_changes_percent"]),
                        "policy.max_changes_percent must be a number above 0 and at most 100",
                    )
                )
            if policy is not None:
                findings.append(
                    Finding(
                        file.path,
                        this.source.line if this.source else None,
                        f"a second policy block; the desired-state tree may hold one (the first is at {policy.source})",
                    )
                )
            else:
                policy = this
    findings.extend(seen.findings)
    if findings:
        raise DesiredStateError(findings)
    return DesiredState(
        root=os.fspath(root),
        entries=tuple(entries),
        policy=policy or Policy(),
        files=tuple(DesiredFile(f.rel, f.sha256) for f in files),
        digest=digest_of(files),
    )
