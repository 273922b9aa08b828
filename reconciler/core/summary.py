"""The compacted ledger summary: per-user history as compact rows, decoded only when asked. Pure.

The ledger's history file grows forever; planning needs only each user's
folded history (history.py). The summary is that fold, kept beside the
history so a plan reads one row per user instead of every record ever
written. This module turns UserHistory into a compact JSON-able row and
back, and offers the rows as a Mapping that decodes a user on first access
(a plan of 20 managed users decodes 20 rows, whatever the summary holds).
No I/O: ledger.py reads and writes the file.

A row is ``[last_deactivated, last_revoked, revoke_owed, last_set_state,
last_set_at, last_set_commit, corrections, last_set_genesys,
last_changed_by]``: times as integer milliseconds since the Unix epoch (the
ledger's own precision), ``revoke_owed`` as 0/1, ``last_set_state`` as the
state's name, ``corrections`` as a list of times or null, the actor as
``ChangedBy.as_dict()`` or null. Integers rather than ISO strings keep a
100,000-user summary small in memory and fast to parse. A new UserHistory
field needs a new slot here and a new ``SUMMARY_FORMAT`` in ledger.py (an
older summary is then ignored and the history refolded).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.core.attribution import changed_by_from_dict
from reconciler.core.history import Overlay, UserHistory

__all__ = ["ROW_LENGTH", "LazyUsers", "decode_row", "encode_row", "encode_users"]

ROW_LENGTH = 9
_UNSEEN: Any = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _ms(t: datetime | None) -> int | None:
    return None if t is None else (t - _EPOCH) // _MS


def _time(ms: Any) -> datetime | None:
    return _EPOCH + ms * _MS if isinstance(ms, int) and not isinstance(ms, bool) else None


def encode_row(h: UserHistory) -> list[Any]:
    return [
        _ms(h.last_deactivated),
        _ms(h.last_revoked),
        1 if h.revoke_owed else 0,
        h.last_set_state,
        _ms(h.last_set_at),
        h.last_set_commit,
        [_ms(t) for t in h.corrections] or None,
        _ms(h.last_set_genesys),
        h.last_changed_by.as_dict() if h.last_changed_by is not None else None,
    ]


def decode_row(row: Any) -> UserHistory | None:
    """A row back to UserHistory; None for a row that is not one (the caller refolds from the history)."""
    if not isinstance(row, list) or len(row) != ROW_LENGTH:
        return None
    deactivated, revoked, owed, state, set_at, commit, corrections, set_genesys, changed_by = row
    return UserHistory(
        last_deactivated=_time(deactivated),
        last_revoked=_time(revoked),
        revoke_owed=owed == 1,
        last_set_state=state if state in ("active", "inactive") else None,
        last_set_at=_time(set_at),
        last_set_commit=commit if isinstance(commit, str) else None,
        last_set_genesys=_time(set_genesys),
        corrections=tuple(t for t in map(_time, corrections or ()) if t is not None),
        last_changed_by=changed_by_from_dict(changed_by),
    )


class LazyUsers(Mapping[str, UserHistory]):
    """Rows by user id, each decoded (once) when first looked up."""

    __slots__ = ("_decoded", "_rows")

    def __init__(self, rows: Mapping[str, Any]) -> None:
        self._rows = rows
        self._decoded: dict[str, UserHistory | None] = {}

    def get(self, user_id: str, default: Any = None) -> Any:  # Mapping.get, minus a raise per miss
        h = self._decoded.get(user_id, _UNSEEN)
        if h is _UNSEEN:
            row = self._rows.get(user_id, _UNSEEN)
            if row is _UNSEEN:
                return default
            h = self._decoded[user_id] = decode_row(row)
        return default if h is None else h

    def __getitem__(self, user_id: str) -> UserHistory:
        h = self.get(user_id, _UNSEEN)
        if h is _UNSEEN:
            raise KeyError(user_id)
        return h  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._rows

    def raw(self, user_id: str) -> Any:
        """The row as stored, for re-encoding a user nobody touched without decoding it."""
        return self._rows[user_id]


def encode_users(users: Mapping[str, UserHistory]) -> dict[str, Any]:
    """Every user's row, sorted by id; rows of a LazyUsers that were never decoded are copied as they are."""
    rows: dict[str, Any] = {}
    for user_id in sorted(users):
        lazy = _lazy_source(users, user_id)
        rows[user_id] = lazy.raw(user_id) if lazy is not None else encode_row(users[user_id])
    return rows


def _lazy_source(users: Mapping[str, UserHistory], user_id: str) -> LazyUsers | None:
    """The LazyUsers that holds this user's current row, if the newest value is still the stored row."""
    if isinstance(users, Overlay):
        if user_id in users.top:
            return None
        users = users.base
    return users if isinstance(users, LazyUsers) else None
