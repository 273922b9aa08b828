"""Why a request never got an answer, in words an operator can act on. No I/O of its own.

The session calls ``connection_error`` when httpx raises a transport error:
no connection at all (refused, DNS and TLS failures are httpx ConnectErrors)
or no answer in time is ``Unreachable``, which stops a whole read and counts
toward stopping an apply; a connection dropped mid-answer is a plain
``NetworkError`` (a flaky road: other requests may get through). Messages
name the URL and the cause, never a header or a token.
"""

from __future__ import annotations

import httpx

from reconciler.errors import NetworkError, Unreachable
from reconciler.genesys.trust import raise_if_untrusted

__all__ = ["connection_error", "transport_cause"]

_NO_CONNECTION = (httpx.ConnectError, httpx.TimeoutException)

_CAUSES = (
    ("refused", "connection refused (nothing listens there)"),
    ("name or service not known", "DNS lookup failed (no such host)"),
    ("nodename nor servname", "DNS lookup failed (no such host)"),
    ("temporary failure in name resolution", "DNS lookup failed (no DNS answer)"),
    ("no address associated", "DNS lookup failed (no such host)"),
    ("certificate", "TLS failed: the server's certificate was not accepted"),
    ("ssl", "TLS failed"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
    ("reset by peer", "connection reset"),
)


def transport_cause(exc: httpx.TransportError) -> str:
    """Why a connection failed, in words an operator can act on (never a header or a token)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for the answer"}.get(type(exc).__name__)
        return f"timed out {kind}" if kind else "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was dropped before an answer"
    text = " ".join(str(exc).split()).lower()
    for needle, cause in _CAUSES:
        if needle in text:
            return cause
    return f"connection failed ({type(exc).__name__})"


def connection_error(exc: httpx.TransportError, where: str, request: str | None = None) -> NetworkError:
    """The error to raise: ``cannot reach WHERE: cause``, Unreachable when no connection was made.

    An untrusted server certificate is raised at once as the AuthError that explains it (trust.py):
    retrying cannot fix it.
    """
    raise_if_untrusted(exc, request or where)
    kind = Unreachable if isinstance(exc, _NO_CONNECTION) else NetworkError
    return kind(f"cannot reach {where}: {transport_cause(exc)}", request=request)
