"""Saved plans: `plan --out plan.json` and `apply plan.json`. Pure (but for reading and writing the file).

A saved plan is exactly the JSON document `plan --format json` prints (which
already names the desired-state folder, its digest and every file's hash).
``plan_from_document`` turns it back into the same immutable Plan.

A saved plan is re-verified, never trusted (Terraform's rule): at apply time
the engine plans again from the files and the live org, and ``differences``
compares the two. Apply goes ahead only if the new plan has no error, the
files have the saved digest, and its changes equal the saved ones exactly
(action, id, version, before, after, reason code; no more, no fewer). Nothing in the file
decides what is allowed: not its problems, not its budget figures, not its
folder.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.core.attribution import UNKNOWN, changed_by_from_dict
from reconciler.core.desired.state import parse_window
from reconciler.core.flapping import Held
from reconciler.core.instants import parse_instant
from reconciler.core.model import REASON_CODES, Action, DesiredFile
from reconciler.core.plan import Change, Pending, Plan, Problem
from reconciler.core.report.jsondoc import FORMAT_VERSION
from reconciler.errors import ConfigError

__all__ = ["differences", "load_plan_file", "plan_from_document"]


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
        targets=tuple(str(t) for t in desired["targets"]),
        allow_mass_change=desired.get("allow_mass_change") is True,
        release=tuple(str(r) for r in desired.get("release", [])),
    )


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(
            f"{path} is a desired-state file, not a saved plan: apply takes the folder "
            f"(`reconciler apply {Path(path).parent}`) or a plan saved by `reconciler plan --out FILE`"
        )
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return plan_from_document(doc)
    except OSError as exc:
        raise ConfigError(f"cannot read the plan file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        why = f"not JSON: {exc}" if isinstance(exc, ValueError) else f"missing or wrong field {exc}"
        raise ConfigError(
            f"{path} is not a reconciler plan file ({why}); apply takes a desired-state folder or a plan "
            f"saved by `reconciler plan --out FILE`"
        ) from None


def _file_reasons(saved: Plan, fresh: Plan) -> list[str]:
    then = {f.path: f.sha256 for f in saved.desired_files}
    now = {f.path: f.sha256 for f in fresh.desired_files}
    reasons = []
    for name in sorted(then.keys() | now.keys()):
        if name not in now:
            reasons.append(f"file {name} was removed")
        elif name not in then:
            reasons.append(f"file {name} was added")
        elif then[name] != now[name]:
            reasons.append(f"file {name} changed")
    return reasons or [f"the desired state's digest is {fresh.desired_digest}, the saved plan's {saved.desired_digest}"]


def _key(c: Change) -> tuple[str, str, int, str, str, str | None]:
    """What decides a write (the reason code picks PUT /state over PATCH). ``reason``, ``source`` are for people."""
    return (c.action.value, c.user_id, c.version, c.before, c.after, c.reason_code)


def _describe(c: Change) -> str:
    code = f" with reason code {c.reason_code}" if c.reason_code else ""
    return f"{c.action.value} {c.email or c.user_id} ({c.user_id}) {c.before} -> {c.after} at version {c.version}{code}"


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """Why ``saved`` may not be applied, given ``fresh``, the plan made now (empty: apply it). Pure."""
    reasons: list[str] = []
    if fresh.desired_digest != saved.desired_digest:
        if saved.desired_root and fresh.desired_root and saved.desired_root != fresh.desired_root:
            # Only informative (the folder never decides anything): the usual cause of a digest that differs.
            reasons.append(
                f"the plan was made for the folder {saved.desired_root}, and this apply re-plans from "
                f"{fresh.desired_root} (give the plan's folder with --desired-state)"
            )
        reasons += _file_reasons(saved, fresh)
    reasons += [f"the plan made now has an error: {p.message} [{p.code}]" for p in fresh.errors]
    surplus = Counter(_key(c) for c in saved.changes)
    surplus.subtract(_key(c) for c in fresh.changes)  # > 0: only in the saved plan; < 0: only in the new one
    fresh_by_user = {(c.action, c.user_id): c for c in fresh.changes}
    saved_by_user = {(c.action, c.user_id) for c in saved.changes}
    for change in saved.changes:
        if surplus[_key(change)] <= 0:
            continue
        surplus[_key(change)] -= 1
        current = fresh_by_user.get((change.action, change.user_id))
        if current is not None and (current.version, current.before) != (change.version, change.before):
            reasons.append(
                f"user {change.email or change.user_id} changed since the plan: version {change.version} -> "
                f"{current.version}, state {change.before} -> {current.before}"
            )
        else:
            reasons.append(f"the saved plan has a change the files and the org do not call for: {_describe(change)}")
    for change in fresh.changes:
        if surplus[_key(change)] >= 0:
            continue
        surplus[_key(change)] += 1
        if (change.action, change.user_id) not in saved_by_user:
            reasons.append(f"the files and the org now call for a change the saved plan lacks: {_describe(change)}")
    return reasons
