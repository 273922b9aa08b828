"""What Genesys's answer headers say about time: ``Date`` (Genesys's clock) and ``Retry-After``.

Parsing of header values for the session (the local clock only as the fallback
for an undated answer). Never raises: a header that is missing or cannot be
read is ``None``, and the caller decides what that means.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["date_header", "retry_after_seconds"]


def date_header(headers: Mapping[str, str]) -> datetime | None:
    """The Date header of an answer, or None when it is missing or unreadable."""
    raw = headers.get("date")
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        return None
    # "-0000" parses as naive; an HTTP date is always UTC.
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def retry_after_seconds(raw: str | None, answered_at: datetime | None) -> float | None:
    """Retry-After in seconds: Genesys sends whole seconds; an HTTP date is accepted too.

    A date is Genesys's clock, so it is measured from the answer's own Date header
    (``answered_at``); the local clock is only the fallback when the answer was undated.
    """
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (answered_at.timestamp() if answered_at else time.time())
    return max(0.0, seconds) if math.isfinite(seconds) else None
