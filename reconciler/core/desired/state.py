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
)
from reconciler.core.settings import Settings
from reconciler.errors import DesiredStateError, Finding

__all__ = ["digest_of", "load_desired", "parse_instant", "parse_window"]

_WINDOW_UNITS = {"m": 60, "h": 3600, "d": 86400}
_STATES = {s.value: s for s in UserState}  # the schema has checked the value; Enum() is slow per entry


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


def _entries(file: SourceFile, data: dict[str, Any], loaded: LoadedYaml, findings: list[Finding]) -> list[DesiredEntry]:
    entries: list[DesiredEntry] = []
    lines = loaded.item_lines("users")
    for index, raw in enumerate(data.get("users") or []):
        line = lines[index] if index < len(lines) else 1
        effective = None
        if "effective" in raw:
            try:
                effective = parse_instant(raw["effective"])
            except ValueError as exc:
                findings.append(
                    Finding(
                        file.path, loaded.line_at(["users", index, "effective"]), f"users[{index}].effective: {exc}"
                    )
                )
                continue
        state = _STATES[raw.get("state", "inactive")]
        entries.append(
            DesiredEntry(
                email=raw.get("email"),
                id=raw.get("id"),
                state=state,
                source=Source(file.path, line),
                reason=raw.get("reason"),
                ticket=raw.get("ticket"),
                effective=effective,
                reason_code=raw.get("reason_code"),
            )
        )
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


def _check_duplicates(entries: list[DesiredEntry], findings: list[Finding]) -> None:
    """The same user (same email, or same id) declared twice is an error naming both places."""
    first_by_key: dict[tuple[str, str], DesiredEntry] = {}
    for entry in entries:
        for kind, key in (("email", entry.email_key), ("id", entry.id)):
            if key is None:
                continue
            previous = first_by_key.setdefault((kind, key), entry)
            if previous is entry:
                continue
            if previous.state != entry.state:
                what = (
                    f"declared twice with different states: {entry.state} here, {previous.state} at {previous.source}"
                )
            else:
                what = f"declared twice: also at {previous.source}; keep one entry"
            label = key if kind == "id" else repr(entry.email)
            findings.append(Finding(entry.source.path, entry.source.line, f"{kind} {label} {what}"))
            break  # one finding per entry is enough


def load_desired(root: str | os.PathLike[str], settings: Settings | None = None) -> DesiredState:
    settings = settings or Settings()
    files, findings = read_tree(root, max_file_bytes=settings.max_file_bytes)
    entries: list[DesiredEntry] = []
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
        entries.extend(_entries(file, data, loaded, findings))
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
    _check_duplicates(entries, findings)
    if findings:
        raise DesiredStateError(findings)
    return DesiredState(
        root=os.fspath(root),
        entries=tuple(entries),
        policy=policy or Policy(),
        files=tuple(DesiredFile(f.rel, f.sha256) for f in files),
        digest=digest_of(files),
    )
