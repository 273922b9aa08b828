"""Stage 5 (Markdown): a compact summary for a pull-request comment or $GITHUB_STEP_SUMMARY. Pure.

Counts first, then problems (errors before warnings), then one table row per
user, emails as written in the files. Long plans are cut at ``max_rows`` rows
with the total stated, so a comment stays readable (and under GitHub's size
limit) whatever the plan.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan, Problem
from reconciler.core.report.safe import md_code, md_text, visible_lines
from reconciler.core.results import ApplyResult, Outcome, Result

__all__ = ["render_apply", "render_failure", "render_plan"]

DEFAULT_ROWS = 50


def _cell(text: object) -> str:
    """Table-safe plain text: no markup, no pipe or newline to break the row, no control character."""
    return md_text(text).strip()


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _counts(plan: Plan) -> str:
    revokes = plan.counts["revoke_tokens"]
    parts = [
        f"**{plan.counts['deactivate']}** to deactivate",
        f"**{revokes}** token {'revocation' if revokes == 1 else 'revocations'}",
        f"**{plan.counts['reactivate']}** to reactivate",
        f"{plan.unchanged} unchanged",
    ]
    if plan.pending:
        parts.append(f"{len(plan.pending)} pending")
    if plan.held:
        parts.append(f"**{len(plan.held)}** held")
    return ", ".join(parts)


def _by_user(changes: Iterable[Change]) -> list[list[Change]]:
    groups: dict[str, list[Change]] = {}
    for c in changes:
        groups.setdefault(c.user_id, []).append(c)
    return list(groups.values())


def _what(group: list[Change]) -> str:
    parts = []
    for c in group:
        if c.action is Action.REVOKE_TOKENS:
            parts.append("revoke tokens")
        else:
            code = f", reason code {c.reason_code}" if c.reason_code else ""
            parts.append(f"{c.action.value} ({c.before} → {c.after}, v{c.version}{code})")
    return " + ".join(parts)


def _why(group: list[Change]) -> str:
    first = group[0]
    # Each part escaped on its own, so that only this function's markup is markup.
    bits = [b for b in (_cell(first.reason or ""), md_code(first.ticket, in_table=True) if first.ticket else None) if b]
    # A state change explains itself unless it is drift; a revoke on its own always says why.
    if first.detail and (first.action is Action.REVOKE_TOKENS or first.detail.startswith("drift")):
        bits.append(f"_{_cell(first.detail)}_")
    return " · ".join(bits)


def _problems(problems: Iterable[Problem], title: str) -> list[str]:
    items = list(problems)
    if not items:
        return []
    lines = [f"**{title}**", ""]
    for p in items:
        where = f"{md_code(p.source)} " if p.source else ""
        lines.append(f"- {where}{_cell(p.message)} (`{p.code}`)")
    return [*lines, ""]


def _table(groups: list[list[Change]], max_rows: int) -> list[str]:
    lines = ["| user | change | source | why |", "|---|---|---|---|"]
    for group in groups[:max_rows]:
        first = group[0]
        who = f"{first.email or first.user_id}" + (f" ({first.name})" if first.name else "")
        lines.append(
            f"| {_cell(who)} | {_cell(_what(group))} | {md_code(first.source, in_table=True)} | {_why(group)} |"
        )
    hidden = len(groups) - max_rows
    if hidden > 0:
        total = sum(len(g) for g in groups)
        lines += [
            "",
            f"…and {_plural(hidden, 'more user')} not shown ({_plural(len(groups), 'user')}, "
            f"{_plural(total, 'write')} in all). Run `reconciler plan` for the full list.",
        ]
    return lines


def render_plan(plan: Plan, *, max_rows: int = DEFAULT_ROWS) -> str:
    out = [f"### reconciler plan: {_counts(plan)}", ""]
    if plan.errors:
        out += [f"> **{_plural(len(plan.errors), 'error')}: apply will refuse this plan.**", ""]
    elif not plan.changes and plan.held:
        out += [f"No changes to make, but the desired state is not met: {len(plan.held)} held.", ""]
    elif not plan.changes:
        out += [f"No changes: Genesys Cloud matches the desired state ({_plural(plan.managed, 'managed user')}).", ""]
    out += _problems(plan.errors, "Errors")
    out += _problems(plan.warnings, "Warnings")
    if plan.changes:
        out += [*_table(_by_user(plan.changes), max_rows), ""]
    if plan.held:
        out += ["**Held** (another system keeps changing these users back; not corrected)", ""]
        for h in plan.held[:max_rows]:
            out.append(f"- {_cell(h.email or h.user_id)}: {_cell(h.message)} ({md_code(h.source)})")
        if len(plan.held) > max_rows:
            out.append(f"- …and {len(plan.held) - max_rows} more")
        out.append("")
    if plan.pending:
        out += ["**Pending** (applied at the first run after the time shown)", ""]
        for p in plan.pending[:max_rows]:
            out.append(
                f"- {_cell(p.email or p.user_id)}: {p.action.value} from "
                f"{p.effective.strftime('%Y-%m-%d %H:%M %Z')} ({md_code(p.source)})"
            )
        if len(plan.pending) > max_rows:
            out.append(f"- …and {len(plan.pending) - max_rows} more")
        out.append("")
    digest = plan.desired_digest.removeprefix("sha256:")[:12]
    out.append(f"<sub>desired state {digest} · {_plural(plan.managed, 'managed user')}</sub>")
    return visible_lines(out)


_OUTCOME = {Outcome.APPLIED: "applied", Outcome.FAILED: "**failed**", Outcome.SKIPPED: "skipped"}


def _result_row(r: Result) -> str:
    c = r.change
    who = f"{c.email or c.user_id}" + (f" ({c.name})" if c.name else "")
    note = r.message or ""
    if r.error:
        ident = " ".join(str(v) for v in (r.error.get("status"), r.error.get("code")) if v)
        cid = r.error.get("correlation_id")
        note = f"{note} [{ident}{', correlation id ' + str(cid) if cid else ''}]".strip()
    return f"| {_cell(who)} | {c.action.value} | {_OUTCOME[r.outcome]} | {_cell(note)} |"


def render_apply(result: ApplyResult, *, max_rows: int = DEFAULT_ROWS) -> str:
    applied, failed, skipped = (result.count(o) for o in (Outcome.APPLIED, Outcome.FAILED, Outcome.SKIPPED))
    verdict = result.verdict
    out = [f"### reconciler apply {verdict}: **{applied}** applied, **{failed}** failed, {skipped} skipped", ""]
    out += _problems(result.plan.warnings, "Warnings")
    if result.results:
        ordered = sorted(result.results, key=lambda r: r.outcome is not Outcome.FAILED)  # failures first
        out += ["| user | action | outcome | note |", "|---|---|---|---|"]
        out += [_result_row(r) for r in ordered[:max_rows]]
        if len(ordered) > max_rows:
            out += ["", f"…and {len(ordered) - max_rows} more results ({len(ordered)} in all)."]
        out.append("")
    else:
        out += ["Nothing to do.", ""]
    if result.interrupted:
        out += [f"Stopped ({_cell(result.stop_reason or '')}): users not started are listed as skipped.", ""]
    if result.ledger_failures:
        why = _cell(result.ledger_error or "see the log")
        out += [f"The audit ledger could not be written {result.ledger_failures} time(s): {why}", ""]
    return visible_lines(out)


def render_failure(command: str, problems: Iterable[Problem]) -> str:
    """A command that could not even plan: what stopped it, for the same comment the plan would fill."""
    items = list(problems)
    out = [f"### reconciler {command} failed: {_plural(len(items), 'error')}", ""]
    out += ["> **Nothing was written to Genesys Cloud.** Fix the errors below and push again.", ""]
    out += _problems(items, "Errors")
    while out and out[-1] == "":
        out.pop()
    return visible_lines(out)
