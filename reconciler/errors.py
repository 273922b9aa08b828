"""The one exception tree of reconciler.

Only two places create these from the outside world: the desired-state loader
(bad files) and the API client (HTTP statuses and transport failures). Only the
CLI turns them into messages and exit codes. Everything between passes them on
or records them as per-user outcomes.

    ReconcilerError
    ├── ConfigError                  missing/invalid environment or options
    ├── DesiredStateError            bad desired-state files (carries every located finding)
    ├── InputError                   another input file cannot be used (an HR export, a mapping file)
    ├── LedgerError                  the audit ledger cannot be read or written
    ├── PlanRefused                  apply will not run this plan (errors, budget, no approval)
    │   └── StalePlan                a saved plan no longer matches files or live users
    └── ApiError                     anything the Genesys API (or the road to it) said
        ├── TransientError           worth retrying after a delay
        │   ├── RateLimited          429; carries Retry-After
        │   ├── ServerError          502/503/504 (and 500 marked transient by Genesys)
        │   └── NetworkError         timeout, refused or dropped connection
        │       └── Unreachable      no connection at all (refused, DNS, TLS) or no answer in time
        └── PermanentError           retrying the same request will not help
            ├── AuthError            401 after one token refresh; bad client credentials
            ├── Forbidden            403 (carries the missing permission when Genesys names it)
            ├── NotFound             404
            ├── VersionConflict      409 general.conflict or 400 "does not match the current version"
            ├── BadRequest           other 4xx
            └── UnexpectedResponse   an answer we cannot trust: a 2xx that is not JSON or has an
                                     unknown shape, a 3xx, a 5xx other than 502/503/504

Every ApiError keeps Genesys's ``code``, the HTTP ``status`` and the
correlation id so that an administrator can quote it to Genesys support.

"Did the write land?" is decided by the answer, never by the class:
``ApiError.nothing_changed`` is true only for a definite 4xx refusal of a
request none of whose earlier attempts went unanswered. Anything else (a 5xx
of any kind, a 3xx, a timeout, a dropped connection, a body we cannot parse)
may have taken effect.
Messages never contain secrets: the client builds them from the error body and
the request line only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ApiError",
    "AuthError",
    "BadRequest",
    "ConfigError",
    "DesiredStateError",
    "Finding",
    "Forbidden",
    "InputError",
    "LedgerError",
    "NetworkError",
    "NotFound",
    "PermanentError",
    "PlanRefused",
    "RateLimited",
    "ReconcilerError",
    "ServerError",
    "StalePlan",
    "TransientError",
    "UnexpectedResponse",
    "Unreachable",
    "VersionConflict",
]


class ReconcilerError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ReconcilerError):
    """The environment or the command line is incomplete or inconsistent."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a desired-state file, located for a human."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class DesiredStateError(ReconcilerError):
    """The desired-state files are invalid. Nothing was read from or written to Genesys."""

    def __init__(self, findings: list[Finding] | tuple[Finding, ...]) -> None:
        self.findings = tuple(findings)
        first = str(self.findings[0]) if self.findings else "invalid desired state"
        more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(first + more)


class InputError(ReconcilerError):
    """An input other than the desired state (an HR export, a mapping file) cannot be used as a whole."""

    def __init__(self, findings: list[Finding] | tuple[Finding, ...]) -> None:
        self.findings = tuple(findings)
        first = str(self.findings[0]) if self.findings else "unusable input"
        more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(first + more)


class LedgerError(ReconcilerError):
    """The audit ledger cannot be appended to or read."""


class PlanRefused(ReconcilerError):
    """Apply refuses to run: the plan has errors, is over budget, or was not approved."""


class StalePlan(PlanRefused):
    """A saved plan was made against files or users that have changed since."""

    def __init__(self, message: str, reasons: tuple[str, ...]) -> None:
        self.reasons = reasons
        super().__init__(message)


class ApiError(ReconcilerError):
    """An error reported by (or on the way to) the Genesys Cloud API."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        correlation_id: str | None = None,
        request: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.correlation_id = correlation_id
        self.request = request
        # Set by the session when an earlier attempt of this same request got no trustworthy
        # answer (a timeout, a dropped connection, a 5xx): that attempt may have taken effect.
        self.earlier_attempt_unanswered = False
        super().__init__(self._render())

    @property
    def nothing_changed(self) -> bool:
        """Genesys definitely refused (a 4xx to every attempt): the request certainly did not take effect."""
        return self.status is not None and 400 <= self.status < 500 and not self.earlier_attempt_unanswered

    def _render(self) -> str:
        parts = [self.message]
        if self.status is not None or self.code:
            parts.append(f"[{' '.join(str(p) for p in (self.status, self.code) if p)}]")
        if self.request:
            parts.append(f"({self.request})")
        if self.correlation_id:
            parts.append(f"correlation id {self.correlation_id}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, object]:
        """The shape used for ``error`` in JSON results and ledger records."""
        return {
            "status": self.status,
            "code": self.code,
            "correlation_id": self.correlation_id,
            "message": self.message,
        }


class TransientError(ApiError):
    """The same request may succeed later."""


class RateLimited(TransientError):
    """HTTP 429. ``retry_after`` is in seconds, as Genesys sends it."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int | None = 429,
        code: str | None = None,
        correlation_id: str | None = None,
        request: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, code=code, correlation_id=correlation_id, request=request)


class ServerError(TransientError):
    """HTTP 5xx that Genesys documents as transient."""


class NetworkError(TransientError):
    """Timeout, refused connection or a connection dropped before a response."""


class Unreachable(NetworkError):
    """Genesys could not be reached: the connection was refused, DNS or TLS failed, or nothing answered in time.

    Unlike a dropped connection (a flaky gateway: other requests may fare better), this
    stops a whole read, and enough of them in a row stop an apply.
    """


class PermanentError(ApiError):
    """Retrying the same request will not change the answer."""


class AuthError(PermanentError):
    """The client credentials are wrong, or a fresh token was rejected too."""


class Forbidden(PermanentError):
    """HTTP 403: the OAuth client's roles lack a permission."""


class NotFound(PermanentError):
    """HTTP 404."""


class VersionConflict(PermanentError):
    """Someone else changed the user since we read its version."""


class BadRequest(PermanentError):
    """HTTP 4xx other than the ones above."""


class UnexpectedResponse(PermanentError):
    """A successful status whose body we cannot trust (not JSON, missing fields, repeated pages)."""
