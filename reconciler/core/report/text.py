"""Stage 5 (text): Plan / ApplyResult -> what a person reads in a terminal. Pure.

Modelled on ``terraform plan``: one block per user with the writes that will
be made, then pending entries, warnings and errors, then one summary line.
Plain text; the CLI adds colour when writing to a terminal. Every line is
made visible (safe.py): a name, reason or message from a file or from Genesys
cannot move the cursor, overwrite a line or print a line of its own.
"""

from __future__ import annotations

from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan, Problem
from reconciler.core.report.safe import visible_lines
from reconciler.core.results import ApplyResult, Outcome

__all__ = ["render_apply", "render_plan", "summary_line"]

_HEADLINE = {
    Action.DEACTIVATE: "will be deactivated",
    Action.REACTIVATE: "will be reactivated",
    Action.REVOKE_TOKENS: "will have all sessions ended (tokens revoked)",
}
_SIGN = {Action.DEACTIVATE: "~", Action.REACTIVATE: "~", Action.REVOKE_TOKENS: "-"}


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


def _change_block(c: Change) -> list[str]:
    lines = [
        f"  # {_who(c.email, c.name, c.user_id)} {_HEADLINE[c.action]}",
        f"  {_SIGN[c.action]} user {c.user_id}    {c.source}",
    ]
    if c.action is Action.REVOKE_TOKENS:
        lines.append(f"      tokens: all -> none    ({c.detail})" if c.detail else "      tokens: all -> none")
    else:
        lines.append(f"      state: {c.before} -> {c.after}    (version {c.version})")
        if c.reason_code:
            lines.append(f"      reason code: {c.reason_code}    (recorded in Genesys)")
        if c.detail:
            lines.append(f"      {c.detail}")
    why = "    ".join(
        part for part in (f"reason: {c.reason}" if c.reason else "", f"ticket: {c.ticket}" if c.ticket else "") if part
    )
    if why and c.action is not Action.REVOKE_TOKENS:
        lines.append(f"      {why}")
    return lines


def _problem_line(p: Problem) -> str:
    where = f"{p.source}: " if p.source else ""
    return f"  {'error' if p.is_error else 'warning'}: {where}{p.message} [{p.code}]"


def render_plan(plan: Plan) -> str:
    out: list[str] = []
    if plan.changes:
        out.append("reconciler will make these changes in Genesys Cloud:")
        out.append("")
        for c in plan.changes:
            out.extend(_change_block(c))
            out.append("")
    if plan.pending:
        out.append("Pending (not yet effective; applied at the first run after the time shown):")
        for p in plan.pending:
            verb = "deactivate" if p.action is Action.DEACTIVATE else "reactivate"
            out.append(
                f"  # {_who(p.email, p.name, p.user_id)}: {verb} from "
                f"{p.effective.strftime('%Y-%m-%d %H:%M:%S %z')}    {p.source}"
            )
        out.append("")
    if plan.held:
        out.append("Held (another system keeps changing these users back; not corrected this run):")
        for h in plan.held:
            out.append(f"  # {_who(h.email, h.name, h.user_id)}    {h.source}")
            out.append(f"      {h.message}")
        out.append("")
    if plan.warnings:
        out.append("Warnings:")
        out.extend(_problem_line(p) for p in plan.warnings)
        out.append("")
    if plan.errors:
        out.append("Errors (apply will refuse this plan):")
        out.extend(_problem_line(p) for p in plan.errors)
        out.append("")
    if not plan.changes and not plan.errors:
        managed = _plural(plan.managed, "managed user")
        if plan.held:  # nothing will be written, yet Genesys does not match: another system keeps changing them
            out.append(f"No changes to make, but the desired state is not met: {len(plan.held)} held ({managed}).")
        else:
            out.append(f"No changes. Genesys Cloud matches the desired state ({managed}).")
    out.append(summary_line(plan))
    return visible_lines(out)  # a value holding a newline or an escape stays on its own line, visibly


_MARK = {Outcome.APPLIED: "ok     ", Outcome.FAILED: "FAILED ", Outcome.SKIPPED: "skipped"}


def render_apply(result: ApplyResult) -> str:
    out: list[str] = []
    for r in result.results:
        c = r.change
        line = f"  {_MARK[r.outcome]} {c.action.value:<13} {_who(c.email, c.name, c.user_id)}  [{c.user_id}]"
        if r.message:
            line += f": {r.message}"
        if r.error:
            extra = " ".join(str(v) for v in (r.error.get("status"), r.error.get("code")) if v)
            cid = r.error.get("correlation_id")
            line += f" [{extra}{', correlation id ' + cid if cid else ''}]"
        out.append(line)
    if out:
        out.append("")
    applied, failed, skipped = (result.count(o) for o in (Outcome.APPLIED, Outcome.FAILED, Outcome.SKIPPED))
    if not result.results:
        out.append("Apply complete: nothing to do.")
    else:
        status = "complete" if result.ok else ("interrupted" if result.interrupted else "incomplete")
        out.append(f"Apply {status}: {applied} applied, {failed} failed, {skipped} skipped.")
    if result.interrupted:
        out.append(f"Stopped ({result.stop_reason}): users not started are listed as skipped.")
    if result.ledger_failures:
        why = f": {result.ledger_error}" if result.ledger_error else "; see the log"
        out.append(f"The audit ledger could not be written {result.ledger_failures} time(s){why}.")
    return visible_lines(out)  # a value holding a newline or an escape stays on its own line, visibly
