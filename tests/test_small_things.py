"""The small things an operator notices (issue 15 §6): each message says what to do next.

Durations, a YAML file given to apply, a saved plan applied from elsewhere, log
times in UTC, the full audit commit, one warning per torn ledger record, every
missing variable named, a region that disagrees with the API URL, an API URL
with a path, and shell completion.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.common import _JsonFormatter
from reconciler.errors import ConfigError
from reconciler.genesys.config import connection_from_env
from tests.conftest import FIXED_NOW, SandboxHandle, run_process


def test_apply_of_a_yaml_file_points_to_apply_dir(cli: Any, desired: Path) -> None:
    result = cli("apply", str(desired / "returning.yaml"))
    assert result.code == 1
    assert "is a desired-state file, not a saved plan" in result.err
    assert f"reconciler apply {desired}" in result.err and "JSONDecodeError" not in result.err


def test_json_log_time_is_utc_with_a_z() -> None:
    record = logging.LogRecord("reconciler", logging.INFO, __file__, 1, "hello", (), None)
    record.created, record.msecs = FIXED_NOW.timestamp() + 0.25, 250.0
    doc = json.loads(_JsonFormatter().format(record))
    assert doc["time"] == "2026-11-28T12:00:00.250Z"


def test_audit_text_shows_the_whole_commit_with_dirty(cli: Any, desired: Path, tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567+dirty"
    ledger = tmp_path / "ledger.jsonl"
    record = {"v": 1, "time": "2026-11-28T12:00:00.000Z", "run": "r", "commit": commit, "event": "intent",
              "attempt": "a1", "action": "deactivate", "user_id": "u1", "email": "x@example.com",
              "before": "active", "after": "inactive"}  # fmt: skip
    ledger.write_text(json.dumps(record) + "\n")
    result = cli("audit", str(desired), "--ledger", str(ledger))
    assert result.code == 0 and f"commit {commit}" in result.out


def test_a_torn_ledger_record_is_warned_about_once_and_audit_still_lists_it(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "torn.jsonl"
    ledger.write_bytes(b'{"event": "intent"')
    first = cli("plan", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert first.code == 0 and first.err.count("torn last line") == 1
    second = cli("plan", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert second.code == 0 and "torn" not in second.err
    assert "torn last line" in cli("audit", str(desired), "--ledger", str(ledger)).err  # the auditor sees all
    ledger.write_bytes(ledger.read_bytes() + b'\n{"event": "intent", "attempt": "b"\n')  # a second torn record
    third = cli("plan", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert third.err.count("torn.jsonl:2: unreadable record") == 1 and "torn.jsonl:1:" not in third.err


def test_every_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError) as both:
        connection_from_env({})
    assert "GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET are not set" in str(both.value)
    with pytest.raises(ConfigError, match=r"^GENESYSCLOUD_OAUTHCLIENT_SECRET is not set"):
        connection_from_env({"GENESYSCLOUD_OAUTHCLIENT_ID": "x"})


def test_a_region_that_disagrees_with_the_api_url_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    base = {"GENESYSCLOUD_OAUTHCLIENT_ID": "x", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y"}
    with caplog.at_level(logging.WARNING, logger="reconciler"):
        conn = connection_from_env(
            {**base, "GENESYSCLOUD_REGION": "us-east-1", "GENESYSCLOUD_API_URL": "https://api.mypurecloud.ie"}
        )
        assert conn.api_url == "https://api.mypurecloud.ie"
        assert "GENESYSCLOUD_REGION=us-east-1 is ignored" in caplog.text and "region eu-west-1" in caplog.text
        caplog.clear()
        connection_from_env(
            {**base, "GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_API_URL": "https://api.mypurecloud.ie"}
        )
        connection_from_env(
            {**base, "GENESYSCLOUD_REGION": "us-east-1", "GENESYSCLOUD_API_URL": "http://127.0.0.1:8765"}
        )
        assert caplog.text == ""  # agreeing, or a private endpoint (the sandbox): nothing to say


def test_an_api_url_with_a_path_is_explained(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    env = {**sandbox.env, "GENESYSCLOUD_API_URL": sandbox.env["GENESYSCLOUD_API_URL"] + "/api/v2"}
    result = cli("plan", str(desired), env=env)
    assert result.code == 1
    assert "ends in /api/v2: give the base URL only" in result.err
    assert "rejected the OAuth client credentials" not in result.err
    assert sandbox.requests() == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_hook_for_each_shell(cli: Any, shell: str) -> None:
    result = cli("completion", shell)
    assert result.code == 0 and "_ARGCOMPLETE" in result.out and "reconciler" in result.out


def test_completion_completes_verbs_and_options_from_the_real_parser(tmp_path: Path) -> None:
    out = tmp_path / "completions"

    def complete(line: str) -> list[str]:
        env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
               "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}  # fmt: skip
        subprocess.run([sys.executable, "-m", "reconciler"], env=env, check=True, capture_output=True, timeout=60)
        return out.read_text().split()

    assert complete("reconciler pl") == ["plan"]
    assert "--detailed-exitcode" in complete("reconciler plan --de")
    assert {"bash", "zsh", "fish"} <= set(complete("reconciler completion "))


def test_bash_really_loads_the_completion_hook() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash here")
    script = run_process("completion", "bash").out
    done = subprocess.run(
        [bash, "-c", script + "\ncomplete -p reconciler"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "reconciler" in done.stdout
