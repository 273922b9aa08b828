"""The sandbox's organisation: users, versions, tokens and a lagging search index.

In-memory state for the fake Genesys org, generated deterministically from a
seed at any size. It knows nothing about HTTP (see wire.py and resources/)
and nothing about the reconciler: it models what Genesys keeps, including the
parts that make a client's life hard (a version that changes on every write, a
search index that lags behind writes, duplicate emails, deleted users that keep
their email).
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DIVISION", "TOKEN_LIFETIME_MAX", "WELL_KNOWN", "Org", "SandboxUser", "iso"]

DIVISION = {
    "id": "0c8c1a9e-2f3b-4a6e-9d5a-1b2c3d4e5f60",
    "name": "Home",
    "selfUri": "/api/v2/authorization/divisions/0c8c1a9e-2f3b-4a6e-9d5a-1b2c3d4e5f60",
}

# Users every generated org starts with, in this order, so that the shipped
# desired_state/ example and the tests can name them. (name, email, state,
# department, title, logged in within the last day)
WELL_KNOWN: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("Jane Doe", "jane.doe@example.com", "active", "Support", "Agent", True),
    ("John Roe", "john.roe@example.com", "active", "Sales", "Agent", True),
    ("Priya Shah", "priya.shah@example.com", "inactive", "Support", "Team Lead", False),
    ("Carlos Mendez", "carlos.mendez@example.com", "inactive", "Support", "Agent", False),
    ("Break Glass Admin", "breakglass.admin@example.com", "active", "IT", "Administrator", False),
    ("Alex Kim", "alex.kim@example.com", "active", "Sales", "Agent", True),
    ("Alex Kim", "alex.kim@example.com", "active", "Support", "Agent", False),  # a duplicate email
    ("Morgan Lee", "morgan.lee@example.com", "deleted", "Sales", "Agent", False),
    ("Morgan Lee", "morgan.lee@example.com", "active", "Sales", "Agent", False),  # a rehire
    ("Robin Mixed", "Robin.Mixed@Example.com", "active", "IT", "Engineer", False),
    ("Taylor Green", "taylor.green@example.com", "active", "Support", "Agent", True),
    ("Dana White", "dana.white@example.com", "active", "Workforce", "Planner", False),
)

_FIRST = (
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Xavi",
    "Yara",
    "Zoe",
)
_LAST = (
    "Adams",
    "Brown",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Murphy",
    "Novak",
    "Okafor",
    "Patel",
    "Quist",
    "Rossi",
    "Silva",
    "Tanaka",
    "Uddin",
    "Varga",
    "Weber",
    "Xu",
    "Young",
    "Zhang",
)
# The longest access-token lifetime Genesys allows (48 h): an older token is expired, whoever holds it.
TOKEN_LIFETIME_MAX = 48 * 3600.0

_DEPARTMENTS = ("Support", "Sales", "Billing", "Retention", "Workforce", "IT")


# Well-known active users who have not signed in today: days since their last token, or None for
# no token on record. Break Glass Admin is dormant (and protected); Dana White has never signed in.
# Half days, so that a clock read to the second (the Date header) never rounds an age across a day.
_WELL_KNOWN_IDLE: dict[int, float | None] = {4: 200.5, 6: 120.5, 8: None, 9: 30.5, 11: None}
_DAY = 86400.0


def _age_activity(user: SandboxUser, index: int, now: float, rng: random.Random) -> None:
    """Give an active user who is not signed in today an old token, or none (as if never signed in).

    Generated users: 70% last had a token 2 to 400 days ago (so an age such as 90d splits them),
    30% have none. About half of those with a token have no ``dateLastLogin`` (SSO sign-ins).
    The token is long expired, so the user holds no live session.
    """
    if index < len(WELL_KNOWN):
        days = _WELL_KNOWN_IDLE.get(index)
    else:
        days = rng.uniform(2, 400) if rng.random() < 0.7 else None
    if days is None:
        return
    user.last_token_issued = now - days * _DAY
    if index >= len(WELL_KNOWN) and rng.random() < 0.5:
        user.date_last_login = user.last_token_issued


def iso(ts: float) -> str:
    """Genesys's timestamp format: UTC, milliseconds, Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


