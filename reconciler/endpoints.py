"""Endpoint labels for counting calls: 'PATCH /api/v2/users/{id}'. Pure.

Shared by the client's statistics and the sandbox's, so that the two count
with the same names (the benchmark and the call-count tests compare them).
"""

from __future__ import annotations

__all__ = ["endpoint_name"]


def endpoint_name(method: str, path: str) -> str:
    """The method and the path without its query, every user id replaced by ``{id}``."""
    parts = [("{id}" if len(p) == 36 and p.count("-") == 4 else p) for p in path.split("?")[0].split("/")]
    return f"{method} {'/'.join(parts)}"
