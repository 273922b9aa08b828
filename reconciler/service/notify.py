"""Webhook notifications: a short JSON post when drift is corrected or a tick fails.

The body carries ``text`` (so a Slack or Teams incoming webhook shows it as
is) and structured fields for anything else. A failing webhook is logged and
forgotten: it must never break a tick. The URL itself is never logged (chat
webhook URLs embed their secret).

``text`` carries names that come from Genesys and from the files (an OAuth
client called ``<!channel>``, a link in a display name). Chat apps read ``<``,
``>`` and ``&`` as markup (Slack: mentions and links), so they are escaped the
way Slack documents, and control characters are made visible: a notification
can never ping a channel or show a link that nobody wrote.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from reconciler.core.report.safe import visible

__all__ = ["Notifier", "chat_text"]

log = logging.getLogger("reconciler.service")


def chat_text(text: str) -> str:
    """Text a chat webhook shows as written: control characters visible, Slack's three markup characters escaped."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Notifier:
    def __init__(self, url: str | None, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.strip() if url else None
        self._client = httpx.Client(timeout=timeout, transport=transport) if url else None
        self.sent = 0
        self.failed = 0

    def send(self, event: str, text: str, **details: Any) -> None:
        if self._client is None or self.url is None:
            return
        payload = {"text": f"reconciler: {chat_text(text)}", "event": event, "source": "reconciler", **details}
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