@dataclass
class SandboxUser:
    id: str
    name: str
    email: str
    state: str
    version: int
    department: str
    title: str
    live_tokens: int = 0
    last_token_issued: float | None = None
    date_last_login: float | None = None
    roles: list[str] = field(default_factory=list)
    state_change_reason: str | None = None  # the last attrition reason PUT /state recorded

    def to_api(self, expand: Iterable[str] = ()) -> dict[str, Any]:
        """The User shape Genesys returns (field names from the SDK's User model)."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "division": dict(DIVISION),
            "chat": {"jabberId": f"{self.id.replace('-', '')[:24]}@example.orgspan.com"},
            "department": self.department,
            "email": self.email,
            "primaryContactInfo": [{"address": self.email, "mediaType": "EMAIL", "type": "PRIMARY"}],
            "addresses": [],
            "state": self.state,
            "title": self.title,
            "username": self.email,
            "version": self.version,
            "acdAutoAnswer": False,
            "selfUri": f"/api/v2/users/{self.id}",
        }
        wanted = {e.lower() for e in expand}
        if "lasttokenissued" in wanted and self.last_token_issued is not None:
            body["lastTokenIssued"] = {"dateIssued": iso(self.last_token_issued)}
        if "datelastlogin" in wanted and self.date_last_login is not None:
            body["dateLastLogin"] = iso(self.date_last_login)
        if "authorization" in wanted:
            body["authorization"] = {"roles": [{"name": r} for r in self.roles]}
        return body


class Org:
    """All users of the fake org, guarded by one lock (the app holds it per request)."""

    def __init__(
        self, users: Iterable[SandboxUser] = (), *, search_lag: float = 0.0, wall: Callable[[], float] | None = None
    ) -> None:
        import time

        self.lock = threading.RLock()
        self._base_wall = wall or time.time
        self.skew = 0.0  # seconds added to the wall clock (the test API moves Genesys's clock)
        self.search_lag = search_lag
        self.users: dict[str, SandboxUser] = {}
        self._by_email: dict[str, list[str]] = {}
        # Only users written since start: id -> [(visible_from, state or None, version)].
        # What search returns lags writes by search_lag; everyone else is indexed as is.
        self._index: dict[str, list[tuple[float, str | None, int]]] = {}
        self.dirty = False
        for user in users:
            self.add(user, indexed_at=float("-inf"))
        self.dirty = False

    def wall(self) -> float:
        """Genesys's clock: timestamps, the Date header and the search lag all read it."""
        return self._base_wall() + self.skew

    # --- generation and persistence -----------------------------------------

    @classmethod
    def generate(
        cls,
        count: int,
        *,
        seed: int = 7,
        search_lag: float = 0.0,
        wall: Callable[[], float] | None = None,
    ) -> Org:
        """A deterministic org of ``count`` users; the first ones are WELL_KNOWN.

        Token and login times are set relative to the org's own clock (``wall``), never to
        the host's: a client that compares them with Genesys's clock sees the same ages on
        any calendar day.
        """
        rng = random.Random(seed)
        # Last activity of the users not active today has its own stream, so that adding it
        # changed no id, email or state the tests and the shipped desired_state/ name.
        activity = random.Random(seed + 1)
        # Leavers worked here, so they signed in at some point: an old token each (3 to 400 days,
        # long expired), from a stream of its own for the same reason. A user read without
        # lastTokenIssued is then what Genesys's best-effort expansion makes it: unknown.
        leavers = random.Random(seed + 2)
        org = cls(search_lag=search_lag, wall=wall)
        now = org.wall()
        users: list[SandboxUser] = []
        used: set[str] = set()
        for i in range(count):
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if i < len(WELL_KNOWN):
                name, email, state, dept, title, recent = WELL_KNOWN[i]
            else:
                first, last = rng.choice(_FIRST), rng.choice(_LAST)
                name = f"{first} {last}"
                email = f"{first}.{last}.{i}@example.com".lower()
                roll = rng.random()
                state = "deleted" if roll < 0.01 else "inactive" if roll < 0.11 else "active"
                dept, title = rng.choice(_DEPARTMENTS), "Agent"
                recent = state == "active" and rng.random() < 0.5
            used.add(email)
            user = SandboxUser(
                id=uid,
                name=name,
                email=email,
                state=state,
                version=rng.randint(1, 40),
                department=dept,
                title=title,
                roles=["employee"] if state != "deleted" else [],
            )
            if recent:
                issued = now - rng.uniform(60, 20 * 3600)
                user.live_tokens, user.last_token_issued, user.date_last_login = 1, issued, issued
            elif state == "active":
                _age_activity(user, i, now, activity)
            elif state == "inactive":
                user.last_token_issued = now - leavers.uniform(3, 400) * _DAY
            users.append(user)
        for user in users:
            org.add(user, indexed_at=float("-inf"))
        org.dirty = False
        return org

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {"users": [asdict(u) for u in self.users.values()]}

    @classmethod
    def from_json(cls, data: dict[str, Any], **kw: Any) -> Org:
        return cls((SandboxUser(**u) for u in data["users"]), **kw)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically replace the state file (write, fsync, rename)."""
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        with self.lock:
            payload = json.dumps(self.to_json())
            self.dirty = False
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    # --- reads and writes ---------------------------------------------------

    def add(self, user: SandboxUser, *, indexed_at: float | None = None) -> None:
        """Add a user; search sees it from ``indexed_at`` (default: after the search lag)."""
        with self.lock:
            self.users[user.id] = user
            self._by_email.setdefault(user.email.lower(), []).append(user.id)
            visible = (self.wall() + self.search_lag) if indexed_at is None else indexed_at
            if visible > float("-inf"):
                self._index[user.id] = [(float("-inf"), None, 0), (visible, user.state, user.version)]
            self.dirty = True

    def change_email(self, user: SandboxUser, email: str) -> None:
        self._by_email[user.email.lower()].remove(user.id)
        user.email = email
        self._by_email.setdefault(email.lower(), []).append(user.id)

    def ids_by_email(self, email_lower: str) -> list[str]:
        return list(self._by_email.get(email_lower, ()))

    def update(self, user: SandboxUser, **changes: Any) -> None:
        """A write: change fields, bump the version, queue the change for the search index."""
        entries = self._index.setdefault(user.id, [(float("-inf"), user.state, user.version)])
        for name, value in changes.items():
            setattr(user, name, value)
        user.version += 1
        entries.append((self.wall() + self.search_lag, user.state, user.version))
        self.dirty = True

    def search_view(self, user: SandboxUser) -> tuple[str, int] | None:
        """(state, version) as the eventually consistent search index sees the user, or None."""
        entries = self._index.get(user.id)
        if entries is None:
            return user.state, user.version
        now = self.wall()
        visible = [e for e in entries if e[0] <= now]
        latest = visible[-1]
        if len(entries) > 2 and len(visible) > 1:  # forget what nobody can see any more
            self._index[user.id] = [(float("-inf"), latest[1], latest[2])] + [e for e in entries if e[0] > now]
        return None if latest[1] is None else (latest[1], latest[2])

    def live_tokens(self, user: SandboxUser) -> int:
        """Tokens the user still holds: none once the newest is older than the longest lifetime Genesys allows."""
        issued = user.last_token_issued
        if user.live_tokens and issued is not None and self.wall() - issued > TOKEN_LIFETIME_MAX:
            user.live_tokens = 0
        return user.live_tokens

    def login(self, user: SandboxUser, at: float | None = None) -> None:
        at = self.wall() if at is None else at
        user.live_tokens += 1
        user.last_token_issued = at
        user.date_last_login = at
        self.dirty = True
