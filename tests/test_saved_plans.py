"""A saved plan is re-verified by planning again, never trusted: hand edits, budgets, effective instants, identity.

Each test saves a plan with the real CLI, edits the file the way someone might by hand, and checks
that `apply plan.json` names what differs and writes nothing to the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.model import Action
from reconciler.core.plan import Change, Plan, Problem
from reconciler.core.saved import differences
from tests.conftest import DANA, JANE, JOHN, TAYLOR, SandboxHandle, write


@pytest.fixture
def here(desired: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work beside a private copy of the shipped desired_state/, which is the default folder."""
    monkeypatch.chdir(desired.parent)
    return Path("desired_state")


def save(cli: Any, sandbox: SandboxHandle, *args: str) -> dict[str, Any]:
    cli("plan", *args, "--out", "plan.json", env=sandbox.env)
    return dict(json.loads(Path("plan.json").read_text()))


def edit(doc: dict[str, Any]) -> None:
    Path("plan.json").write_text(json.dumps(doc))


def added_change(doc: dict[str, Any], user: dict[str, Any], action: str = "deactivate") -> dict[str, Any]:
    template = next(c for c in doc["changes"] if c["action"] == action)
    return {**template, "id": user["id"], "email": user["email"], "name": user["name"], "version": user["version"]}


