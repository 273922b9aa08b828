"""Every guardrail on both sides: what it allows, and what it refuses (with the refusal message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import BREAKGLASS, DANA, JANE, JOHN, MORGAN_DELETED, TAYLOR, SandboxHandle, write


def leavers(folder: Path, *emails: str, policy: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "users:\n" + "".join(f"  - email: {e}\n" for e in emails)
    (folder / "leavers.yaml").write_text(body + (f"policy:\n{policy}" if policy else ""), encoding="utf-8")
    return folder


THREE = ("jane.doe@example.com", "john.roe@example.com", "taylor.green@example.com")


# --- the change budget ----------------------------------------------------------------


def test_within_the_budget_applies(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = leavers(tmp_path / "d", *THREE, policy="  max_changes: 3\n")
    assert cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env).code == 0
    assert len(sandbox.writes()) == 6


def test_over_the_budget_plan_errors_and_apply_refuses_writing_nothing(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    folder = leavers(tmp_path / "d", *THREE, policy="  max_changes: 2\n")
    planned = cli("plan", str(folder), "--no-ledger", env=sandbox.env)
    assert planned.code == 1
    assert "3 state changes exceed the budget (max_changes is 2); nothing will be applied" in planned.out
    assert "--allow-mass-change" in planned.out
    applied = cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env)
    assert applied.code == 1 and "apply refused" in applied.err and "exceed the budget" in applied.out
    assert sandbox.writes() == []


def test_allow_mass_change_lifts_the_budget_for_one_run(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = leavers(tmp_path / "d", *THREE, policy="  max_changes: 2\n")
    result = cli("apply", str(folder), "--auto-approve", "--allow-mass-change", "--no-ledger", env=sandbox.env)
    assert result.code == 0 and "allowed for this run by --allow-mass-change" in result.out
    assert len([w for w in sandbox.writes() if w["method"] == "PATCH"]) == 3


def test_default_budget_is_25(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    with sandbox.sandbox.org.lock:
        actives = [u.email for u in list(sandbox.sandbox.org.users.values())[12:] if u.state == "active"][:26]
    result = cli("plan", str(leavers(tmp_path / "d", *actives)), "--format", "json", "--no-ledger", env=sandbox.env)
    doc = json.loads(result.out)
    assert result.code == 1
    assert [p["code"] for p in doc["problems"]] == ["plan.over_budget"]
    assert "26 state changes exceed the budget (max_changes is 25)" in doc["problems"][0]["message"]


def test_token_revocations_do_not_count_against_the_budget(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = leavers(tmp_path / "d", "jane.doe@example.com", policy="  max_changes: 1\n")
    assert cli("plan", str(folder), "--no-ledger", env=sandbox.env).code == 0  # 1 deactivation + 1 revoke


def test_percentage_budget_of_active_users(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    refused = cli(
        "plan",
        str(leavers(tmp_path / "a", *THREE, policy="  max_changes_percent: 1\n")),
        "--no-ledger",
        env=sandbox.env,
    )
    assert refused.code == 1 and "max_changes_percent is 1% of" in refused.out and "active users = 1" in refused.out
    allowed = cli(
        "plan",
        str(leavers(tmp_path / "b", *THREE, policy="  max_changes_percent: 2\n")),
        "--no-ledger",
        env=sandbox.env,
    )
    assert allowed.code == 0


# --- protected users ------------------------------------------------------------------


def test_protected_users_are_refused_by_email_or_id(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    for protected in ("BreakGlass.Admin@example.com", BREAKGLASS):
        folder = leavers(
            tmp_path / protected[:8],
            "breakglass.admin@example.com",
            "jane.doe@example.com",
            policy=f"  protected: [{protected.lower()}]\n",
        )
        result = cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env)
        assert result.code == 1
        assert "breakglass.admin@example.com is protected by the policy" in result.out
        assert "refusing to deactivate this user" in result.out
    assert sandbox.writes() == []


def test_protected_user_in_its_desired_state_is_fine(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write(
        folder,
        "a.yaml",
        "users:\n  - email: breakglass.admin@example.com\n    state: active\n"
        "policy:\n  protected: [breakglass.admin@example.com]\n",
    )
    assert cli("plan", str(folder), "--detailed-exitcode", "--no-ledger", env=sandbox.env).code == 0


# --- identity ---------------------------------------------------------------------------


def test_pinned_entry_resolves_to_exactly_that_user(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write(folder, "a.yaml", f"users:\n  - email: jane.doe@example.com\n    id: {JANE}\n")
    assert cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env).code == 0
    assert {w["path"].rsplit("/", 1)[1] for w in sandbox.writes()} == {JANE}


def test_a_reassigned_address_is_an_error_never_a_silent_switch(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Jane's old address now belongs to a rehire; the entry pinned to Jane's id must not follow it."""
    sandbox.http.post(f"/_sandbox/users/{JANE}/edit", json={"email": "jane.doe.2019@example.com"})
    sandbox.http.post(
        "/_sandbox/users", json={"name": "Jane Doe (rehire)", "email": "jane.doe@example.com", "lag": False}
    )
    folder = tmp_path / "d"
    write(folder, "a.yaml", f"users:\n  - email: jane.doe@example.com\n    id: {JANE}\n")
    result = cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env)
    assert result.code == 1
    assert (
        f"jane.doe@example.com is pinned to id {JANE}, but that user's email is now jane.doe.2019@example.com"
        in result.out
    )
    assert sandbox.writes() == []


