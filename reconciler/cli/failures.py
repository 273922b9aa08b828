"""Errors as data: a failed command still prints its document when asked for JSON or Markdown.

A pull-request comment built from ``plan --format markdown`` must not be
empty exactly when the files are invalid or the credentials are wrong. So when
a verb fails with an exception, main.py turns it here into ``problems`` of the
same shape as a plan's (severity, code, message, source, id) and prints the
verb's usual document with them; the human message still goes to stderr and
the exit code stays the contract. Building messages from exceptions is the
CLI's job, so it lives here, not in the core.

Codes: ``desired.invalid`` (one per located finding), ``config.invalid``,
``genesys.auth``, ``genesys.unreachable``, ``genesys.error``,
``ledger.unusable``, ``plan.stale``, ``internal.error``.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.cli.common import os_error_message
from reconciler.core.plan import Plan
from reconciler.core.report import jsondoc as json_report
from reconciler.core.report import markdown as markdown_report
from reconciler.core.resolve import Problem
from reconciler.core.results import ApplyResult, Outcome, Result
from reconciler.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DesiredStateError,
    LedgerError,
    StalePlan,
    Unreachable,
)

__all__ = ["failure_output", "problems_from", "refused_apply_document"]


def problems_from(exc: BaseException) -> tuple[Problem, ...]:
    """The problems an exception stands for, as the plan reports its own."""
    if isinstance(exc, DesiredStateError):
        return tuple(
            Problem("error", "desired.invalid", f.message, f"{f.path}:{f.line}" if f.line else f.path)
            for f in exc.findings
        )
    if isinstance(exc, StalePlan):
        return tuple(Problem("error", "plan.stale", reason) for reason in (str(exc), *exc.reasons))
    if isinstance(exc, AuthError):
        return (Problem("error", "genesys.auth", str(exc)),)
    if isinstance(exc, Unreachable):
        return (Problem("error", "genesys.unreachable", str(exc)),)
    if isinstance(exc, ApiError):
        return (Problem("error", "genesys.error", str(exc)),)
    if isinstance(exc, LedgerError):
        return (Problem("error", "ledger.unusable", str(exc)),)
    if isinstance(exc, ConfigError):
        return (Problem("error", "config.invalid", str(exc)),)
    if isinstance(exc, OSError):
        return (Problem("error", "config.invalid", os_error_message(exc)),)
    return (Problem("error", "internal.error", f"unexpected {type(exc).__name__}: {exc}"),)


def refused_apply_document(plan: Plan, why: str, extra: tuple[Problem, ...] = ()) -> dict[str, Any]:
    """A refused apply in JSON: the plan, every change ``skipped`` with why, and any extra problems."""
    results = tuple(Result(c, Outcome.SKIPPED, f"not applied: {why}") for c in plan.changes)
    doc = json_report.apply_document(ApplyResult(plan=plan, results=results))
    doc["problems"] = [*doc["problems"], *(_problem(p) for p in extra)]
    return doc


def _problem(p: Problem) -> dict[str, Any]:
    return {"severity": p.severity, "code": p.code, "message": p.message, "source": p.source, "id": p.user_id}


def _json(command: str, problems: tuple[Problem, ...]) -> dict[str, Any]:
    """The verb's usual keys, empty, plus ``problems``: a script reading them never meets a missing key."""
    if command in ("plan", "apply"):
        plan = Plan(changes=(), problems=problems)
        if command == "apply":
            return json_report.apply_document(ApplyResult(plan=plan, results=()))
        return json_report.plan_document(plan)
    listed = [_problem(p) for p in problems]
    shapes: dict[str, dict[str, Any]] = {
        "validate": {
            "valid": False,
            "files": 0,
            "users": 0,
            "digest": None,
            "errors": [f"{p.source}: {p.message}" if p.source else p.message for p in problems],
        },
        "drift": {"drift": [], "checked": 0},
        "audit": {"ledger": None, "warnings": [], "rows": []},
        "doctor": {"ok": False, "checks": []},
    }
    return {
        "format_version": json_report.FORMAT_VERSION,
        "kind": command,
        **shapes.get(command, {}),
        "problems": listed,
    }


def failure_output(command: str, fmt: str, problems: tuple[Problem, ...]) -> str | None:
    """The document a failed verb prints on stdout in ``fmt``; None for text (stderr says it all)."""
    if fmt == "json":
        return json.dumps(_json(command, problems), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown_report.render_failure(command, problems)
    return None
