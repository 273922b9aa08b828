"""The one place HTTP becomes Python: tokens, pacing, retries, and the error tree.

Effectful. Every request goes through ``ApiSession.request``:

1. wait for a turn on the token's budget (pacer.py);
2. send with the current bearer token; on a 401, fetch a new token once and
   resend; a second 401 is an AuthError;
3. map the answer: 2xx -> parsed JSON, anything else -> an ApiError subclass
   carrying Genesys's ``code``, the status and the correlation id;
4. retry TransientError (429, 502/503/504, 408, timeouts, dropped
   connections) with tenacity: a 429 waits exactly its Retry-After (through
   the pacer, for every worker), anything else backs off exponentially with
   full jitter. 400/403/404/409 are never retried here.

Retrying a PATCH after a lost answer is safe: it carries the version it was
planned against, so a PATCH that did land the first time comes back as a
version conflict, which apply resolves by re-reading.

Log lines and exceptions name the method and path, never headers or tokens.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import tenacity

from reconciler import __version__
from reconciler.core.settings import Settings
from reconciler.endpoints import endpoint_name
from reconciler.errors import (
    ApiError,
    AuthError,
    BadRequest,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransientError,
    UnexpectedResponse,
    VersionConflict,
)
from reconciler.genesys.config import Connection
from reconciler.genesys.headers import date_header, retry_after_seconds
from reconciler.genesys.pacer import Pacer
from reconciler.genesys.transport import connection_error
from reconciler.genesys.trust import verification_for

__all__ = ["ApiResponse", "ApiSession", "ApiStats", "endpoint_name"]

log = logging.getLogger("reconciler.genesys")
# One line per API call (-v). Its own logger, so the service's default INFO log stays one line per event.
calls_log = logging.getLogger("reconciler.api")

TRANSIENT_STATUSES = frozenset({408, 502, 503, 504})
VERSION_MISMATCH_TEXT = "does not match the current version"


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    data: Any
    headers: Mapping[str, str]
    correlation_id: str | None

    @property
    def server_time(self) -> datetime | None:
        """The response's Date header: Genesys's clock, to compare with its timestamps."""
        return date_header(self.headers)


class ApiStats:
    """Counts requests by endpoint and status, thread-safely (for tests, reports and metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.retries = 0
        self.listeners: list[Callable[[str, int], None]] = []

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.calls[endpoint] += 1
            self.statuses[status] += 1
        for listener in self.listeners:
            listener(endpoint, status)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class _TokenSource:
    """Client-credentials tokens: fetched lazily, refreshed before expiry or after a 401."""

    EARLY_REFRESH = 60.0  # seconds before expires_in that we stop trusting a token

    def __init__(self, conn: Connection, http: httpx.Client, clock: Callable[[], float], stats: ApiStats) -> None:
        self._conn = conn
        self._http = http
        self._clock = clock
        self._stats = stats
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self._generation = 0  # bumped on every fetch

    def current(self) -> tuple[str, int]:
        """The token to use, and its generation."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._renew()
            assert self._token is not None
            return self._token, self._generation

    def renewed(self, rejected_generation: int) -> str:
        """A token newer than the rejected one: another worker's fresh fetch, or our own."""
        with self._lock:
            if self._token is None or self._generation <= rejected_generation or self._clock() >= self._expires:
                self._renew()
            assert self._token is not None
            return self._token

    def _renew(self) -> None:
        token, lifetime = self._fetch()
        self._token, self._generation = token, self._generation + 1
        self._expires = self._clock() + max(0.0, lifetime - self.EARLY_REFRESH)

    def _fetch(self) -> tuple[str, float]:
        basic = base64.b64encode(f"{self._conn.client_id}:{self._conn.client_secret.reveal()}".encode()).decode()
        url = f"{self._conn.login_url}/oauth/token"
        try:
            resp = self._http.post(
                url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
            )
            self._stats.record("POST /oauth/token", resp.status_code)
        except httpx.TransportError as exc:
            self._stats.record("POST /oauth/token", 0)
            raise connection_error(exc, f"the login endpoint {url}") from None
        if resp.status_code in (400, 401, 403):
            raise AuthError(
                "Genesys rejected the OAuth client credentials (check "
                "GENESYSCLOUD_OAUTHCLIENT_ID/SECRET and GENESYSCLOUD_REGION)",
                status=resp.status_code,
                request=f"POST {url}",
            )
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ServerError("the login endpoint is unavailable", status=resp.status_code, request=f"POST {url}")
        try:
            body = resp.json()
            return str(body["access_token"]), float(body.get("expires_in", 86_400))
        except (ValueError, KeyError, TypeError):
            raise UnexpectedResponse(
                "the login endpoint answered without an access_token", status=resp.status_code, request=f"POST {url}"
            ) from None


class ApiSession:
    def __init__(
        self,
        conn: Connection,
        settings: Settings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.settings = settings or Settings()
        self.conn = conn
        # One connection per worker at most; httpx's default pool (100) would queue a larger cap.
        connections = max(100, self.settings.concurrency or 0, self.settings.max_concurrency)
        self.http = httpx.Client(
            transport=transport,
            verify=verification_for(conn.api_url, conn.login_url),
            timeout=self.settings.request_timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"User-Agent": f"reconciler/{__version__}", "Accept": "application/json"},
        )
        self.stats = ApiStats()
        self.tokens = _TokenSource(conn, self.http, clock, self.stats)
        self.pacer = Pacer(self.settings.requests_per_minute, clock=clock, sleep=sleep)
        self._sleep = sleep
        self._jitter = jitter
        self._server_time: datetime | None = None
        self._server_time_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    @property
    def server_time(self) -> datetime | None:
        """Genesys's clock as of the latest successful answer (its Date header), if any was dated.

        Token issue times are Genesys's timestamps: their age is measured on this clock, so a
        local clock that is wrong by hours or by a year neither hides a live token nor revokes
        an expired one.
        """
        return self._server_time

    def _note_server_time(self, when: datetime | None) -> None:
        if when is not None:
            with self._server_time_lock:
                if self._server_time is None or when > self._server_time:
                    self._server_time = when

    # --- the retry loop -----------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> ApiResponse:
        """Send one logical request, retrying transient failures within the budgets."""

        # Two budgets, one per kind of failure. Tenacity keeps the per-request statistics; the
        # ``after`` hook (run once per failed attempt, before stop and wait) adds our two counters.
        def failed(state: tenacity.RetryCallState) -> BaseException | None:
            return state.outcome.exception() if state.outcome else None

        def count(state: tenacity.RetryCallState) -> None:
            kind = "rate_limited" if isinstance(failed(state), RateLimited) else "transient"
            stats = state.retry_object.statistics
            stats[kind] = stats.get(kind, 0) + 1

        def tally(state: tenacity.RetryCallState, kind: str) -> int:
            return int(state.retry_object.statistics.get(kind, 0))

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = failed(state)
            if isinstance(exc, RateLimited):
                too_long = exc.retry_after is not None and exc.retry_after > self.settings.max_retry_after
                return too_long or tally(state, "rate_limited") > self.settings.rate_limit_retries
            return tally(state, "transient") >= self.settings.retry_attempts

        def wait(state: tenacity.RetryCallState) -> float:
            if isinstance(failed(state), RateLimited):
                return 0.0  # the pacer already holds every worker until Retry-After
            ceiling = self.settings.backoff_initial * 2 ** (tally(state, "transient") - 1)
            return self._jitter(0.0, min(self.settings.backoff_max, ceiling))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = failed(state)
            self.stats.record_retry()
            if isinstance(exc, RateLimited):
                pause = f"{exc.retry_after:g} s" if exc.retry_after is not None else "(none given: 1 s)"
                what = f"waiting Retry-After {pause} (all workers)"
            else:
                attempt = f"attempt {tally(state, 'transient') + 1} of {self.settings.retry_attempts}"
                what = f"retrying in {state.upcoming_sleep:.2f} s ({attempt})"
            log.debug("%s %s: %s; %s", method, path, exc, what)  # retries: -vv

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            after=count,
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        unanswered = False  # an earlier attempt got no trustworthy answer, so it may have taken effect

        def attempt() -> ApiResponse:
            nonlocal unanswered
            try:
                return self._send_with_auth(method, path, params, json)
            except ApiError as exc:
                exc.earlier_attempt_unanswered = unanswered
                unanswered = unanswered or not exc.nothing_changed
                raise

        return retrying(attempt)

    # --- one attempt --------------------------------------------------------------

    def _send_with_auth(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> ApiResponse:
        token, generation = self.tokens.current()
        resp = self._send(method, path, params, body, token)
        if resp.status_code == 401:
            # Expired or idle-timed-out token: one fresh token, one more try.
            log.info("%s %s: 401, fetching a new token and retrying once", method, path)
            resp = self._send(method, path, params, body, self.tokens.renewed(generation))
            if resp.status_code == 401:
                raise self._error(resp, method, path, AuthError, "Genesys rejected a freshly issued token")
        return self._interpret(resp, method, path)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, token: str) -> httpx.Response:
        sent = self.pacer.acquire()
        headers = None
        started = time.perf_counter()  # for the log line only; pacing and retries use the injected clock
        try:
            resp = self.http.request(
                method, self._url(path, params), json=body, headers={"Authorization": f"Bearer {token}"}
            )
            headers = resp.headers
            # httpx binds a response's stream back to the response, a reference cycle, so a body
            # (400 KB a listing page) waited for the cyclic collector, which one-shot verbs do not
            # run (core/collector.py). The body is read: a plain stream over it breaks the cycle.
            resp.stream = httpx.ByteStream(resp.content)
        except httpx.TransportError as exc:  # timeouts included
            self.stats.record(endpoint_name(method, path), 0)
            raise connection_error(exc, f"Genesys Cloud at {self.conn.api_url}", f"{method} {path}") from None
        except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded: an answer we cannot trust
            self.stats.record(endpoint_name(method, path), 0)
            raise UnexpectedResponse(f"unreadable answer ({type(exc).__name__})", request=f"{method} {path}") from None
        finally:
            self.pacer.release(headers, sent)
        self.stats.record(endpoint_name(method, path), resp.status_code)
        ms = (time.perf_counter() - started) * 1000  # -v: method, path, status, time; never query, headers, body
        calls_log.info("%s %s -> %d (%.0f ms)", method, path, resp.status_code, ms, extra={"event": "api_call"})
        return resp

    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        """The whole URL, query encoded here: a batch of 100 ids is a 3,800-character query, and
        httpx's own encoding of ``params=`` cost twice its parsing of a finished URL (0.8 ms a
        call on the benchmark machine). Commas stay literal, as the Genesys SDK sends lists."""
        url = self.conn.api_url + path
        if params:
            url += "?" + urlencode(params, safe=",", quote_via=quote)
        return url

    def _interpret(self, resp: httpx.Response, method: str, path: str) -> ApiResponse:
        status = resp.status_code
        correlation = resp.headers.get("inin-correlation-id")
        if 200 <= status < 300:
            data: Any = None
            if resp.content:
                try:
                    data = resp.json()
                except ValueError:
                    raise UnexpectedResponse(
                        "Genesys answered with a body that is not JSON",
                        status=status,
                        correlation_id=correlation,
                        request=f"{method} {path}",
                    ) from None
            answer = ApiResponse(status, data, resp.headers, correlation)
            self._note_server_time(answer.server_time)
            return answer
        if status == 429:
            retry_after = retry_after_seconds(resp.headers.get("retry-after"), date_header(resp.headers))
            wait = retry_after if retry_after is not None else 1.0
            if wait <= self.settings.max_retry_after:
                self.pacer.rate_limited_for(wait)
            # Longer than max_retry_after: this request fails (see stop()) instead of stalling every worker.
            raise self._error(resp, method, path, RateLimited, "rate limited", retry_after=retry_after)
        if status in TRANSIENT_STATUSES:
            raise self._error(resp, method, path, ServerError, "Genesys is temporarily unavailable")
        if status == 409:
            raise self._error(resp, method, path, VersionConflict, "version conflict")
        if status == 400:
            err = self._error(resp, method, path, BadRequest, "bad request")
            if VERSION_MISMATCH_TEXT in err.message:
                raise self._error(resp, method, path, VersionConflict, "version conflict")
            raise err
        if status == 403:
            raise self._error(resp, method, path, Forbidden, "permission denied")
        if status == 404:
            raise self._error(resp, method, path, NotFound, "not found")
        if 400 <= status < 500:
            raise self._error(resp, method, path, BadRequest, f"HTTP {status}")
        # A 3xx (redirects are not followed: a write must not be re-sent elsewhere) or a 5xx that
        # is not a documented transient one: not a refusal, so the write may have landed.
        raise self._error(resp, method, path, UnexpectedResponse, f"unexpected answer HTTP {status}")

    @staticmethod
    def _error(
        resp: httpx.Response, method: str, path: str, kind: type[ApiError], fallback: str, **extra: Any
    ) -> ApiError:
        """Build an error from Genesys's ErrorBody (message, code, contextId) when there is one."""
        message, code, context = fallback, None, None
        try:
            body = resp.json()
            if isinstance(body, dict):
                message = str(body.get("message") or fallback)
                code = body.get("code")
                context = body.get("contextId")
        except ValueError:
            pass
        correlation = resp.headers.get("inin-correlation-id") or context
        return kind(
            message, status=resp.status_code, code=code, correlation_id=correlation, request=f"{method} {path}", **extra
        )