def test_deleted_users_are_reported_never_restored(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write(folder, "a.yaml", f"users:\n  - id: {MORGAN_DELETED}\n")
    quiet = cli("plan", str(folder), "--detailed-exitcode", "--no-ledger", env=sandbox.env)
    assert quiet.code == 0 and "is deleted in Genesys (already without access); nothing to do" in quiet.out
    write(folder, "a.yaml", f"users:\n  - id: {MORGAN_DELETED}\n    state: active\n")
    refused = cli("apply", str(folder), "--auto-approve", "--no-ledger", env=sandbox.env)
    assert refused.code == 1 and "this tool never restores deleted users" in refused.out
    assert sandbox.writes() == []


def test_missing_users_warn_lets_the_others_through(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    strict = leavers(tmp_path / "s", "ghost@example.com", "jane.doe@example.com")
    assert cli("apply", str(strict), "--auto-approve", "--no-ledger", env=sandbox.env).code == 1
    assert sandbox.writes() == []
    lenient = leavers(tmp_path / "l", "ghost@example.com", "jane.doe@example.com", policy="  missing_users: warn\n")
    result = cli("apply", str(lenient), "--auto-approve", "--no-ledger", env=sandbox.env)
    assert result.code == 0 and "warning:" in result.out and "ghost@example.com" in result.out
    assert {w["path"].rsplit("/", 1)[1] for w in sandbox.writes()} == {JANE}


# --- effective dates ------------------------------------------------------------------


def test_future_entries_are_pending_and_past_ones_are_changes(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write(
        folder,
        "a.yaml",
        "users:\n"
        "  - email: dana.white@example.com\n    effective: 2999-01-01T09:00:00+02:00\n"
        "  - email: jane.doe@example.com\n    effective: 2001-01-01T00:00:00Z\n",
    )
    result = cli("plan", str(folder), "--format", "json", "--no-ledger", env=sandbox.env)
    doc = json.loads(result.out)
    assert [(p["id"], p["action"], p["effective"]) for p in doc["pending"]] == [
        (DANA, "deactivate", "2999-01-01T07:00:00Z")
    ]
    assert {c["id"] for c in doc["changes"]} == {JANE}
    text = cli("plan", str(folder), "--no-ledger", env=sandbox.env).out
    assert "Pending (not yet effective" in text and "dana.white@example.com (Dana White): deactivate from" in text


# --- targets ------------------------------------------------------------------------


def test_target_limits_apply_to_those_entries(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    result = cli(
        "apply", str(desired), "--target", "JANE.DOE@example.com", "--auto-approve", "--no-ledger", env=sandbox.env
    )
    assert result.code == 0
    assert {w["path"].split("/")[4] for w in sandbox.writes()} == {JANE}


def test_target_by_id_matches_exactly(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    exact = cli("plan", str(desired), "--target", JOHN, "--format", "json", "--no-ledger", env=sandbox.env)
    assert {c["id"] for c in json.loads(exact.out)["changes"]} == {JOHN}
    upper = cli("plan", str(desired), "--target", JOHN.upper(), "--no-ledger", env=sandbox.env)
    assert upper.code == 1 and "matches no entry" in upper.out


def test_a_target_that_matches_no_entry_is_an_error(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    result = cli(
        "apply", str(desired), "--target", "taylor.green@example.com", "--auto-approve", "--no-ledger", env=sandbox.env
    )
    assert result.code == 1
    assert "--target taylor.green@example.com matches no entry in the desired-state files" in result.out
    assert sandbox.writes() == [] and sandbox.user(TAYLOR)["state"] == "active"


# --- doctor -------------------------------------------------------------------------


def test_doctor_passes_against_the_sandbox_and_changes_nothing(cli: Any, sandbox: SandboxHandle) -> None:
    before = sandbox.snapshot()
    result = cli("doctor", env=sandbox.env)
    assert result.code == 0 and "doctor: all checks passed" in result.out
    for permission in ("directory:user:view", "directory:user:edit", "oauth:token:delete"):
        assert permission in result.out
    assert sandbox.snapshot() == before


def test_doctor_names_the_missing_permission(cli: Any, sandbox: SandboxHandle) -> None:
    sandbox.http.post(
        "/_sandbox/clients",
        json={"client_id": "no-revoke", "secret": "s", "permissions": ["directory:user:view", "directory:user:edit"]},
    )
    env = {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_ID": "no-revoke", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"}
    result = cli("doctor", "--format", "json", env=env)
    assert result.code == 1
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert checks["end sessions"]["status"] == "fail"
    assert "missing permission oauth:token:delete" in checks["end sessions"]["detail"]
    assert checks["edit users"]["status"] == "ok"


def test_doctor_reports_bad_credentials_and_missing_configuration(cli: Any, sandbox: SandboxHandle) -> None:
    wrong = cli("doctor", env={**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "nope"})
    assert wrong.code == 1 and "fail  login" in wrong.out
    missing = cli("doctor", env={})
    assert missing.code == 1
    assert "GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET are not set" in missing.out
