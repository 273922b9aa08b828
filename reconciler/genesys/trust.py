"""TLS trust failures: permanent, and explained. Pure (inspects an exception, raises ours).

A server certificate that cannot be verified fails the same way on every
retry, and its usual cause is a TLS-inspecting proxy or a private CA whose
bundle the process was not told about. The session turns it into one
AuthError that says so (naming ``SSL_CERT_FILE``) instead of retrying a
ConnectError. Never imports the session: the session imports this.

``verification_for`` says what the session verifies servers with: httpx's
default, or, when no URL is https (only loopback may be plain, config.py),
a context that trusts no CA: loading the CA store costs every start 0.05 s
of CPU or more, for a handshake plain HTTP never makes, and any TLS through
that context would fail closed.
"""

from __future__ import annotations

import ssl

from reconciler.errors import ApiError, AuthError, NetworkError

__all__ = ["raise_if_untrusted", "transport_failure", "verification_for"]


def verification_for(api_url: str, login_url: str) -> ssl.SSLContext | bool:
    """httpx's ``verify=``: its default (True), unless neither URL is https."""
    if api_url.startswith("http://") and login_url.startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def raise_if_untrusted(exc: BaseException, request: str) -> None:
    """Raise AuthError if ``exc`` was caused by a certificate that failed verification."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        raise AuthError(
            f"the server's TLS certificate is not trusted ({cause.verify_message or 'verification failed'}); "
            f"behind a TLS-inspecting proxy or with a private CA, point SSL_CERT_FILE at its CA bundle",
            request=request,
        ) from None


def transport_failure(exc: BaseException, request: str, what: str) -> ApiError:
    """The error for a request that never got an answer: transient, unless the certificate is untrusted."""
    raise_if_untrusted(exc, request)
    return NetworkError(f"{what} ({type(exc).__name__})", request=request)
