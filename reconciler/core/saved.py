"""Saved plans: `plan --out plan.json` and `apply plan.json`.

A saved plan is exactly the JSON document `plan --format json` prints (which
already names the desired-state folder, its digest and every file's hash).
``plan_from_document`` turns it back into the same immutable Plan, so apply
runs what was reviewed and nothing else. Staleness (files or users that moved
since) is judged by ``stale_reasons``, a pure comparison; the engine supplies
the fresh reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.core.attribution import UNKNOWN, changed_by_from_dict
from reconciler.core.desired.state import parse_window
from reconciler.core.flapping import Held
from reconciler.core.instants import parse_instant
from reconciler.core.model import REASON_CODES, Action, DesiredEntry, DesiredFile, DesiredState, LiveUser
from reconciler.core.plan import Change, Pending, Plan, Problem
from reconciler.core.report.jsondoc import FORMAT_VERSION, dumps, plan_document
from reconciler.errors import ConfigError

__all__ = ["load_plan_file", "mismatches", "plan_from_document", "stale_reasons", "write_plan_file"]


def _when(raw: Any) -> datetime | None:
    """None stays None; anything else must be an instant (a malformed plan raises ValueError)."""
    return None if raw is None else parse_instant(str(raw), assume_utc=True)


def _reason_code(raw: Any) -> str | None:
    if raw is None:
        return None
    if raw not in REASON_CODES:
        raise ValueError(f"reason_code {raw!r} is not one of {', '.join(REASON_CODES)}")
    return str(raw)


def plan_from_document(doc: Mapping[str, Any]) -> Plan:
    """The inverse of ``plan_document``. Raises ValueError/KeyError/TypeError on a malformed document."""
    if doc.get("kind") != "plan":
        raise ValueError(f"kind is {doc.get('kind')!r}, not 'plan'")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format_version {doc.get('format_version')!r} is not {FORMAT_VERSION!r}")
    desired = doc["desired"]
    changes = tuple(
        Change(
            action=Action(c["action"]),
            user_id=str(c["id"]),
            email=c["email"],
            name=c["name"],
            before=str(c["before"]),
            after=str(c["after"]),
            version=int(c["version"]),
            source=str(c["source"]),
            reason=c["reason"],
            ticket=c["ticket"],
            detail=c["detail"],
            reason_code=_reason_code(c.get("reason_code")),
            changed_by=changed_by_from_dict(c.get("changed_by")),
        )
        for c in doc["changes"]
    )
    pending = tuple(
        Pending(
            action=Action(p["action"]),
            user_id=str(p["id"]),
            email=p["email"],
            name=p["name"],
            effective=_when(p["effective"]) or datetime.min,
            source=str(p["source"]),
            reason=p["reason"],
            ticket=p["ticket"],
            reason_code=_reason_code(p.get("reason_code")),
        )
        for p in doc["pending"]
    )
    problems = tuple(
        Problem(str(p["severity"]), str(p["code"]), str(p["message"]), p["source"], p["id"]) for p in doc["problems"]
    )
    flapping = {p.user_id: p.message for p in problems if p.code == "user.flapping"}
    held = tuple(
        Held(
            user_id=str(h["id"]),
            email=h["email"],
            name=None,
            corrections=int(h["corrections"]),
            window=parse_window(str(h["window"])),
            changed_by=changed_by_from_dict(h["changed_by"]) or UNKNOWN,
            source=str(h["source"]),
            message=flapping.get(str(h["id"]), ""),
        )
        for h in doc.get("held", [])  # plan files from before holds existed have none
    )
    return Plan(
        changes=changes,
        problems=problems,
        pending=pending,
        held=held,
        unchanged=int(doc["summary"]["unchanged"]),
        managed=int(desired["managed"]),
        desired_digest=str(desired["digest"]),
        desired_root=str(desired["path"]),
        desired_files=tuple(DesiredFile(str(f["path"]), str(f["sha256"])) for f in desired["files"]),
        created_at=_when(doc["created_at"]),
        targets=tuple(desired["targets"]),
    )


def write_plan_file(path: str | os.PathLike[str], plan: Plan) -> None:
    """Write atomically: a half-written plan file must never be mistaken for a reviewed plan."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(dumps(plan_document(plan)))
    os.replace(tmp, target)


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return plan_from_document(doc)
    except OSError as exc:
        raise ConfigError(f"cannot read the plan file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a reconciler plan file ({type(exc).__name__}: {exc})") from None


