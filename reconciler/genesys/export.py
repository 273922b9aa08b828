"""`reconciler export`: bootstrap desired-state YAML from a live org.

``fetch_users`` reads (cursor listing, or page by page when the client may not
list every division); ``render_export`` is pure and turns users into a file
that the loader accepts as is. Every entry carries both email and id, so the
first plan after adopting the file already pins identities; users whose email
is missing, malformed, or shared with another exported user are listed by id
only (with the address in a comment), because the same email twice is an
error in desired state.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from reconciler.core.desired.schema import schema, schema_errors
from reconciler.core.desired.yamlload import load_yaml
from reconciler.core.model import LiveUser
from reconciler.core.report.safe import visible
from reconciler.errors import Forbidden, ReconcilerError
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.live import parse_user

__all__ = ["fetch_users", "render_export"]

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-@]*")


def fetch_users(client: GenesysClient, state: str) -> Iterator[LiveUser]:
    try:
        for page in client.iter_users(state):
            yield from (parse_user(raw) for raw in page)
    except Forbidden:
        # The cursor listing needs directory:user:view in every division; page instead.
        for page in client.iter_users_paged(state):
            yield from (parse_user(raw) for raw in page)


def _scalar(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def _comment(text: str) -> str:
    """One line of a YAML comment, with no character a terminal would act on (``cat`` of the file)."""
    return visible(" ".join(text.split()))


def render_export(
    users: Iterable[LiveUser], *, state: str, source: str, now: datetime, skipped_declared: int = 0
) -> str:
    """Desired-state YAML for ``users`` (already filtered to ``state``), sorted, with a header comment."""
    email_pattern = re.compile(schema()["$defs"]["email"]["pattern"])
    chosen = [u for u in users if u.state == state]
    counts = Counter((u.email or "").lower() for u in chosen)

    def usable(u: LiveUser) -> bool:
        return bool(u.email) and counts[(u.email or "").lower()] == 1 and bool(email_pattern.match(u.email or ""))

    by_email = sorted((u for u in chosen if usable(u)), key=lambda u: ((u.email or "").lower(), u.id))
    by_id = sorted((u for u in chosen if not usable(u)), key=lambda u: u.id)
    lines = [
        f"# Exported by `reconciler export --state {state}` at {now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"# from {source}: {len(chosen)} {state} users, sorted by email.",
        "# Each entry names both email and id, so a plan fails (instead of acting on someone else)",
        "# if an address is ever reassigned.",
    ]
    if by_id:
        lines.append(f"# {len(by_id)} users without a unique, valid email are listed by id only, at the end.")
    if skipped_declared:
        lines.append(f"# {skipped_declared} users already declared elsewhere in the desired state were left out.")
    if state == "active":
        lines += [
            "#",
            "# FOR REVIEW: committing this file makes reconciler keep every user below active.",
            "# It is meant for reading, not for applying as is.",
        ]
    lines.append("users:" if chosen else "users: []")
    for u in by_email:
        assert u.email is not None
        lines.append(f"  - email: {_scalar(u.email)}")
        lines.append(f"    id: {u.id}")
        if state == "active":
            lines.append("    state: active")
    for u in by_id:
        note = f"  # email: {_comment(u.email)}" if u.email else "  # no email"
        lines.append(f"  - id: {u.id}{note}")
        if state == "active":
            lines.append("    state: active")
    text = "\n".join(lines) + "\n"
    problems = list(schema_errors(load_yaml(text).data))
    if problems:  # a bug, not bad input: never write a file the loader would refuse
        raise ReconcilerError(f"export produced invalid desired state: {problems[0][1]}")
    return text
