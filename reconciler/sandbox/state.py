"""What the emulated Genesys holds besides its users: clients, tokens, faults, limits, the request log.

``SandboxState`` is the one object every resource handler receives. It holds
the org (org.py), the registered OAuth clients and the tokens issued to them,
the rate limit and the faults (faults.py), the injected clock and sleep, and
the request log; plus the orderings the user listings page through, cached.
Resource modules read and change it; the dispatcher (app.py) extends it with
``handle``. No routing and no endpoint here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler.sandbox.audit_trail import Actor, AuditTrail
from reconciler.sandbox.auth import Client, Token, require
from reconciler.sandbox.faults import Faults, RateLimit
from reconciler.sandbox.org import Org, SandboxUser
from reconciler.sandbox.wire import ApiFailure

__all__ = ["SandboxState"]


class SandboxState:
    def __init__(
        self,
        org: Org,
        *,
        clients: list[Client] | None = None,
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.org = org
        self.clients = {c.client_id: c for c in (clients or [])}
        self.rate_limit = rate_limit or RateLimit()
        self.faults = faults or Faults()
        self.clock = clock
        self.sleep = sleep
        self.tokens: dict[str, Token] = {}
        self.log: list[dict[str, Any]] = []
        self.audit = AuditTrail()
        self._log_lock = threading.Lock()
        self._sorted_ids: list[str] | None = None
        self._id_order: list[str] | None = None

    def cursor_ids(self) -> list[str]:
        """Ids sorted once (not per page: a 100,000-user listing has 200 pages)."""
        if self._id_order is None or len(self._id_order) != len(self.org.users):
            self._id_order = sorted(self.org.users)
        return self._id_order

    def ordered_ids(self) -> list[str]:
        """Ids in the order GET /api/v2/users lists them: by name, then id."""
        if self._sorted_ids is None or len(self._sorted_ids) != len(self.org.users):
            self._sorted_ids = sorted(self.org.users, key=lambda i: (self.org.users[i].name, i))
        return self._sorted_ids

    def change_state(self, user: SandboxUser, new: str, actor: Actor, reason: str | None = None) -> None:
        """A state change by ``actor``: roles go on deactivation, and the audit trail records who did it."""
        old = user.state
        changes: dict[str, Any] = {"state": new}
        if new == "inactive":
            changes["roles"] = []  # directly assigned roles are removed on deactivation
        if reason is not None:
            changes["state_change_reason"] = reason
        self.org.update(user, **changes)
        self.audit.record(wall=self.org.wall(), user_id=user.id, user_name=user.name, old=old, new=new, actor=actor)

    def flip_back(self, user: SandboxUser, actor: Actor) -> None:
        """After ``actor``'s change has been answered: an identity provider that owns the user undoes it."""
        rule = self.audit.flip_back.get(user.id)
        if rule is None or rule.times <= 0 or rule.actor == actor or user.state == rule.state:
            return
        rule.times -= 1
        self.change_state(user, rule.state, rule.actor)

    def fail_write_if_told(self, user_id: str) -> None:
        """Answer a write on this user with the status a ``fail_writes`` fault names, if any."""
        status = self.faults.fail_writes.get(user_id)
        if not status:
            return
        self.faults.injected[f"write_failed_{status}"] += 1
        if status == 403:
            require(Client("x", "x", frozenset()), {"directory:user:edit"})
        if status == 404:
            raise ApiFailure(404, "general.resource.not.found", "Unable to find a user with that userId")
        raise ApiFailure(status, "internal.server.error", f"Injected failure for user {user_id}")