def stale_reasons(
    plan: Plan, desired: DesiredState | None, live: Mapping[str, LiveUser], unreadable: Sequence[str] = ()
) -> list[str]:
    """Why the saved plan no longer describes the world (empty: still current). Pure."""
    reasons: list[str] = []
    if desired is None:
        reasons.append(f"the desired-state folder {plan.desired_root} cannot be read")
    elif desired.digest != plan.desired_digest:
        then = {f.path: f.sha256 for f in plan.desired_files}
        now = {f.path: f.sha256 for f in desired.files}
        for name in sorted(then.keys() | now.keys()):
            if name not in now:
                reasons.append(f"file {name} was removed")
            elif name not in then:
                reasons.append(f"file {name} was added")
            elif then[name] != now[name]:
                reasons.append(f"file {name} changed")
    for user_id in unreadable:
        reasons.append(f"user {user_id} could not be read back")
    seen: set[str] = set()
    for change in plan.changes:
        if change.user_id in seen or change.user_id in unreadable:
            continue
        seen.add(change.user_id)
        who = change.email or change.user_id
        user = live.get(change.user_id)
        if user is None:
            reasons.append(f"user {who} ({change.user_id}) no longer exists")
            continue
        expected_state = change.before if change.action is not Action.REVOKE_TOKENS else change.after
        if user.version != change.version or user.state != expected_state:
            reasons.append(
                f"user {who} changed since the plan: version {change.version} -> {user.version}, "
                f"state {expected_state} -> {user.state}"
            )
    return reasons


def _declared_code(change: Change, entry: DesiredEntry, desired: DesiredState) -> str | None:
    if change.action is not Action.DEACTIVATE:
        return None
    return entry.reason_code or desired.policy.default_reason_code


_SHAPES = {
    Action.DEACTIVATE: ("active", "inactive"),
    Action.REACTIVATE: ("inactive", "active"),
    Action.REVOKE_TOKENS: ("inactive", "inactive"),
}


def mismatches(plan: Plan, desired: DesiredState, live: Mapping[str, LiveUser]) -> list[str]:
    """Changes the desired state does not call for (a plan file edited by hand, or a bug). Pure.

    Every saved change must be one the named desired state asks for: a declared
    user, its declared state, the only transition its action can make, and not
    a protected user. Only then may apply send it.
    """
    by_id = {e.id: e for e in desired.entries if e.id}
    by_email = {e.email_key: e for e in desired.entries if e.email_key}
    reasons: list[str] = []
    for change in plan.changes:
        user = live.get(change.user_id)
        who = change.email or change.user_id
        if (change.before, change.after) != _SHAPES[change.action]:
            reasons.append(
                f"{change.action.value} of {who} goes from {change.before} to {change.after}, "
                f"which that action cannot do"
            )
            continue
        email = user.email.lower() if user is not None and user.email else None
        entry = by_id.get(change.user_id) or (by_email.get(email) if email else None)
        if entry is None:
            reasons.append(f"{who} ({change.user_id}) is not declared in the desired state")
        elif entry.state != change.after:
            reasons.append(f"{who} is declared {entry.state}, but the plan makes it {change.after}")
        elif desired.policy.is_protected(change.user_id, email) or desired.policy.is_protected(None, entry.email):
            reasons.append(f"{who} is protected by the policy")
        elif change.action is not Action.REVOKE_TOKENS and change.reason_code != _declared_code(change, entry, desired):
            reasons.append(
                f"{who}: the plan records reason code {change.reason_code!r}, the desired state says "
                f"{_declared_code(change, entry, desired)!r}"
            )
    return reasons
