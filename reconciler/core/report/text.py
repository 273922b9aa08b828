"""Stage 5 (text): Plan / ApplyResult -> what a person reads in a terminal. Pure.

Modelled on ``terraform plan``: one block per user with the writes that will
be made, then pending entries, warnings and errors, then one summary line.
Plain text; the CLI adds colour when writing to a terminal. Every line is
made visible (safe.py): a name, reason or message from a file or from Genesys
cannot move the cursor, overwrite a line or print a line of its own.

The renderings are lists of ``Line`` values: the text, and a tag saying what
the line is (``deactivate``, ``error``, ``failed``, ``summary``, ...). The
plain text is the lines joined; the CLI styles a line by its tag on a
terminal, so colour comes from the data, never from matching rendered text.
"""

from __future__ import annotations

from typing import NamedTuple

from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan, Problem
from reconciler.core.report.safe import visible_lines
from reconciler.core.results import ApplyResult, Outcome, Result

__all__ = ["Line", "apply_lines", "plan_lines", "render_apply", "render_plan", "result_line", "summary_line"]


class Line(NamedTuple):
    text: str
    tag: str = ""  # what the line is, for styling: an action, error, warning, an outcome, summary


def join(lines: list[Line]) -> str:
    """The plain text: every line made visible (a value holding a newline or an escape stays on its line)."""
    return visible_lines([line.text for line in lines])


_HEADLINE = {
    Action.DEACTIVATE: "will be deactivated",
    Action.REACTIVATE: "will be reactivated",
    Action.REVOKE_TOKENS: "will have all sessions ended (tokens revoked)",
}
_SIGN = {Action.DEACTIVATE: "~", Action.REACTIVATE: "~", Action.REVOKE_TOKENS: "-"}
_TAG = {Action.DEACTIVATE: "deactivate", Action.REACTIVATE: "reactivate", Action.REVOKE_TOKENS: "revoke"}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def summary_line(plan: Plan) -> str:
    line = (
        f"Plan: {plan.counts['deactivate']} to deactivate, "
        f"{_plural(plan.counts['revoke_tokens'], 'token revocation')}, "
        f"{plan.counts['reactivate']} to reactivate; {plan.unchanged} unchanged"
    )
    if plan.pending:
        line += f"; {len(plan.pending)} pending"
    if plan.held:
        line += f"; {len(plan.held)} held"
    return line + "."


def _who(email: str | None, name: str | None, user_id: str) -> str:
    label = email or user_id
    return f"{label} ({name})" if name else label


def _change_block(c: Change) -> list[Line]:
    lines = [
        Line(f"  # {_who(c.email, c.name, c.user_id)} {_HEADLINE[c.action]}", _TAG[c.action]),
        Line(f"  {_SIGN[c.action]} user {c.user_id}    {c.source}"),
    ]
    if c.action is Action.REVOKE_TOKENS:
        lines.append(Line(f"      tokens: all -> none    ({c.detail})" if c.detail else "      tokens: all -> none"))
    else:
        lines.append(Line(f"      state: {c.before} -> {c.after}    (version {c.version})"))
        if c.reason_code:
            lines.append(Line(f"      reason code: {c.reason_code}    (recorded in Genesys)"))
        if c.detail:
            lines.append(Line(f"      {c.detail}"))
    why = "    ".join(
        part for part in (f"reason: {c.reason}" if c.reason else "", f"ticket: {c.ticket}" if c.ticket else "") if part
    )
    if why and c.action is not Action.REVOKE_TOKENS:
        lines.append(Line(f"      {why}"))
    return lines


def _problem_line(p: Problem) -> Line:
    where = f"{p.source}: " if p.source else ""
    kind = "error" if p.is_error else "warning"
    return Line(f"  {kind}: {where}{p.message} [{p.code}]", kind)


def render_plan(plan: Plan) -> str:
    return join(plan_lines(plan))


def plan_lines(plan: Plan) -> list[Line]:
    out: list[Line] = []
    if plan.changes:
        out.append(Line("reconciler will make these changes in Genesys Cloud:"))
        out.append(Line(""))
        for c in plan.changes:
            out.extend(_change_block(c))
            out.append(Line(""))
    if plan.pending:
        out.append(Line("Pending (not yet effective; applied at the first run after the time shown):"))
        for p in plan.pending:
            verb = "deactivate" if p.action is Action.DEACTIVATE else "reactivate"
            out.append(
                Line(
                    f"  # {_who(p.email, p.name, p.user_id)}: {verb} from "
                    f"{p.effective.strftime('%Y-%m-%d %H:%M:%S %z')}    {p.source}",
                    "pending",
                )
            )
        out.append(Line(""))
    if plan.held:
        out.append(Line("Held (another system keeps changing these users back; not corrected this run):", "warning"))
        for h in plan.held:
            out.append(Line(f"  # {_who(h.email, h.name, h.user_id)}    {h.source}", "held"))
            out.append(Line(f"      {h.message}"))
        out.append(Line(""))
    if plan.warnings:
        out.append(Line("Warnings:", "warning"))
        out.extend(_problem_line(p) for p in plan.warnings)
        out.append(Line(""))
    if plan.errors:
        out.append(Line("Errors (apply will refuse this plan):", "error"))
        out.extend(_problem_line(p) for p in plan.errors)
        out.append(Line(""))
    if not plan.changes and not plan.errors:
        managed = _plural(plan.managed, "managed user")
        if plan.held:  # nothing will be written, yet Genesys does not match: another system keeps changing them
            out.append(
                Line(
                    f"No changes to make, but the desired state is not met: {len(plan.held)} held ({managed}).",
                    "warning",
                )
            )
        else:
            out.append(Line(f"No changes. Genesys Cloud matches the desired state ({managed}).", "ok"))
    out.append(Line(summary_line(plan), "summary"))
    return out


_MARK = {Outcome.APPLIED: "ok     ", Outcome.FAILED: "FAILED ", Outcome.SKIPPED: "skipped"}


def result_line(r: Result) -> Line:
    """One change's outcome, as it happens (progress) or in the final report."""
    c = r.change
    line = f"  {_MARK[r.outcome]} {c.action.value:<13} {_who(c.email, c.name, c.user_id)}  [{c.user_id}]"
    if r.message:
        line += f": {r.message}"
    if r.error:
        extra = " ".join(str(v) for v in (r.error.get("status"), r.error.get("code")) if v)
        cid = r.error.get("correlation_id")
        line += f" [{extra}{', correlation id ' + cid if cid else ''}]"
    return Line(line, r.outcome.value)


def render_apply(result: ApplyResult) -> str:
    return join(apply_lines(result))


def apply_lines(result: ApplyResult, *, each: bool = True) -> list[Line]:
    """The outcomes (``each=False``: only the verdict, when progress already showed each one)."""
    out = [result_line(r) for r in result.results] if each else []
    if out:
        out.append(Line(""))
    applied, failed, skipped = (result.count(o) for o in (Outcome.APPLIED, Outcome.FAILED, Outcome.SKIPPED))
    if not result.results:
        out.append(Line("Apply complete: nothing to do.", "summary"))
    else:
        out.append(Line(f"Apply {result.verdict}: {applied} applied, {failed} failed, {skipped} skipped.", "summary"))
    if result.interrupted:
        out.append(Line(f"Stopped ({result.stop_reason}): users not started are listed as skipped.", "warning"))
    if result.ledger_failures:
        why = f": {result.ledger_error}" if result.ledger_error else "; see the log"
        out.append(Line(f"The audit ledger could not be written {result.ledger_failures} time(s){why}.", "error"))
    return out