def test_a_change_added_before_its_effective_instant_is_refused(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    doc = save(cli, sandbox, str(here))
    assert [p["id"] for p in doc["pending"]] == [DANA]  # Dana leaves in 2030
    doc["changes"].append(added_change(doc, sandbox.user(DANA)))
    edit(doc)
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "the saved plan has a change the files and the org do not call for: deactivate dana.white" in result.err
    assert sandbox.writes() == [] and sandbox.user(DANA)["state"] == "active"


def test_a_plan_whose_budget_error_was_edited_out_is_refused(
    cli: Any, sandbox: SandboxHandle, here: Path, tmp_path: Path
) -> None:
    write(here, "more.yaml", "users:\n  - email: taylor.green@example.com\n")
    (here / "policy.yaml").write_text((here / "policy.yaml").read_text().replace("max_changes: 10", "max_changes: 2"))
    doc = save(cli, sandbox, str(here))
    assert [p["code"] for p in doc["problems"] if p["severity"] == "error"] == ["plan.over_budget"]
    doc["problems"] = []  # nothing in the file decides what is allowed
    doc["summary"]["errors"] = 0
    edit(doc)
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "the plan made now has an error" in result.err and "[plan.over_budget]" in result.err
    assert sandbox.writes() == []


def test_a_change_moved_to_whoever_now_has_a_pinned_address_is_refused(
    cli: Any, sandbox: SandboxHandle, here: Path
) -> None:
    """John's entry is pinned to his id; his address goes to a rehire; the file is edited to follow it."""
    sandbox.http.post(f"/_sandbox/users/{JOHN}/edit", json={"email": "john.roe.2019@example.com"})
    created = sandbox.http.post(
        "/_sandbox/users", json={"name": "John Roe (rehire)", "email": "john.roe@example.com", "lag": False}
    ).json()
    rehire = sandbox.user(created["id"])
    doc = save(cli, sandbox, str(here))
    assert "user.identity_mismatch" in [p["code"] for p in doc["problems"]]
    doc["problems"] = [p for p in doc["problems"] if p["severity"] != "error"]
    doc["summary"]["errors"] = 0
    doc["changes"] += [added_change(doc, rehire), added_change(doc, rehire, "revoke_tokens")]
    edit(doc)
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "[user.identity_mismatch]" in result.err
    assert f"do not call for: deactivate john.roe@example.com ({rehire['id']})" in result.err
    assert sandbox.writes() == [] and sandbox.user(rehire["id"])["state"] == "active"


def test_a_change_removed_by_hand_is_refused_too(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    doc = save(cli, sandbox, str(here))
    doc["changes"] = [c for c in doc["changes"] if not (c["id"] == JOHN and c["action"] == "revoke_tokens")]
    edit(doc)
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "the files and the org now call for a change the saved plan lacks: revoke_tokens john.roe" in result.err
    assert sandbox.writes() == []


def test_the_folder_comes_from_the_command_line_not_the_file(
    cli: Any, sandbox: SandboxHandle, here: Path, tmp_path: Path
) -> None:
    doc = save(cli, sandbox, str(here))
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere, "a.yaml", "users:\n  - email: taylor.green@example.com\n")
    doc["desired"]["path"] = str(elsewhere)  # ignored: the folder is desired_state/ (the default)
    edit(doc)
    other = cli("apply", "plan.json", "--desired-state", str(elsewhere), env=sandbox.env)
    assert other.code == 1 and "file a.yaml was added" in other.err and "file returning.yaml was removed" in other.err
    assert sandbox.writes() == []
    applied = cli("apply", "plan.json", "--format", "json", env=sandbox.env)
    assert applied.code == 0, applied.err
    written = {w["path"].split("/")[4] for w in sandbox.writes()}  # /api/v2/{users|tokens}/{id}[/state]
    assert written == {c["id"] for c in doc["changes"]} and TAYLOR not in written


@pytest.mark.parametrize(
    "option", [["--target", "jane.doe@example.com"], ["--allow-mass-change"], ["--release", "jane.doe@example.com"]]
)
def test_options_that_change_a_saved_plan_are_usage_errors(
    cli: Any, sandbox: SandboxHandle, here: Path, option: list[str]
) -> None:
    save(cli, sandbox, str(here))
    result = cli("apply", "plan.json", *option, env=sandbox.env)
    assert result.code == 2
    assert f"{option[0]} cannot be used with a saved plan" in result.err
    assert f"reconciler plan {option[0]}" in result.err  # says how to make the plan with it
    assert sandbox.writes() == []


def test_a_plan_made_with_a_target_applies_that_target_only(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    doc = save(cli, sandbox, str(here), "--target", "john.roe@example.com")
    assert doc["desired"]["targets"] == ["john.roe@example.com"]
    result = cli("apply", "plan.json", "--format", "json", env=sandbox.env)
    assert result.code == 0, result.err
    assert {w["path"].split("/")[4] for w in sandbox.writes()} == {JOHN}


def test_a_plan_made_with_allow_mass_change_records_it_and_applies(
    cli: Any, sandbox: SandboxHandle, here: Path
) -> None:
    (here / "policy.yaml").write_text((here / "policy.yaml").read_text().replace("max_changes: 10", "max_changes: 1"))
    doc = save(cli, sandbox, str(here), "--allow-mass-change")
    assert doc["desired"]["allow_mass_change"] is True and doc["summary"]["errors"] == 0
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 0, result.err
    assert sandbox.user(JANE)["state"] == "inactive" and sandbox.user(JOHN)["state"] == "inactive"


def test_a_plan_made_without_it_cannot_claim_it(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    (here / "policy.yaml").write_text((here / "policy.yaml").read_text().replace("max_changes: 10", "max_changes: 1"))
    doc = save(cli, sandbox, str(here))
    assert doc["desired"]["allow_mass_change"] is False and doc["summary"]["errors"] == 1
    assert cli("apply", "plan.json", env=sandbox.env).code == 1  # the saved plan has its error
    assert sandbox.writes() == []


# --- the comparison itself (pure) ---------------------------------------------------------


def change(action: Action, user: str, version: int = 3, before: str = "active", after: str = "inactive") -> Change:
    return Change(action, user, f"{user}@example.com", None, before, after, version, "a.yaml:1")


def plan(*changes: Change, digest: str = "sha256:a", problems: tuple[Problem, ...] = ()) -> Plan:
    return Plan(changes=changes, desired_digest=digest, problems=problems)


def test_equal_plans_have_no_differences_whatever_their_human_fields() -> None:
    saved = plan(change(Action.DEACTIVATE, "u1"), change(Action.REVOKE_TOKENS, "u1", before="inactive"))
    fresh = plan(
        change(Action.DEACTIVATE, "u1")._replace(reason="edited", source="b.yaml:9"),
        change(Action.REVOKE_TOKENS, "u1", before="inactive"),
    )
    assert differences(saved, fresh) == []


@pytest.mark.parametrize(
    ("saved_change", "expected"),
    [
        (change(Action.DEACTIVATE, "u1", version=2), "user u1@example.com changed since the plan: version 2 -> 3"),
        (change(Action.REACTIVATE, "u1", before="inactive", after="active"), "do not call for: reactivate u1"),
        (change(Action.DEACTIVATE, "u1", after="deleted"), "do not call for: deactivate u1@example.com (u1) active"),
    ],
)
def test_any_decisive_field_that_differs_is_named(saved_change: Change, expected: str) -> None:
    reasons = differences(plan(saved_change), plan(change(Action.DEACTIVATE, "u1")))
    assert any(expected in r for r in reasons), reasons


def test_a_duplicated_change_is_one_too_many() -> None:
    one = change(Action.DEACTIVATE, "u1")
    assert differences(plan(one, one), plan(one)) != []


def test_a_different_digest_is_refused_even_with_equal_changes() -> None:
    one = change(Action.DEACTIVATE, "u1")
    assert differences(plan(one, digest="sha256:a"), plan(one, digest="sha256:b")) != []


def test_a_plan_applied_from_another_folder_names_the_folder_it_was_made_for(
    cli: Any, sandbox: SandboxHandle, here: Path, tmp_path: Path
) -> None:
    save(cli, sandbox, str(here))
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere, "a.yaml", "users:\n  - email: taylor.green@example.com\n")
    other = cli("apply", "plan.json", "--desired-state", str(elsewhere), env=sandbox.env)
    assert other.code == 1 and sandbox.writes() == []
    assert f"the plan was made for the folder {here}" in other.err
    assert f"this apply re-plans from {elsewhere}" in other.err
