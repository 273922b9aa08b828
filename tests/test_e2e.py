"""End to end: the real CLI against the sandbox over a real loopback socket."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALEX_1, ALEX_2, CARLOS, DANA, JANE, JOHN, PRIYA, ROOT, SandboxHandle, run_process, write

SECRET = "sandbox-secret-not-for-production"


def plan_json(cli: Any, handle: SandboxHandle, folder: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("plan", str(folder), "--format", "json", *extra, env=handle.env)
    return result.code, json.loads(result.out)


def test_first_plan_lists_exactly_the_needed_writes(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    code, doc = plan_json(cli, sandbox, desired)
    assert code == 0
    assert [(c["action"], c["id"], c["before"], c["after"], c["version"]) for c in doc["changes"]] == [
        ("deactivate", JANE, "active", "inactive", 4),
        ("revoke_tokens", JANE, "inactive", "inactive", 4),
        ("deactivate", JOHN, "active", "inactive", 4),
        ("revoke_tokens", JOHN, "inactive", "inactive", 4),
        ("reactivate", CARLOS, "inactive", "active", 28),
    ]
    assert doc["changes"][0]["email"] == "Jane.Doe@example.com"  # as written in the file
    assert doc["changes"][0]["source"].endswith("leavers/2026-11.yaml:6")
    assert [p["id"] for p in doc["pending"]] == [DANA]
    assert doc["summary"] == {
        "deactivate": 2,
        "reactivate": 1,
        "revoke_tokens": 2,
        "unchanged": 1,
        "pending": 1,
        "held": 0,
        "errors": 0,
        "warnings": 1,
        "managed": 5,
    }
    assert sandbox.writes() == []  # plan never writes


def test_plan_json_document_shape_is_pinned(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    _, doc = plan_json(cli, sandbox, desired)
    assert list(doc) == [
        "format_version",
        "kind",
        "created_at",
        "desired",
        "summary",
        "changes",
        "pending",
        "held",
        "problems",
    ]
    assert doc["format_version"] == "1" and doc["kind"] == "plan"
    assert list(doc["changes"][0]) == [
        "action",
        "id",
        "email",
        "name",
        "before",
        "after",
        "version",
        "source",
        "reason",
        "ticket",
        "detail",
        "reason_code",
        "changed_by",
    ]
    assert list(doc["problems"][0]) == ["severity", "code", "message", "source", "id"]
    assert list(doc["pending"][0]) == [
        "action",
        "id",
        "email",
        "name",
        "effective",
        "source",
        "reason",
        "ticket",
        "reason_code",
    ]


def test_apply_makes_exactly_the_planned_writes_and_converges(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    before = sandbox.snapshot()
    assert cli("plan", str(desired), "--detailed-exitcode", env=sandbox.env).code == 2
    mark = len(sandbox.requests())
    applied = cli("apply", str(desired), "--auto-approve", "--format", "json", env=sandbox.env)
    assert applied.code == 0, applied.err
    writes = sandbox.writes(mark)
    assert [(w["method"], w["path"], w.get("body")) for w in writes if w["path"].endswith(JOHN)] == [
        ("PATCH", f"/api/v2/users/{JOHN}", {"state": "inactive", "version": 4}),
        ("DELETE", f"/api/v2/tokens/{JOHN}", None),
    ]
    # Jane's entry carries a reason code: the same write is a PUT /state that records it
    assert [(w["method"], w["path"], w.get("body")) for w in writes if JANE in w["path"]] == [
        ("PUT", f"/api/v2/users/{JANE}/state", {"state": "inactive", "version": 4, "stateChangeReason": "Voluntary"}),
        ("DELETE", f"/api/v2/tokens/{JANE}", None),
    ]
    assert sorted((w["method"], w["path"].split("/")[4]) for w in writes) == sorted(
        [("PUT", JANE), ("DELETE", JANE), ("PATCH", JOHN), ("DELETE", JOHN), ("PATCH", CARLOS)]
    )
    assert not any(r["method"] == "DELETE" and r["path"].startswith("/api/v2/users") for r in sandbox.requests())
    results = json.loads(applied.out)["results"]
    assert {r["outcome"] for r in results} == {"applied"} and len(results) == 5
    after = sandbox.snapshot()
    touched = {k for k in before if before[k] != after[k]}
    assert touched == {JANE, JOHN, CARLOS}
    assert sandbox.user(JANE)["state"] == "inactive" and sandbox.user(JANE)["live_tokens"] == 0
    # the next plan is empty, and a second apply writes nothing
    again = cli("plan", str(desired), "--detailed-exitcode", env=sandbox.env)
    assert again.code == 0 and "No changes." in again.out
    mark = len(sandbox.requests())
    assert cli("apply", str(desired), "--auto-approve", env=sandbox.env).code == 0
    assert sandbox.writes(mark) == []


def test_invalid_files_fail_before_any_api_call(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "users:\n  - email: jane.doe@example.com\n    state: gone\n")
    for command in ("validate", "plan", "apply"):
        extra = ["--auto-approve"] if command == "apply" else []
        result = cli(command, str(tmp_path), *extra, env=sandbox.env)
        assert result.code == 1
        assert "bad.yaml:3: users[0].state: 'gone' is not one of: inactive, active" in result.err
    assert sandbox.api_requests() == []


def test_unknown_and_ambiguous_emails_are_located_errors_and_nothing_is_written(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "x.yaml",
        "users:\n  - email: jane.doe@example.com\n  - email: ghost@example.com\n  - email: alex.kim@example.com\n",
    )
    result = cli("plan", str(tmp_path), env=sandbox.env)
    assert result.code == 1
    assert "x.yaml:3: no Genesys user has email ghost@example.com" in result.out
    assert "x.yaml:4: alex.kim@example.com matches 2 Genesys users" in result.out
    assert ALEX_1 in result.out and ALEX_2 in result.out
    applied = cli("apply", str(tmp_path), "--auto-approve", env=sandbox.env)
    assert applied.code == 1 and "apply refused" in applied.err
    assert sandbox.writes() == []


@pytest.mark.parametrize("missing", ["GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"])
def test_missing_credentials_is_one_clear_line(cli: Any, sandbox: SandboxHandle, desired: Path, missing: str) -> None:
    env = {k: v for k, v in sandbox.env.items() if k != missing}
    result = cli("plan", str(desired), env=env)
    assert result.code == 1
    assert result.err.count("\n") == 1 and missing in result.err and "Traceback" not in result.err
    assert sandbox.api_requests() == []


def test_unknown_region_is_refused(cli: Any, desired: Path) -> None:
    result = cli(
        "plan",
        str(desired),
        env={
            "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
            "GENESYSCLOUD_REGION": "mars-north-1",
        },
    )
    assert result.code == 1 and "'mars-north-1' is not a Genesys Cloud region" in result.err


def test_wrong_secret_is_an_auth_error_without_the_secret(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong-but-secret-value"}
    result = cli("plan", str(desired), "-vv", env=env)
    assert result.code == 1 and "rejected the OAuth client credentials" in result.err
    assert "wrong-but-secret-value" not in result.out + result.err


def test_apply_without_a_terminal_refuses_unless_auto_approved(sandbox: SandboxHandle, desired: Path) -> None:
    result = run_process("apply", str(desired), env=sandbox.env, stdin="yes\n")
    assert result.code == 1 and "--auto-approve" in result.err
    assert "will be deactivated" in result.out  # it shows what it would have done
    assert sandbox.writes() == []


def test_secrets_never_appear_in_output_logs_or_ledger(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "audit.jsonl"
    outputs = []
    for args in (["plan", "-vv"], ["apply", "--auto-approve", "-vv", "--format", "json"], ["plan", "-vv"]):
        result = cli(*args[:1], str(desired), *args[1:], "--ledger", str(ledger), env=sandbox.env)
        outputs.append(result.out + result.err)
    tokens = list(sandbox.app.tokens)
    blob = "\n".join(outputs) + ledger.read_text()
    assert SECRET not in blob
    assert tokens and not any(token in blob for token in tokens)


def test_the_real_process_runs_plan_apply_plan(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.jsonl")
    first = run_process("plan", str(desired), "--detailed-exitcode", "--ledger", ledger, env=sandbox.env)
    assert first.code == 2, first.err
    applied = run_process("apply", str(desired), "--auto-approve", "--ledger", ledger, env=sandbox.env)
    assert applied.code == 0, applied.err
    assert "Apply complete: 5 applied, 0 failed, 0 skipped." in applied.out
    assert run_process("plan", str(desired), "--detailed-exitcode", "--ledger", ledger, env=sandbox.env).code == 0
    records = [json.loads(line) for line in Path(ledger).read_text().splitlines()]
    assert [r["event"] for r in records].count("intent") == 5
    assert all(r["outcome"] == "applied" for r in records if r["event"] == "outcome")


def test_default_ledger_sits_beside_the_desired_state_folder(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    assert cli("apply", str(desired), "--auto-approve", env=sandbox.env).code == 0
    assert (desired.parent / ".reconciler" / "ledger.jsonl").is_file()
    assert not (desired / ".reconciler").exists()


def test_demo_runs_the_whole_story_and_exits_0() -> None:
    result = run_process("demo", cwd=ROOT, timeout=120)
    assert result.code == 0, result.out + result.err
    assert "Demo complete." in result.out
    assert "reconciler set this user inactive" in result.out  # the drift step explains itself


def test_console_script_and_module_agree() -> None:
    script = Path(sys.executable).with_name("reconciler")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    import subprocess

    out = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, env={**os.environ}
    ).stdout
    assert out == run_process("--version").out


def test_a_leaver_read_without_last_token_issued_gets_a_revoke_once(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    # Genesys's expansions are best effort: Priya (already inactive) comes back without lastTokenIssued.
    sandbox.faults(mangle={PRIYA: "no_expand"})
    ledger = str(tmp_path / "ledger.jsonl")
    plan = cli("plan", str(desired), "--format", "json", "--ledger", ledger, env=sandbox.env)
    priya = [c for c in json.loads(plan.out)["changes"] if c["id"] == PRIYA]
    assert [c["action"] for c in priya] == ["revoke_tokens"]
    assert "lastTokenIssued is best effort" in priya[0]["detail"]
    assert cli("apply", str(desired), "--auto-approve", "--ledger", ledger, env=sandbox.env).code == 0
    revokes = [w for w in sandbox.writes() if w["method"] == "DELETE" and PRIYA in w["path"]]
    assert len(revokes) == 1
    # With the revocation on record, still unknown is covered: the plan converges.
    assert cli("plan", str(desired), "--detailed-exitcode", "--ledger", ledger, env=sandbox.env).code == 0
    # Without a ledger nothing is on record, so the sessions are ended again (the README says so).
    again = cli("plan", str(desired), "--format", "json", "--no-ledger", env=sandbox.env)
    assert [c["action"] for c in json.loads(again.out)["changes"] if c["id"] == PRIYA] == ["revoke_tokens"]
