"""Proposals -> desired-state YAML for a pull request. Pure.

Two shapes, each with a header comment saying how it was produced and the
``$schema`` line editors use:

* from an HR export, real entries (merging the file deactivates those people,
  after review, through the usual plan and apply);
* from dormant accounts, entries *commented out* inside a flow list
  (``users: [ ... ]``): merging the file as is changes nothing, and
  uncommenting one line proposes exactly that person.

Every scalar that is not an address, an id or a fixed word is double-quoted
with every non-printable character escaped, and comments are flattened to one
printable line: text from an export or from Genesys can never break the
file, hide a line from a reviewer, or reach a terminal raw. The result is
loaded back and validated before it is returned; a file the loader would
refuse is a bug, raised, never written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.core.desired.schema import schema_errors
from reconciler.core.desired.yamlload import YamlProblem, load_yaml
from reconciler.core.propose.hrcsv import Leaver
from reconciler.core.propose.select import Activity, DormantSelection
from reconciler.errors import ReconcilerError

__all__ = ["CsvSource", "comment_text", "instant", "quoted", "render_csv_proposal", "render_dormant_proposal"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-@]*")


def quoted(text: str) -> str:
    """A YAML double-quoted scalar that loads back to exactly ``text`` and shows every odd character."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch != "\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _scalar(text: str) -> str:
    return text if _PLAIN.fullmatch(text) and "@" in text else quoted(text)


def comment_text(text: str) -> str:
    """One printable line for a ``#`` comment (or a terminal): odd characters become '?'."""
    spaced = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return " ".join("".join(ch if ch.isprintable() else "?" for ch in spaced).split())


def instant(value: datetime) -> str:
    """ISO 8601 with its offset (``Z`` for UTC): the reviewer sees the zone HR meant."""
    if value.utcoffset() == timedelta(0):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat(timespec="seconds")


def _check(text: str) -> str:
    try:
        data = load_yaml(text).data
    except YamlProblem as exc:  # a bug, not bad input
        raise ReconcilerError(f"propose produced invalid YAML: {exc.message}") from None
    problems = list(schema_errors(data))
    if problems:
        raise ReconcilerError(f"propose produced invalid desired state: {problems[0][1]}")
    return text


@dataclass(frozen=True, slots=True)
class CsvSource:
    """Where an HR proposal came from, for its header."""

    path: str
    sha256: str
    rows: int
    bad: int
    skipped: int
    default_time: str  # "17:00 in UTC"


def render_csv_proposal(
    leavers: Sequence[Leaver],
    source: CsvSource,
    *,
    schema_ref: str,
    notes: Mapping[str, str] | None = None,
    info: Mapping[str, str] | None = None,
) -> str:
    """Entries in the export's order; ``notes`` (problems) and ``info`` (lower-cased email -> text) come
    from --check-org."""
    notes, info = notes or {}, info or {}
    lines = [
        f"# yaml-language-server: $schema={schema_ref}",
        "#",
        f"# Proposed by `reconciler propose --from-csv` from {comment_text(source.path)}",
        f"# (sha256:{source.sha256}): {source.rows} rows, {len(leavers)} leavers proposed,",
        f"# {source.skipped} skipped (already declared or protected), {source.bad} bad rows.",
        f"# A termination date without a time means {source.default_time}.",
        "# Review each entry, then merge: `reconciler plan` shows exactly what the merge will change.",
    ]
    lines.append("users:" if leavers else "users: []")
    for leaver in leavers:
        note = notes.get(leaver.email.lower())
        if note:
            lines.append(f"  # CHECK: {comment_text(note)}")
        if leaver.email.lower() in info:
            lines.append(f"  # NOTE: {comment_text(info[leaver.email.lower()])}")
        lines.append(f"  - email: {_scalar(leaver.email)}  # row {leaver.row}")
        if leaver.effective is not None:
            lines.append(f"    effective: {instant(leaver.effective)}")
        if leaver.reason:
            lines.append(f"    reason: {quoted(leaver.reason)}")
        if leaver.ticket:
            lines.append(f"    ticket: {quoted(leaver.ticket)}")
        if leaver.reason_code:
            lines.append(f"    reason_code: {leaver.reason_code}")
    return _check("\n".join(lines) + "\n")


def _idle(user: Activity, now: datetime) -> str:
    if user.last is None:
        return "never active" if user.dormancy == "never" else "last activity unknown"
    days = (now - user.last).days
    return f"idle {days} days (last activity {user.last.astimezone(UTC).strftime('%Y-%m-%d')})"


def _about(user: Activity, now: datetime) -> str:
    parts = [_idle(user, now), user.department or "no department", user.title or "no title", user.name or "no name"]
    return comment_text(" · ".join(parts))


def _entry(user: Activity, now: datetime, age_text: str) -> str:
    fields = [f"email: {_scalar(user.email)}"] if user.email and _PLAIN.fullmatch(user.email) else []
    fields.append(f"id: {user.id}")
    if user.last is not None:
        why = f"Dormant: no activity since {user.last.astimezone(UTC).strftime('%Y-%m-%d')}"
    elif user.dormancy == "never":
        why = "Dormant: never active"
    else:
        why = "Last activity unknown (Genesys returned no lastTokenIssued)"
    fields.append(f"reason: {quoted(why)}")
    return "{" + ", ".join(fields) + "},"


def render_dormant_proposal(
    selection: DormantSelection, *, age_text: str, now: datetime, source: str, schema_ref: str
) -> str:
    """Commented-out entries, longest dormant first; users whose activity is unknown in their own block."""
    skipped = len(selection.skipped)
    lines = [
        f"# yaml-language-server: $schema={schema_ref}",
        "#",
        f"# Proposed by `reconciler propose --dormant {age_text}` at {instant(now)} (Genesys's clock)",
        f"# from {comment_text(source)}. Last activity is lastTokenIssued (SSO sign-ins included).",
        f"# Active users scanned: {selection.scanned}. Active within {age_text}: {selection.recent}. "
        f"Dormant: {len(selection.dormant)}.",
        f"# Last activity unknown: {len(selection.unknown)}. Left out (already declared or protected): {skipped}.",
        "#",
        "# Every entry is commented out: merging this file as is changes nothing.",
        "# Uncomment the line of each person who has left (and say why in `reason`).",
        "users: [",
    ]
    for user in selection.dormant:
        lines.append(f"  # {_about(user, now)}")
        lines.append(f"  # {_entry(user, now, age_text)}")
    if selection.unknown:
        lines += [
            "",
            "  # Last activity UNKNOWN: Genesys did not return lastTokenIssued for these users",
            "  # (an expansion is best effort). This does not mean they were never active.",
        ]
        for user in selection.unknown:
            lines.append(f"  # {_about(user, now)}")
            lines.append(f"  # {_entry(user, now, age_text)}")
    lines.append("]")
    return _check("\n".join(lines) + "\n")
