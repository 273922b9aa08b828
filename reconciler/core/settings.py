"""Named limits. Every budget the tool enforces lives here, with why its default is what it is.

Pure data. The CLI may override fields (``dataclasses.replace``); nothing else
hard-codes a number that an operator could reasonably want to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    # --- writes and reads in flight -----------------------------------------
    # Requests in flight at once, for writes (one user per worker: its PATCH,
    # then its revoke) and for batched reads. Genesys limits requests per token,
    # not connections, so workers only have to hide latency. By Little's law the
    # requests in flight needed to keep the allowed rate are rate x latency, so
    # by default (None) the pool is sized from the pace and the latency measured
    # on this run's own requests. ``--concurrency N`` sets a cap instead.
    concurrency: int | None = None
    # The ceiling of that sizing. At Genesys's 300 requests a minute (5 a
    # second) 64 workers hide up to about 8 s of latency; more would only be
    # idle threads (and connections) waiting for the pacer.
    max_concurrency: int = 64

    # Re-read and re-decide after a version conflict (someone else changed the
    # user between our read and our PATCH). Three conflicts in a row on one user
    # means a writer is fighting us; we stop and report rather than loop.
    conflict_retries: int = 3

    # --- pacing -----------------------------------------------------------
    # Requests per minute we allow ourselves on one token when the API does not
    # tell us its limit. Genesys documents 300 per client-credentials token per
    # minute; since June 2021 it no longer sends inin-ratelimit-* headers, so
    # this is the ceiling we pace to. When headers are present they win.
    requests_per_minute: float = 300.0

    # --- retries (per request) ----------------------------------------------
    # Attempts for transient failures (502/503/504, timeouts, dropped
    # connections), including the first. Exponential backoff with full jitter
    # between attempts: 0.5 s, then up to 1, 2, 4 s: about 8 s in the worst case,
    # enough to ride out a gateway blip, short enough to surface an outage.
    retry_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    # 429 answers honoured for one request before giving up on it. Each one
    # waits the full Retry-After, so 20 covers a long throttling episode
    # (Genesys's own CLI also stops after 20).
    rate_limit_retries: int = 20

    # A Retry-After longer than this fails the request instead of stalling a
    # run (or a scheduler tick) for longer than an operator would expect.
    max_retry_after: float = 300.0

    # Seconds before an HTTP request is abandoned (then retried as transient).
    request_timeout: float = 30.0

    # Writes in a row that could not reach Genesys at all (refused, DNS, TLS,
    # timed out; each already retried above) before apply stops starting new
    # users and reports the rest skipped. Three in a row is an outage, not a
    # blip; it bounds a dead API to about two retry budgets (~16 s when
    # connections are refused; with every request timing out, about
    # 2 x retry_attempts x request_timeout) instead of one budget per user.
    unreachable_after: int = 3

    # --- reads ------------------------------------------------------------
    # GET /api/v2/users?id= accepts at most 100 ids (400 max.user.ids).
    id_batch_size: int = 100
    # Page size for full listings (/api/v2/users/query). Genesys's own
    # Terraform provider pages users 500 at a time in production.
    list_page_size: int = 500
    # Emails per search request and results per search page. No Genesys
    # document states a maximum; 100 is the conservative value the sandbox enforces.
    search_batch_size: int = 100
    search_page_size: int = 100

    # --- drift attribution (the audit API; optional) -----------------------
    # Audit queries one run may send to name who moved drifted users; the rest are
    # "unknown". Each is one realtime query against the same per-token budget as
    # the writes; 20 names a typical wave of drift without delaying its correction.
    max_audit_queries: int = 20
    # Audit messages read per drifted user (newest first): the state change we look
    # for is the latest one, so one page of 25 (the SDK's default) is plenty.
    audit_page_size: int = 25

    # --- the service's backoff ------------------------------------------------
    # A tick in which more than this share of the attempted writes failed (and at
    # least backoff_min_writes were attempted) makes `reconciler run` back off, as
    # does a tick in which Genesys could not be reached at all. One failed write out
    # of one is a user's problem, not an outage: it does not count.
    backoff_failed_ratio: float = 0.5
    backoff_min_writes: int = 2

    # --- tokens -----------------------------------------------------------
    # The longest access-token lifetime Genesys allows an OAuth client (48 h).
    # Without a ledger, a token issued within this window may still be valid,
    # so a declared-inactive user holding one gets a revoke.
    max_token_lifetime: timedelta = timedelta(hours=48)

    # --- files ------------------------------------------------------------
    # Desired-state files larger than this are refused before parsing: a
    # 100,000-user file is about 6 MB, so 32 MiB leaves room while stopping a
    # runaway generated file from exhausting memory.
    max_file_bytes: int = 32 * 1024 * 1024
