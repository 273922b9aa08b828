"""Value types shared by every stage of the pipeline.

Pure. Frozen dataclasses and enums only: no I/O, no HTTP, no clocks. The
desired-state loader produces ``DesiredState``; the live reader produces
``LiveUser`` values; the planner turns both into a ``Plan`` (see plan.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "REASON_CODES",
    "Action",
    "DesiredEntry",
    "DesiredFile",
    "DesiredState",
    "LiveState",
    "LiveUser",
    "MissingUsers",
    "Policy",
    "Source",
    "UserState",
    "address_key",
    "loaded_entry",
    "source_at",
]


class UserState(StrEnum):
    """The values of a Genesys user's ``state`` field (lower-case, as the API sends them)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class Action(StrEnum):
    """The closed set of writes this tool can make. Apply branches on these only."""

    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    REVOKE_TOKENS = "revoke_tokens"


# Genesys's attrition reasons (UserState.stateChangeReason), spelled exactly as the API takes them.
# The schema lists the same six; Genesys answers any other value with 400 invalid.value.
REASON_CODES = ("Voluntary", "Seasonal", "Leave", "Performance", "Conduct", "Unknown")


class MissingUsers(StrEnum):
    """What to do with a desired email that matches no Genesys user."""

    ERROR = "error"
    WARN = "warn"


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where a declaration lives, for people: ``desired_state/leavers.yaml:4``."""

    path: str
    line: int
    # Rendered once at load: every planned write carries it, 180,000 times in a big plan.
    text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", f"{self.path}:{self.line}")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class DesiredEntry:
    """One validated ``users:`` entry. At least one of ``email`` and ``id`` is set."""

    email: str | None
    id: str | None
    state: UserState
    source: Source
    reason: str | None = None
    ticket: str | None = None
    effective: datetime | None = None
    reason_code: str | None = None  # one of REASON_CODES; only ever on a deactivation

    @property
    def email_key(self) -> str | None:
        """Emails match case-insensitively; this is the comparison key."""
        return self.email.lower() if self.email is not None else None

    @property
    def label(self) -> str:
        """How people refer to the entry: the email as written, else the id."""
        return self.email or self.id or "?"


# The loader builds one Source and one DesiredEntry per line of a desired-state file: 200,000
# objects for a 100,000-entry file. A frozen dataclass's __init__ sets each field through a
# fresh object.__setattr__ lookup, which is half the cost; these builders set the same slots
# through their descriptors, bound once. They set every field (checked below, and a test
# compares them with __init__) and nothing else, so what they build is the same frozen value.
_SOURCE_SETTERS = tuple(Source.__dict__[name].__set__ for name in ("path", "line", "text"))
_ENTRY_FIELDS = ("email", "id", "state", "source", "reason", "ticket", "effective", "reason_code")
_ENTRY_SETTERS = tuple(DesiredEntry.__dict__[name].__set__ for name in _ENTRY_FIELDS)
if tuple(DesiredEntry.__slots__) != _ENTRY_FIELDS or tuple(Source.__slots__) != ("path", "line", "text"):
    raise RuntimeError("model.py: the fast builders must set every field of Source and DesiredEntry")


def source_at(path: str, line: int) -> Source:
    """``Source(path, line)``, for the loader's hot loop."""
    source = object.__new__(Source)
    set_path, set_line, set_text = _SOURCE_SETTERS
    set_path(source, path)
    set_line(source, line)
    set_text(source, f"{path}:{line}")
    return source


def loaded_entry(
    email: str | None,
    id: str | None,  # noqa: A002  # the field's name
    state: UserState,
    source: Source,
    reason: str | None,
    ticket: str | None,
    effective: datetime | None,
    reason_code: str | None,
) -> DesiredEntry:
    """``DesiredEntry(...)`` with every field given, for the loader's hot loop."""
    entry = object.__new__(DesiredEntry)
    set_email, set_id, set_state, set_source, set_reason, set_ticket, set_effective, set_code = _ENTRY_SETTERS
    set_email(entry, email)
    set_id(entry, id)
    set_state(entry, state)
    set_source(entry, source)
    set_reason(entry, reason)
    set_ticket(entry, ticket)
    set_effective(entry, effective)
    set_code(entry, reason_code)
    return entry


DEFAULT_MAX_CHANGES = 25
# A user corrected more than this many times within the window is held (see core/flapping.py):
# three corrections in a day is already a fight; a fourth means another system owns the user.
DEFAULT_FLAPPING_MAX_CORRECTIONS = 3
DEFAULT_FLAPPING_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Policy:
    """The optional ``policy:`` block (at most one in the whole tree)."""

    protected: frozenset[str] = frozenset()  # lower-cased emails and ids
    max_changes: int = DEFAULT_MAX_CHANGES
    max_changes_percent: float | None = None
    missing_users: MissingUsers = MissingUsers.ERROR
    source: Source | None = None
    default_reason_code: str | None = None  # for every deactivation whose entry has none
    flapping_max_corrections: int = DEFAULT_FLAPPING_MAX_CORRECTIONS
    flapping_window: timedelta = DEFAULT_FLAPPING_WINDOW

    def is_protected(self, user_id: str | None, email: str | None) -> bool:
        if not self.protected:
            return False
        return (user_id is not None and user_id.lower() in self.protected) or (
            email is not None and email.lower() in self.protected
        )


@dataclass(frozen=True, slots=True)
class DesiredFile:
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the files declare, validated, in file order."""

    root: str
    entries: tuple[DesiredEntry, ...]
    policy: Policy = field(default_factory=Policy)
    files: tuple[DesiredFile, ...] = ()
    digest: str = ""


_KNOWN_STATES = {s.value: s for s in UserState}  # a dict lookup: Enum() is slow at 100,000 users


def address_key(email: str | None) -> str | None:
    """The key a live user's address is matched by, against an entry's ``email_key``; None matches nothing.

    Addresses are equal ignoring case, but only ASCII case: the files' addresses are ASCII (the
    schema), and Unicode lower-casing folds one look-alike into ASCII (the Kelvin sign U+212A
    becomes "k"). Without this, a user whose address is spelled with it would be matched by
    the entry of another mailbox: locked out in its place, or, beside the real one, making the
    address ambiguous and so holding up the real leaver's lock-out.
    """
    return email.lower() if email is not None and email.isascii() else None


@dataclass(frozen=True, slots=True)
class LiveUser:
    """What Genesys says about one user, as read from ``GET /api/v2/users``.

    ``state`` is kept as the raw string: a value this tool does not know is an
    error for that user, never guessed to mean active or inactive. ``version``
    is ``None`` when the API left it out, which also blocks any write.
    """

    id: str
    state: str
    version: int | None
    email: str | None = None
    name: str | None = None
    # None: unknown. Genesys may leave the expansion out (best effort), so it never means "no token".
    last_token_issued: datetime | None = None

    @property
    def known_state(self) -> UserState | None:
        return _KNOWN_STATES.get(self.state)


@dataclass(frozen=True)
class LiveState:
    """What the live reader found for the managed users (see live.py)."""

    users: Mapping[str, LiveUser]
    # lower-cased email -> ids of users (any state) whose email matched it
    email_index: Mapping[str, tuple[str, ...]]
    # "id:<id>" or "email:<key>" -> why it could not be read
    read_errors: Mapping[str, str] = field(default_factory=dict)
    # the org's active users, read only when a percentage budget needs it
    active_users: int | None = None
    strategy: str = "targeted"
