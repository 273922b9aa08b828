"""The audit ledger: what it records, torn lines, the git commit, and no secrets."""

from __future__ import annotations

import json
import subprocess
import traceback
from pathlib import Path
from typing import Any

from reconciler.errors import AuthError
from reconciler.genesys.config import connection_from_env
from reconciler.ledger import Ledger, read_ledger
from tests.conftest import JANE, SandboxHandle


def test_every_write_has_an_intent_then_an_outcome(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any, tmp_path: Path
) -> None:
    runtime = runtime_for(sandbox, desired)
    runtime.apply(runtime.plan().plan)
    records = read_ledger(tmp_path / "ledger.jsonl").records
    janes = [r for r in records if r["user_id"] == JANE]
    assert [(r["event"], r["action"]) for r in janes] == [
        ("intent", "deactivate"),
        ("outcome", "deactivate"),
        ("intent", "revoke_tokens"),
        ("outcome", "revoke_tokens"),
    ]
    intent, outcome = janes[0], janes[1]
    assert intent["attempt"] == outcome["attempt"]
    assert {
        "v",
        "time",
        "run",
        "commit",
        "user_id",
        "email",
        "before",
        "after",
        "version",
        "source",
        "reason",
        "ticket",
    } <= set(intent)
    assert (intent["email"], intent["before"], intent["after"], intent["version"]) == (
        "Jane.Doe@example.com",
        "active",
        "inactive",
        4,
    )
    assert outcome["outcome"] == "applied" and outcome["correlation_id"] and outcome["version_after"] == 5
    revoke = next(r for r in records if r["action"] == "revoke_tokens" and r["event"] == "outcome")
    assert revoke["server_time"].endswith("Z")  # Genesys's own clock, from the Date header
    assert len({r["run"] for r in records}) == 1


def test_git_commit_of_the_desired_state_is_recorded(
    sandbox: SandboxHandle, desired: Path, runtime_for: Any, tmp_path: Path
) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(desired), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "leavers")
    head = git("rev-parse", "HEAD")
    runtime = runtime_for(sandbox, desired)
    runtime.apply(runtime.plan().plan)
    assert {r["commit"] for r in read_ledger(tmp_path / "ledger.jsonl").records} == {head}
    (desired / "returning.yaml").write_text("users: []\n")  # uncommitted edit
    sandbox.set_state(JANE, "active")
    runtime.apply(runtime.plan().plan)
    assert read_ledger(tmp_path / "ledger.jsonl").records[-1]["commit"] == head + "+dirty"


def test_a_torn_last_line_is_reported_and_the_next_append_starts_clean(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger(path) as ledger:
        ledger.append({"event": "intent", "action": "deactivate", "user_id": "a"})
    with open(path, "ab") as fh:
        fh.write(b'{"event": "outcome", "action": "deact')  # the machine died mid-write
    torn = read_ledger(path)
    assert len(torn.records) == 1
    assert torn.warnings == (f"{path}:2: torn last line (an interrupted write); ignored",)
    with Ledger(path) as ledger:
        ledger.append({"event": "intent", "action": "revoke_tokens", "user_id": "a"})
    again = read_ledger(path)
    assert [r["action"] for r in again.records] == ["deactivate", "revoke_tokens"]
    assert again.warnings == (f"{path}:2: unreadable record (an interrupted write); ignored",)
    assert all(json.loads(line) for line in path.read_text().splitlines()[2:])


def test_plan_reports_a_torn_ledger_and_still_plans(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "torn.jsonl"
    ledger.write_bytes(b'{"event": "intent"')
    result = cli("plan", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert result.code == 0 and "torn last line" in result.err


def test_missing_ledger_is_empty_and_the_ledger_file_is_private(tmp_path: Path) -> None:
    assert read_ledger(tmp_path / "none.jsonl").records == ()
    with Ledger(tmp_path / "sub" / "l.jsonl") as ledger:
        ledger.append({"event": "intent"})
    assert oct((tmp_path / "sub" / "l.jsonl").stat().st_mode & 0o777) == "0o600"


def test_secrets_stay_out_of_reprs_and_tracebacks(sandbox: SandboxHandle) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "top-secret-value"}
    conn = connection_from_env(env)
    assert "top-secret-value" not in repr(conn) and "top-secret-value" not in str(conn)
    from reconciler.genesys.client import GenesysClient
    from reconciler.genesys.session import ApiSession

    client = GenesysClient(ApiSession(conn))
    try:
        client.whoami()
    except AuthError:
        trace = traceback.format_exc()
    finally:
        client.close()
    assert "rejected the OAuth client credentials" in trace
    assert "top-secret-value" not in trace
