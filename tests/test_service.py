"""`reconciler run`: the drift-correction service, as a real process and tick by tick."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from reconciler.cli.main import build_parser
from reconciler.service.notify import Notifier
from reconciler.service.runner import Schedule, Service
from tests.conftest import FIXED_NOW, JANE, ROOT, SandboxHandle, run_process, sandbox_wall, write
from tests.faultsuite import FAST

FAST_RPM = "600000"


@pytest.fixture
def fast_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox whose rate limit a few hundred ticks cannot reach."""
    from reconciler.sandbox.faults import RateLimit
    from reconciler.sandbox.org import Org
    from reconciler.sandbox.server import Sandbox

    org = Org.generate(200, wall=sandbox_wall())
    with (
        Sandbox(org, rate_limit=RateLimit(allowed=1_000_000, window=1)) as sb,
        httpx.Client(base_url=sb.base_url) as http,
    ):
        yield SandboxHandle(sb, http)


def start_service(handle: SandboxHandle, folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "run",
            str(folder),
            "--metrics-port",
            "0",
            "--log-format",
            "json",
            "--requests-per-minute",
            FAST_RPM,
            *args,
        ],
        env={**os.environ, **handle.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def metrics_url(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        match = re.search(r"metrics on (http://\S+)/metrics", line)
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining the log
            return match.group(1)
    raise AssertionError("the service never announced its metrics endpoint")


def metric(base: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_service_corrects_a_reactivated_leaver_within_two_ticks(
    sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    proc = start_service(sandbox, desired, "--every", "1s", "--ledger", str(tmp_path / "ledger.jsonl"))
    try:
        base = metrics_url(proc)
        wait_for(lambda: sandbox.user(JANE)["state"] == "inactive", 10, "the first tick to deactivate Jane")
        assert httpx.get(f"{base}/healthz").status_code == 200
        before = metric(base, "reconciler_changes_total", action="deactivate", outcome="applied")
        ticks_before = metric(base, "reconciler_ticks_total")
        sandbox.set_state(JANE, "active")  # someone reactivates the leaver in the admin UI...
        sandbox.login(JANE)  # ...and she logs in
        seen = {"ticks": ticks_before}

        def corrected() -> bool:
            seen["ticks"] = metric(base, "reconciler_ticks_total")  # read before the state: never undercounts
            jane = sandbox.user(JANE)
            return bool(jane["state"] == "inactive" and jane["live_tokens"] == 0)

        wait_for(corrected, 10, "the drift to be corrected")
        assert metric(base, "reconciler_ticks_total") - ticks_before <= 2
        wait_for(
            lambda: metric(base, "reconciler_changes_total", action="deactivate", outcome="applied") == before + 1,
            2,
            "/metrics to count the correction",
        )
        assert metric(base, "reconciler_changes_total", action="revoke_tokens", outcome="applied") >= 3
        assert metric(base, "reconciler_drift_detected_total") >= 4
        writes = metric(base, "reconciler_api_requests_total", endpoint="PATCH /api/v2/users/{id}") + metric(
            base, "reconciler_api_requests_total", endpoint="PUT /api/v2/users/{id}/state"
        )
        assert writes >= 4  # Jane's deactivations carry a reason code: PUT /state
        assert metric(base, "reconciler_last_success_timestamp_seconds") > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


def _rss_and_fds(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return rss_kb, len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_hundreds_of_ticks_keep_memory_and_file_descriptors_flat(
    fast_sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    sandbox = fast_sandbox
    proc = start_service(sandbox, desired, "--every", "0.02s", "--ledger", str(tmp_path / "ledger.jsonl"))
    try:
        base = metrics_url(proc)
        samples: dict[int, tuple[int, int]] = {}
        for mark in (60, 400):
            wait_for(lambda m=mark: metric(base, "reconciler_ticks_total") >= m, 120, f"{mark} ticks")
            samples[mark] = _rss_and_fds(proc.pid)
        (rss_early, fds_early), (rss_late, fds_late) = samples[60], samples[400]
        print(f"\nservice after 60 ticks: {rss_early} kB, {fds_early} fds; after 400: {rss_late} kB, {fds_late} fds")
        assert rss_late - rss_early < 4096, f"RSS grew {rss_late - rss_early} kB over 340 ticks"
        assert fds_late <= fds_early + 2  # no growth (a probe connection may come and go)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


def test_sigterm_mid_apply_finishes_the_write_in_flight(sandbox: SandboxHandle, tmp_path: Path) -> None:
    from tests.faultsuite import make_leavers

    leavers = make_leavers(sandbox, tmp_path / "desired", 12)
    sandbox.faults(latency=0.1)
    ledger = tmp_path / "ledger.jsonl"
    proc = start_service(sandbox, leavers.folder, "--every", "1h", "--ledger", str(ledger), "--concurrency", "1")
    try:
        wait_for(lambda: any(r["method"] == "PATCH" for r in sandbox.requests()), 20, "the first write")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    intents = {r["attempt"] for r in records if r["event"] == "intent"}
    outcomes = {r["attempt"] for r in records if r["event"] == "outcome" and r.get("attempt")}
    assert intents and intents <= outcomes  # every write started was finished and recorded
    patched = [r["path"].rsplit("/", 1)[1] for r in sandbox.requests() if r["method"] == "PATCH"]
    revoked = [r["path"].rsplit("/", 1)[1] for r in sandbox.requests() if r["method"] == "DELETE"]
    assert len(patched) < 12 and set(patched) <= set(revoked)  # stopped early, never between a PATCH and its revoke


# --- tick by tick, in process -------------------------------------------------------------


@pytest.fixture
def service_for(runtime_for: Any) -> Any:
    def make(handle: SandboxHandle, folder: Path, **kw: Any) -> Service:
        runtime = runtime_for(handle, folder, settings=FAST, clock=kw.pop("clock", lambda: FIXED_NOW))
        return Service(runtime, Schedule(every=1.0), **kw)

    return make


def test_a_failing_tick_is_counted_and_the_next_one_recovers(
    sandbox: SandboxHandle, desired: Path, service_for: Any
) -> None:
    service = service_for(sandbox, desired)
    sandbox.faults(server_errors=50)  # Genesys is down
    failed = service.tick()  # reads fail after their retries: the plan is an error, nothing is written
    assert (failed.code, failed.reason) == (1, "plan_errors")
    assert sandbox.writes() == []
    sandbox.clear_faults()
    assert service.tick().code == 0
    assert service.metrics.ticks.labels(outcome="failed")._value.get() == 1
    assert service.metrics.ticks.labels(outcome="ok")._value.get() == 1
    assert sandbox.user(JANE)["state"] == "inactive"


def test_a_bad_file_fails_the_tick_without_writing(sandbox: SandboxHandle, desired: Path, service_for: Any) -> None:
    service = service_for(sandbox, desired)
    write(desired, "broken.yaml", "users:\n  - email: [\n")
    report = service.tick()
    assert (report.code, report.reason) == (1, "invalid_files")
    assert sandbox.writes() == []
    (desired / "broken.yaml").unlink()
    assert service.tick().code == 0


def test_report_only_changes_nothing_and_reports_drift(sandbox: SandboxHandle, desired: Path, service_for: Any) -> None:
    report = service_for(sandbox, desired, report_only=True).tick()
    assert report.code == 2 and "Jane.Doe@example.com" in report.users
    assert sandbox.writes() == []


def test_effective_entries_apply_at_the_first_tick_after_their_instant(
    sandbox: SandboxHandle, tmp_path: Path, service_for: Any
) -> None:
    folder = tmp_path / "d"
    write(folder, "a.yaml", "users:\n  - email: jane.doe@example.com\n    effective: 2026-11-28T12:00:30Z\n")
    now = {"t": FIXED_NOW}
    service = service_for(sandbox, folder, clock=lambda: now["t"])
    assert service.tick().changes == 0 and sandbox.user(JANE)["state"] == "active"
    now["t"] = FIXED_NOW + timedelta(seconds=31)
    assert service.tick().applied == 2 and sandbox.user(JANE)["state"] == "inactive"


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_webhook_hears_about_corrections_and_failures(
    sandbox: SandboxHandle, desired: Path, service_for: Any, webhook: Any
) -> None:
    url, received = webhook
    notifier = Notifier(url)
    service = service_for(sandbox, desired, notifier=notifier)
    service.tick()
    sandbox.faults(server_errors=50)
    service.tick()
    notifier.close()
    # Genesys down is a failed tick that starts a backoff: one message says both.
    assert [m["event"] for m in received] == ["drift_corrected", "backoff_started"]
    assert "tick 2 failed: the plan has 5 error(s)" in received[1]["text"]
    assert received[0]["text"].startswith("reconciler: brought 3 user(s) back to the desired state")
    assert "Jane.Doe@example.com" in received[0]["users"]


def test_a_failing_webhook_never_breaks_a_tick(sandbox: SandboxHandle, desired: Path, service_for: Any) -> None:
    notifier = Notifier("http://127.0.0.1:9/unreachable", timeout=0.5)
    report = service_for(sandbox, desired, notifier=notifier).tick()
    notifier.close()
    assert report.code == 0 and report.applied == 5 and notifier.failed == 1


def test_health_turns_503_when_the_last_tick_is_two_intervals_old(
    sandbox: SandboxHandle, desired: Path, service_for: Any
) -> None:
    wall = {"t": 1000.0}
    service = service_for(sandbox, desired, wall=lambda: wall["t"])
    assert service.health()[0]  # just started: within the grace of two intervals
    service.tick()
    wall["t"] += 1.9
    assert service.health()[0]
    wall["t"] += 0.2
    healthy, detail = service.health()
    assert not healthy and "limit 2s" in detail


def test_ticks_never_overlap(sandbox: SandboxHandle, desired: Path, service_for: Any) -> None:
    sandbox.faults(latency=0.05)
    running, overlap, count = [0], [0], [0]
    service = service_for(sandbox, desired)
    service.schedule = Schedule(every=0.01)
    real_tick = service.tick

    def tick() -> Any:
        running[0] += 1
        overlap[0] = max(overlap[0], running[0])
        try:
            return real_tick()
        finally:
            running[0] -= 1
            count[0] += 1

    service.tick = tick  # type: ignore[method-assign]
    thread = threading.Thread(target=service.run_forever)
    thread.start()
    time.sleep(1.5)
    service.stop()
    thread.join(timeout=10)
    assert count[0] >= 2 and overlap[0] == 1


def test_git_pull_picks_up_new_commits_and_a_failed_pull_keeps_the_last_good_state(
    sandbox: SandboxHandle, tmp_path: Path, service_for: Any
) -> None:
    def git(cwd: Path, *args: str) -> None:
        subprocess.run(
            ["git", "-C", str(cwd), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            check=True,
            capture_output=True,
        )

    origin, clone = tmp_path / "origin", tmp_path / "clone"
    write(origin, "a.yaml", "users:\n  - email: jane.doe@example.com\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "first")
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    service = service_for(sandbox, clone, git_pull=True)
    assert service.tick().applied == 2
    write(origin, "b.yaml", "users:\n  - email: john.roe@example.com\n")
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "john leaves")
    assert service.tick().applied == 2  # pulled, then John was deactivated
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone"))
    report = service.tick()  # the pull fails; the files on disk are still enforced
    assert report.code == 0
    assert service.metrics.failures.labels(reason="git_pull")._value.get() == 1


def test_once_exits_with_the_ticks_code(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    ledger = ["--ledger", str(tmp_path / "l.jsonl"), "--requests-per-minute", FAST_RPM]
    assert run_process("run", str(desired), "--once", "--report-only", *ledger, env=sandbox.env).code == 2
    assert run_process("run", str(desired), "--once", *ledger, env=sandbox.env).code == 0
    assert run_process("run", str(desired), "--once", *ledger, env=sandbox.env).code == 0
    write(desired, "ghost.yaml", "users:\n  - email: ghost@example.com\n")
    assert run_process("run", str(desired), "--once", *ledger, env=sandbox.env).code == 1


def test_schedule_options(sandbox: SandboxHandle) -> None:
    from reconciler.cli.run import parse_duration

    assert [parse_duration(t) for t in ("30s", "15m", "1h", "2", "0.5s")] == [30, 900, 3600, 2, 0.5]
    assert Schedule(cron="*/15 * * * *").period() == 900
    bad = run_process("run", "--cron", "every tuesday", "--once", env=sandbox.env)
    assert bad.code == 1 and "--cron" in bad.err
    soon = run_process("run", "--every", "soon", env=sandbox.env)  # a usage error, found at parsing
    assert soon.code == 2 and "'soon' is out of range: expected a duration above 0 and at most 7 days" in soon.err


def test_kubernetes_examples_run_commands_the_cli_accepts() -> None:
    parser = build_parser()
    for path in sorted((ROOT / "examples" / "kubernetes").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"]
        pod = spec["jobTemplate"]["spec"]["template"]["spec"] if doc["kind"] == "CronJob" else spec["template"]["spec"]
        command = pod["containers"][0]["command"]
        assert command[0] == "reconciler"
        parser.parse_args(command[1:])
        if doc["kind"] == "CronJob":
            assert spec["concurrencyPolicy"] == "Forbid" and "--once" in command


def test_structured_json_logs_carry_no_secrets(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    result = run_process(
        "run",
        str(desired),
        "--once",
        "--log-format",
        "json",
        "--ledger",
        str(tmp_path / "l.jsonl"),
        "--requests-per-minute",
        FAST_RPM,
        env=sandbox.env,
    )
    events = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    assert {"tick_started", "drift_detected", "write", "tick_finished"} <= {e.get("event") for e in events}
    writes = [e for e in events if e.get("event") == "write"]
    assert {"action", "user_id", "outcome"} <= set(writes[0])
    assert sandbox.env["GENESYSCLOUD_OAUTHCLIENT_SECRET"] not in result.err + result.out
    assert not any(token in result.err for token in sandbox.app.tokens)


# --- backoff (issue 11 §4) ------------------------------------------------------------------


def test_the_service_backs_off_after_a_tick_of_failures_and_recovers(
    sandbox: SandboxHandle, desired: Path, service_for: Any, webhook: Any
) -> None:
    url, received = webhook
    wall = {"t": 1000.0}
    notifier = Notifier(url)
    service = service_for(sandbox, desired, wall=lambda: wall["t"], notifier=notifier, max_backoff=5.0)
    sandbox.faults(server_errors=100_000)  # Genesys is down

    first = service.scheduled()
    assert first.code == 1 and first.unreachable
    assert service.backoff.delay == 2.0 and service.metrics.backoff._value.get() == 2.0
    assert service.status()["backoff"] == {
        "active": True,
        "seconds": 2.0,
        "until": "1970-01-01T00:16:41Z",  # 1000 + 2 s, less half the 1 s period
        "bad_ticks": 1,
        "reason": "plan_errors",
        "max_seconds": 5.0,
    }
    mark = len(sandbox.requests())
    wall["t"] += 1.0
    assert service.scheduled().skipped and len(sandbox.requests()) == mark  # not one call while waiting
    assert service.health()[0]  # backing off never fails liveness

    wall["t"] += 1.5
    assert service.scheduled().code == 1 and service.backoff.delay == 4.0  # doubled
    wall["t"] += 4.5
    assert service.scheduled().code == 1 and service.backoff.delay == 5.0  # capped by --max-backoff
    wall["t"] += 2.0
    assert service.scheduled().skipped

    sandbox.clear_faults()
    wall["t"] += 3.5
    recovered = service.scheduled()
    assert recovered.code == 0 and recovered.applied == 5
    assert service.backoff.delay == 0.0 and service.metrics.backoff._value.get() == 0.0
    assert not service.status()["backoff"]["active"]
    wall["t"] += 1.0
    assert not service.scheduled().skipped  # the normal schedule again
    notifier.close()
    assert [m["event"] for m in received] == ["backoff_started", "drift_corrected"]  # one notification for the episode
    assert "the next tick waits 2s, doubling up to 5s" in received[0]["text"]


def test_the_tick_due_when_the_backoff_ends_runs_so_no_wait_exceeds_max_backoff() -> None:
    """Scheduled ticks fire every period from the bad tick's start, but the backoff is recorded at its end."""
    from itertools import pairwise

    from reconciler.service.backoff import Backoff, TickHealth

    period, took = 900.0, 5.0  # --every 15m; each bad tick takes 5 s
    backoff = Backoff(period=period, max_delay=3600.0)
    down = TickHealth(unreachable=True, reason="api")
    runs = [0.0]
    backoff.record(down, took, failed_ratio=0.5, min_writes=2)
    for due in (period * k for k in range(1, 12)):
        if not backoff.waiting(due):
            runs.append(due)
            backoff.record(down, due + took, failed_ratio=0.5, min_writes=2)
    gaps = [b - a for a, b in pairwise(runs)]
    assert gaps == [1800.0, 3600.0, 3600.0]  # twice the period, four times, then capped by --max-backoff


def test_one_refused_write_is_not_an_outage_but_most_writes_refused_is(
    sandbox: SandboxHandle, desired: Path, service_for: Any
) -> None:
    from tests.conftest import JOHN

    service = service_for(sandbox, desired, wall=lambda: 1000.0)
    sandbox.faults(fail_writes={JANE: 404})
    report = service.tick()
    assert report.code == 1 and report.failed >= 1 and report.applied >= 3
    assert not service.backoff.active  # a minority of writes refused: this user's problem, not the org's
    other = service_for(sandbox, desired, wall=lambda: 1000.0)
    sandbox.set_state(JANE, "active")
    sandbox.set_state(JOHN, "active")
    sandbox.faults(fail_writes={JANE: 403, JOHN: 403})
    refused = other.tick()
    assert refused.failed >= 2 and refused.applied == 0
    assert other.backoff.active and "directory:user:edit" in str(refused.fix)


def test_auth_failures_name_the_variable_to_fix(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong-secret"}
    result = run_process("run", str(desired), "--once", "--ledger", str(tmp_path / "l.jsonl"), env=env)
    assert result.code == 1
    assert "To fix: Genesys rejected the OAuth client credentials: check GENESYSCLOUD_OAUTHCLIENT_ID" in result.err
    assert "wrong-secret" not in result.err


def test_backoff_status_and_metric_are_served(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    sandbox.faults(server_errors=100_000)
    proc = start_service(sandbox, desired, "--every", "30s", "--max-backoff", "90s", "--ledger", str(tmp_path / "l"))
    try:
        base = metrics_url(proc)
        wait_for(lambda: metric(base, "reconciler_backoff_seconds") == 60.0, 60, "the first tick to start a backoff")
        status = httpx.get(f"{base}/status").json()
        assert status["backoff"]["active"] and status["backoff"]["seconds"] == 60.0
        assert status["backoff"]["max_seconds"] == 90.0
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        stop(proc)


# --- drift attributed and users held, in the service (issue 11 §2-3) ---------------------------

IDP_CLIENT = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"


def test_the_service_names_who_caused_drift_and_notifies_a_hold_once(
    sandbox: SandboxHandle, desired: Path, service_for: Any, webhook: Any
) -> None:
    url, received = webhook
    notifier = Notifier(url)
    service = service_for(sandbox, desired, notifier=notifier)
    service.tick()  # the first apply
    sandbox.add_client(IDP_CLIENT, "Okta provisioning")
    sandbox.set_state_as(JANE, "active", client=IDP_CLIENT, repeat=4)
    for _ in range(3):
        corrected = service.tick()
        assert corrected.code == 0 and "Jane.Doe@example.com" in corrected.users
    assert service.metrics.drift_by.labels(kind="client")._value.get() == 3
    held = service.tick()
    assert held.held == ["Jane.Doe@example.com"] and held.changes == 0
    assert service.metrics.held._value.get() == 1 and service.status()["held"] == ["Jane.Doe@example.com"]
    assert service.tick().held == ["Jane.Doe@example.com"]  # still held next tick...
    notifier.close()
    events = [m["event"] for m in received]
    assert events.count("user_held") == 1  # ...but notified once per hold, not every tick
    corrections = [m for m in received if m["event"] == "drift_corrected"]
    assert len(corrections) == 4 and "changed by OAuth client Okta provisioning" in corrections[1]["text"]
    assert corrections[1]["changed_by"] == {
        "Jane.Doe@example.com": f"Jane.Doe@example.com (changed by OAuth client Okta provisioning ({IDP_CLIENT}))"
    }
    (hold,) = [m for m in received if m["event"] == "user_held"]
    assert "reactivated 4 times in 24h, last by OAuth client Okta provisioning" in hold["text"]


def test_a_notification_cannot_ping_a_channel_or_forge_a_link() -> None:
    """Names reach notifications from Genesys (an OAuth client's name): Slack markup and controls are escaped."""
    posted: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200)

    notifier = Notifier("https://hooks.example.invalid/x", transport=httpx.MockTransport(record))
    notifier.send("drift_corrected", "reactivated by <!channel> & <https://evil.example|IT>\x1b[2J\r")
    text = posted[0]["text"]
    assert "<" not in text and ">" not in text and "\x1b" not in text and "\r" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|IT&gt;" in text
    notifier.close()
