"""Webhook notifications: a short JSON post when drift is corrected or a tick fails.

The body carries ``text`` (so a Slack or Teams incoming webhook shows it as
is) and structured fields for anything else. A failing webhook is logged and
forgotten: it must never break a tick. The URL itself is never logged (chat
webhook URLs embed their secret).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

__all__ = ["Notifier"]

log = logging.getLogger("reconciler.service")


class Notifier:
    def __init__(self, url: str | None, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.strip() if url else None
        self._client = httpx.Client(timeout=timeout, transport=transport) if url else None
        self.sent = 0
        self.failed = 0

    def send(self, event: str, text: str, **details: Any) -> None:
        if self._client is None or self.url is None:
            return
        payload = {"text": f"reconciler: {text}", "event": event, "source": "reconciler", **details}
        try:
            resp = self._client.post(self.url, json=payload)
            resp.raise_for_status()
            self.sent += 1
        except Exception as exc:  # whatever goes wrong with a notification, the tick goes on
            self.failed += 1
            log.warning(
                "notification %s not delivered (%s); the tick goes on",
                event,
                type(exc).__name__,
                extra={"event": "notify_failed"},
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
