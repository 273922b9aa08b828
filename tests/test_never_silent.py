"""Never a silent green (issue 15 §5): no "no drift" or "no writes" on no evidence.

Drift with the ledger lost still compares live state with the files; drift and
audit on a folder that does not exist are errors; export past an invalid
desired-state folder is an error, not a silent export of everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import JANE, SandboxHandle, write


def test_drift_with_the_ledger_lost_compares_live_state_with_the_files(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    assert cli("apply", str(desired), "--auto-approve", "--ledger", str(ledger), env=sandbox.env).code == 0
    ledger.unlink()  # an ephemeral CI runner lost it
    clean = cli("drift", str(desired), "--ledger", str(ledger), env=sandbox.env)
    assert clean.code == 0 and "all 5 declared users match the desired state" in clean.out
    assert f"no ledger at {ledger}" in clean.err
    sandbox.set_state(JANE, "active")  # reactivated behind our back, and nobody remembers we set it
    mark = len(sandbox.requests())
    drifted = cli("drift", str(desired), "--ledger", str(ledger), "--format", "json", env=sandbox.env)
    assert drifted.code == 2
    (row,) = json.loads(drifted.out)["drift"]
    assert (row["id"], row["basis"], row["set_state"], row["live_state"]) == (JANE, "desired", "inactive", "active")
    assert json.loads(drifted.out)["ledger"] == {"path": str(ledger), "found": False}
    assert sandbox.writes(mark) == []


def test_drift_that_cannot_read_a_declared_user_cannot_tell(
    cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    ledger = str(tmp_path / "ledger.jsonl")
    assert cli("apply", str(desired), "--auto-approve", "--ledger", ledger, env=sandbox.env).code == 0
    write(desired, "ghost.yaml", "users:\n  - email: ghost@example.com\n")
    result = cli("drift", str(desired), "--ledger", ledger, env=sandbox.env)
    assert result.code == 1 and "No drift" not in result.out  # nothing found, but not everyone checked
    assert "cannot tell" in result.err and "ghost@example.com" in result.out
    sandbox.set_state(JANE, "active")
    both = cli("drift", str(desired), "--ledger", ledger, env=sandbox.env)
    assert both.code == 2 and "cannot tell" in both.err  # drift found still alerts as drift


def test_drift_and_audit_on_a_missing_folder_are_errors(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    missing = tmp_path / "desired_stat"  # a typo
    drift = cli("drift", str(missing), env=sandbox.env)
    assert drift.code == 1 and "No drift" not in drift.out and str(missing) in drift.err
    audit = cli("audit", str(missing))
    assert audit.code == 1 and "no writes" not in audit.out and "does not exist" in audit.err
    as_json = cli("audit", str(missing), "--format", "json")
    assert as_json.code == 1 and json.loads(as_json.out)["problems"][0]["code"] == "config.invalid"


def test_audit_of_a_folder_without_a_ledger_warns(cli: Any, desired: Path) -> None:
    result = cli("audit", str(desired))
    assert result.code == 0 and "warning: no ledger at" in result.err


def test_export_past_an_invalid_folder_is_an_error_and_writes_nothing(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    write(desired, "broken.yaml", "users:\n  - email: [not, an, email]\n")
    out = desired / "imported.yaml"
    result = cli("export", str(desired), "--out", str(out), env=sandbox.env)
    assert result.code == 1 and "broken.yaml" in result.err
    assert not out.exists() and sandbox.api_requests() == []


def test_export_into_a_new_folder_still_bootstraps(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    result = cli("export", str(folder), "--out", str(folder / "imported.yaml"), env=sandbox.env)
    assert result.code == 0 and (folder / "imported.yaml").exists()
