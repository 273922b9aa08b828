"""Renderings of a proposal: a JSON document for machines, Markdown for the pull-request body. Pure.

One document (``csv_document`` or ``dormant_document``) holds everything; the
Markdown is drawn from it, so the two never disagree. The JSON keys are a
contract pinned by a test; ``format_version`` changes on any incompatible change.
Text from an export or from Genesys is flattened to one printable line and
table-escaped before it reaches Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.core.propose.hrcsv import CsvReading, Leaver, RowNote
from reconciler.core.propose.select import Activity, DormantSelection, Skip
from reconciler.core.propose.yamlout import comment_text, instant
from reconciler.core.report.safe import md_code, md_text

__all__ = ["DEFAULT_ROWS", "csv_document", "dormant_document", "render_markdown"]

FORMAT_VERSION = "1"
DEFAULT_ROWS = 20


def _note(n: RowNote) -> dict[str, Any]:
    return {"row": n.row, "email": n.email, "message": n.message}


def _skip(s: Skip) -> dict[str, Any]:
    return {"row": s.row, "label": s.label, "why": s.why}


def _leaver(leaver: Leaver, notes: Mapping[str, str], info: Mapping[str, str]) -> dict[str, Any]:
    return {
        "row": leaver.row,
        "email": leaver.email,
        "effective": instant(leaver.effective) if leaver.effective else None,
        "reason": leaver.reason,
        "ticket": leaver.ticket,
        "reason_code": leaver.reason_code,
        "check": notes.get(leaver.email.lower()),
        "note": info.get(leaver.email.lower()),
    }


def csv_document(
    reading: CsvReading,
    proposed: Sequence[Leaver],
    skipped: Sequence[Skip],
    *,
    path: str,
    sha256: str,
    out: str | None,
    notes: Mapping[str, str] | None = None,
    info: Mapping[str, str] | None = None,
    org_checked: bool = False,
) -> dict[str, Any]:
    notes, info = notes or {}, info or {}
    return {
        "format_version": FORMAT_VERSION,
        "kind": "proposal",
        "source": {"type": "csv", "file": path, "sha256": sha256, "delimiter": reading.delimiter},
        "columns": dict(reading.columns),
        "out": out,
        "summary": {
            "rows": reading.rows,
            "blank_rows": reading.blank,
            "proposed": len(proposed),
            "skipped": len(skipped),
            "bad_rows": len(reading.bad),
            "warnings": len(reading.warnings),
            "flagged": sum(1 for p in proposed if p.email.lower() in notes),
            "org_checked": org_checked,
        },
        "entries": [_leaver(p, notes, info) for p in proposed],
        "skipped": [_skip(s) for s in skipped],
        "bad_rows": [_note(n) for n in reading.bad],
        "warnings": [_note(n) for n in reading.warnings],
    }


def _activity(user: Activity, now: datetime) -> dict[str, Any]:
    idle = user.idle(now)
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "department": user.department,
        "title": user.title,
        "last_activity": user.last.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if user.last else None,
        "dormancy": user.dormancy.value,
        "idle_days": idle.days if idle is not None else None,
    }


def dormant_document(
    selection: DormantSelection, *, age_text: str, now: datetime, api_url: str, out: str | None, calls: int
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "proposal",
        "source": {"type": "dormant", "age": age_text, "scanned_at": instant(now), "api_url": api_url},
        "out": out,
        "summary": {
            "scanned": selection.scanned,
            "recent": selection.recent,
            "dormant": len(selection.dormant),
            "unknown": len(selection.unknown),
            "skipped": len(selection.skipped),
            "api_calls": calls,
        },
        "entries": [_activity(u, now) for u in selection.dormant],
        "unknown": [_activity(u, now) for u in selection.unknown],
        "skipped": [_skip(s) for s in selection.skipped],
    }


def _cell(value: object) -> str:
    """One line of text (comment_text flattens it), then the Markdown escaping every rendering uses (safe.py)."""
    return md_text(comment_text("" if value is None else str(value))) or "–"


def _table(header: list[str], rows: list[list[object]], total: int, max_rows: int) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:max_rows]]
    if total > max_rows:
        lines.append(f"\n…and {total - max_rows} more (all of them are in the file).")
    return lines


def _issues(title: str, items: list[dict[str, Any]], max_rows: int) -> list[str]:
    if not items:
        return []
    lines = [f"### {title} ({len(items)})", ""]
    for item in items[:max_rows]:
        where = f"row {item['row']}: " if item.get("row") else ""
        who = item.get("email") or item.get("label")
        lines.append(f"- {where}{_cell(who) + ': ' if who else ''}{_cell(item.get('message') or item.get('why'))}")
    if len(items) > max_rows:
        lines.append(f"- …and {len(items) - max_rows} more")
    return [*lines, ""]


def _check_cell(entry: Mapping[str, Any], checked: bool) -> str:
    if entry["check"]:
        return f"**{entry['check']}**"
    return entry["note"] or ("ok" if checked else "not checked")


def render_markdown(doc: Mapping[str, Any], *, max_rows: int = DEFAULT_ROWS) -> str:
    """A pull-request body: counts, then bad rows and skips, then the first rows of the table."""
    s, src = doc["summary"], doc["source"]
    if src["type"] == "csv":
        lines = [
            f"## Leavers from {md_code(comment_text(src['file']))}",
            "",
            f"**{s['proposed']}** proposed from {s['rows']} rows; {s['skipped']} skipped (already declared or "
            f"protected), **{s['bad_rows']}** bad rows, {s['warnings']} warnings"
            + (f", **{s['flagged']}** flagged by the org check" if s["flagged"] else "")
            + f". Source sha256 `{src['sha256'][:12]}`.",
            "",
        ]
        lines += _issues("Bad rows (not proposed)", doc["bad_rows"], max_rows)
        lines += _issues("Warnings", doc["warnings"], max_rows)
        lines += _issues("Skipped", doc["skipped"], max_rows)
        rows = [
            [
                e["row"],
                e["email"],
                e["effective"],
                e["reason"],
                e["ticket"],
                e["reason_code"],
                _check_cell(e, s["org_checked"]),
            ]
            for e in doc["entries"]
        ]
        header = ["row", "email", "effective", "reason", "ticket", "reason code", "check"]
        if rows:
            lines += _table(header, rows, len(rows), max_rows)
    else:
        lines = [
            f"## Dormant accounts (no activity in {_cell(src['age'])})",
            "",
            f"Scanned **{s['scanned']}** active users at {src['scanned_at']}: **{s['dormant']}** dormant, "
            f"{s['unknown']} with last activity unknown, {s['skipped']} already declared or protected. "
            "Every entry in the file is commented out: merging it as is changes nothing.",
            "",
        ]
        entries = doc["entries"] + doc["unknown"]
        rows = [
            [
                e["email"] or e["id"],
                e["idle_days"] if e["idle_days"] is not None else ("never" if e["dormancy"] == "never" else "unknown"),
                e["last_activity"] or ("never" if e["dormancy"] == "never" else "unknown"),
                e["department"],
                e["title"],
            ]
            for e in entries
        ]
        if rows:
            lines += _table(["user", "idle days", "last activity", "department", "title"], rows, len(rows), max_rows)
    return "\n".join(lines).rstrip("\n") + "\n"
