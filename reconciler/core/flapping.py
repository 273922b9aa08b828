"""When to stop fighting: users another system keeps changing back are *held*. Pure.

In: the times the ledger says this tool corrected a user's drift (its history
fold), the policy's ``flapping`` limits, the plan's clock and who changed the
user this time. Out: a ``Held`` value when the user must not be corrected
again, or None. The planner asks; nothing here reads a file or a clock.

The rule: counting the correction the plan would make now, a user corrected
more than ``policy.flapping_max_corrections`` times within
``policy.flapping_window`` is held. So with the defaults (3 in 24 h), the
fourth reactivation in a day is not fought: an identity provider (Entra ID,
Okta) provisioning the user back would win every tick anyway, and each round
costs the user a deactivation (roles removed) and the org a notification. The
hold lifts for one run with ``--release``, and for good once the older
corrections fall out of the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.core.attribution import ChangedBy

__all__ = ["Held", "corrections_within", "hold", "window_text"]


@dataclass(frozen=True, slots=True)
class Held:
    """A user the plan will not correct this run, and why."""

    user_id: str
    email: str | None
    name: str | None
    corrections: int  # within the window, counting the one this plan would have made
    window: timedelta
    changed_by: ChangedBy
    source: str
    message: str


def window_text(window: timedelta) -> str:
    """'24h', '90m', '7d': the window as the policy spells it (days only from two days up)."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 86400 * 2:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def corrections_within(times: Sequence[datetime], now: datetime, window: timedelta) -> int:
    """How many of the recorded corrections fall within the window ending now."""
    try:
        start = now - window
    except OverflowError:  # the schema allows windows (999999d) reaching back before year 1: all of time
        return sum(1 for t in times if t <= now)
    return sum(1 for t in times if start < t <= now)


def hold(
    *,
    user_id: str,
    email: str | None,
    name: str | None,
    source: str,
    live_state: str,
    corrections: Sequence[datetime],
    changed_by: ChangedBy,
    now: datetime,
    max_corrections: int,
    window: timedelta,
) -> Held | None:
    """Held, if correcting this user's drift once more would exceed the limit; else None."""
    count = corrections_within(corrections, now, window) + 1  # + the correction this plan would make
    if count <= max_corrections:
        return None
    verb = {"active": "reactivated", "inactive": "deactivated"}.get(live_state, f"set {live_state}")
    last = changed_by.describe() if changed_by.kind != "unknown" else "an actor the audit trail does not name"
    message = (
        f"{verb} {count} times in {window_text(window)}, last by {last}: another system is managing this user; "
        f"fix its scope or remove the entry (held: not corrected; --release lifts the hold for one run)"
    )
    return Held(user_id, email, name, count, window, changed_by, source, message)
