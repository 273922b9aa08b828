"""The GitOps workflow: saved plans, PR Markdown, CI examples, export, drift and audit."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import build_parser
from reconciler.core.report import markdown
from reconciler.core.saved import load_plan_file, plan_from_document
from tests.conftest import CARLOS, JANE, JOHN, PRIYA, ROOT, SandboxHandle
from tests.golden import check
from tests.planning import desired as desired_state
from tests.planning import entry, live


@pytest.fixture
def here(desired: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(desired.parent)
    return Path("desired_state")


# --- saved plans ------------------------------------------------------------------------


def test_saved_plan_round_trips_to_the_same_value(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    result = cli("plan", str(here), "--out", "plan.json", "--format", "json", env=sandbox.env)
    assert json.loads(Path("plan.json").read_text()) == json.loads(result.out)  # the same JSON as --format json
    plan = load_plan_file("plan.json")
    assert plan_from_document(json.loads(result.out)) == plan
    assert [c.user_id for c in plan.changes] == [JANE, JANE, JOHN, JOHN, CARLOS]


def test_apply_of_a_fresh_saved_plan_applies_exactly_it(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    assert cli("plan", str(here), "--out", "plan.json", env=sandbox.env).code == 0
    applied = cli("apply", "plan.json", "--format", "json", env=sandbox.env)  # no prompt: the plan was reviewed
    assert applied.code == 0, applied.err
    assert [(r["action"], r["id"], r["outcome"]) for r in json.loads(applied.out)["results"]] == [
        ("deactivate", JANE, "applied"),
        ("revoke_tokens", JANE, "applied"),
        ("deactivate", JOHN, "applied"),
        ("revoke_tokens", JOHN, "applied"),
        ("reactivate", CARLOS, "applied"),
    ]
    assert Path(".reconciler/ledger.jsonl").is_file()  # beside the plan's desired-state folder
    assert cli("plan", str(here), "--detailed-exitcode", env=sandbox.env).code == 0
    assert cli("apply", "plan.json", "--auto-approve", env=sandbox.env).code == 1  # now stale: refused


def test_a_plan_made_stale_by_a_concurrent_change_is_refused(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    assert cli("plan", str(here), "--out", "plan.json", env=sandbox.env).code == 0
    sandbox.http.post(f"/_sandbox/users/{JOHN}/edit", json={"title": "Senior Agent"})  # someone else saves John
    mark = len(sandbox.requests())
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "user john.roe@example.com changed since the plan: version 4 -> 5, state active -> active" in result.err
    assert "the saved plan is not what the files and the org call for now" in result.err
    assert sandbox.writes(mark) == []


def test_a_plan_whose_files_changed_is_refused_naming_them(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    assert cli("plan", str(here), "--out", "plan.json", env=sandbox.env).code == 0
    (here / "returning.yaml").write_text("users: []\n")
    (here / "new.yaml").write_text("users:\n  - email: taylor.green@example.com\n")
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1
    assert "file returning.yaml changed" in result.err and "file new.yaml was added" in result.err
    assert sandbox.writes() == []


def test_a_saved_plan_with_errors_is_refused(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    (here / "ghost.yaml").write_text("users:\n  - email: ghost@example.com\n")
    assert cli("plan", str(here), "--out", "plan.json", env=sandbox.env).code == 1
    result = cli("apply", "plan.json", env=sandbox.env)
    assert result.code == 1 and "the saved plan has 1 error(s)" in result.err
    assert sandbox.writes() == []


def test_a_file_that_is_not_a_plan_is_a_clear_error(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    bogus = tmp_path / "plan.json"
    bogus.write_text('{"kind": "apply"}')
    result = cli("apply", str(bogus), env=sandbox.env)
    assert result.code == 1 and "is not a reconciler plan file" in result.err


# --- Markdown -------------------------------------------------------------------------


def test_markdown_renderings_are_pinned(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    planned = cli("plan", str(here), "--format", "markdown", env=sandbox.env)
    check("plan.md", planned.out)
    applied = cli("apply", str(here), "--auto-approve", "--format", "markdown", env=sandbox.env)
    check("apply.md", applied.out)
    (here / "problems.yaml").write_text("users:\n  - email: ghost@example.com\n  - email: alex.kim@example.com\n")
    check("plan-problems.md", cli("plan", str(here), "--format", "markdown", env=sandbox.env).out)


def test_markdown_counts_come_first_and_long_plans_are_cut_with_the_total() -> None:
    users = [live_user(i) for i in range(120)]
    plan = build_plan(users)
    text = markdown.render_plan(plan, max_rows=10)
    assert text.startswith("### reconciler plan: **120** to deactivate, **120** token revocations")
    assert len(re.findall(r"^\| u\d+@", text, re.M)) == 10
    assert "…and 110 more users not shown (120 users, 240 writes in all)" in text


def test_markdown_escapes_table_breaking_text() -> None:
    users = [live_user(0)]
    plan = build_plan(users, reason="Left | moved\nto sales")
    assert "Left \\| moved\\\\nto sales" in markdown.render_plan(plan)  # the newline shown, not acted on


def live_user(i: int) -> Any:
    from reconciler.core.model import LiveUser

    return LiveUser(
        id=f"{i:08d}-0000-4000-8000-000000000000", email=f"u{i}@example.com", name=f"U {i}", state="active", version=1
    )


def build_plan(users: list[Any], reason: str | None = None) -> Any:
    from datetime import UTC, datetime

    from reconciler.core.plan import build

    entries = [entry(u.email, line=i + 1, reason=reason) for i, u in enumerate(users)]
    return build(desired_state(*entries), live(*users), now=datetime(2026, 11, 28, tzinfo=UTC))


# --- CI examples ------------------------------------------------------------------------


def _commands(text: str) -> list[list[str]]:
    found = []
    for line in text.splitlines():
        match = re.search(r"(?:^|\s|-\s)reconciler (\S.*)$", line.strip())
        if not match or line.strip().startswith("#"):
            continue
        tokens = []
        for token in shlex.split(match.group(1)):
            if token in (">", ">>", "|", "&&", ";", "||") or token.startswith((">", "|")):
                break
            tokens.append(token)
        found.append(tokens)
    return found


def _strings(node: Any, in_script: bool = False) -> list[str]:
    """The shell text of a workflow: GitHub's `run:` values and GitLab's `script:` lists."""
    if isinstance(node, str):
        return [node] if in_script else []
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, in_script or k in ("run", "script"))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v, in_script)]
    return []


def test_ci_examples_parse_and_every_reconciler_command_is_accepted() -> None:
    files = sorted((ROOT / "examples").rglob("*.yml"))
    names = {f.name for f in files}
    assert {"reconciler-plan.yml", "reconciler-apply.yml", "reconciler-drift.yml", ".gitlab-ci.yml"} <= names
    parser = build_parser()
    seen = 0
    for path in files:
        doc = yaml.safe_load(path.read_text())
        for text in _strings(doc):
            for argv in _commands(text):
                try:
                    parser.parse_args(argv)
                except SystemExit:
                    pytest.fail(f"{path.name}: `reconciler {' '.join(argv)}` is rejected by the CLI")
                seen += 1
    assert seen >= 10


def test_apply_workflow_never_overlaps() -> None:
    gha = yaml.safe_load((ROOT / "examples/github-actions/reconciler-apply.yml").read_text())
    assert gha["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False}
    gitlab = yaml.safe_load((ROOT / "examples/gitlab-ci/.gitlab-ci.yml").read_text())
    assert gitlab["apply"]["resource_group"] == gitlab["drift"]["resource_group"]


def _credentials(env: dict[str, str]) -> set[str]:
    """The secret/variable names a job's OAuth client comes from."""
    names = {env["GENESYSCLOUD_OAUTHCLIENT_ID"], env["GENESYSCLOUD_OAUTHCLIENT_SECRET"]}
    return {re.sub(r"^\$\{\{\s*secrets\.|\s*\}\}$|^\$", "", n) for n in names}


def test_pull_request_plans_use_a_view_only_client_apart_from_apply() -> None:
    gha = {
        name: yaml.safe_load((ROOT / f"examples/github-actions/reconciler-{name}.yml").read_text())
        for name in ("plan", "apply", "drift")
    }
    plan = _credentials(gha["plan"]["jobs"]["plan"]["env"])
    drift = _credentials(gha["drift"]["jobs"]["drift"]["env"])
    apply = _credentials(gha["apply"]["jobs"]["apply"]["env"])
    assert plan == drift == {"GENESYSCLOUD_VIEW_OAUTHCLIENT_ID", "GENESYSCLOUD_VIEW_OAUTHCLIENT_SECRET"}
    assert apply == {"GENESYSCLOUD_APPLY_OAUTHCLIENT_ID", "GENESYSCLOUD_APPLY_OAUTHCLIENT_SECRET"}
    assert gha["apply"]["jobs"]["apply"]["environment"] == "genesys-production"  # environment secrets
    for path in (ROOT / "examples/github-actions").glob("*.yml"):  # every other workflow only reads
        if path.name != "reconciler-apply.yml":
            for job in yaml.safe_load(path.read_text())["jobs"].values():
                assert _credentials(job["env"]) == plan, path.name
    assert "environment" not in gha["plan"]["jobs"]["plan"]
    gitlab = yaml.safe_load((ROOT / "examples/gitlab-ci/.gitlab-ci.yml").read_text())
    view = {"RECONCILER_VIEW_CLIENT_ID", "RECONCILER_VIEW_CLIENT_SECRET"}
    assert _credentials(gitlab["plan"]["variables"]) == _credentials(gitlab["drift"]["variables"]) == view
    assert _credentials(gitlab["apply"]["variables"]) == {
        "RECONCILER_APPLY_CLIENT_ID",
        "RECONCILER_APPLY_CLIENT_SECRET",
    }
    assert "GENESYSCLOUD_OAUTHCLIENT_SECRET" not in (gitlab.get("variables") or {})  # nothing global


# --- export ----------------------------------------------------------------------------


def test_export_then_plan_shows_no_changes(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    folder = tmp_path / "desired_state"
    result = cli("export", str(folder), "--state", "inactive", "--out", str(folder / "imported.yaml"), env=sandbox.env)
    assert result.code == 0, result.err
    text = (folder / "imported.yaml").read_text()
    assert text.startswith("# Exported by `reconciler export --state inactive`")
    emails = re.findall(r"^  - email: (\S+)$", text, re.M)
    assert emails == sorted(emails, key=str.lower) and "priya.shah@example.com" in emails
    assert f"    id: {PRIYA}" in text
    assert cli("validate", str(folder), env=sandbox.env).code == 0
    planned = cli("plan", str(folder), "--detailed-exitcode", "--no-ledger", env=sandbox.env)
    assert planned.code == 0, planned.out + planned.err
    assert "No changes." in planned.out


def test_export_leaves_out_users_declared_elsewhere(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    result = cli("export", str(desired), "--out", str(desired / "imported.yaml"), env=sandbox.env)
    assert "already declared elsewhere" in result.err
    assert "priya.shah" not in (desired / "imported.yaml").read_text()
    assert cli("validate", str(desired)).code == 0  # no duplicates across files


def test_export_lists_shared_addresses_by_id_only(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    for name in ("Sam One", "Sam Two"):
        sandbox.http.post(
            "/_sandbox/users", json={"name": name, "email": "sam.shared@example.com", "state": "inactive"}
        )
    result = cli("export", "--out", "-", env=sandbox.env)
    assert result.code == 0
    assert result.out.count("# email: sam.shared@example.com") == 2
    assert "2 users without a unique, valid email are listed by id only" in result.out


def test_export_of_active_users_is_marked_for_review(cli: Any, sandbox: SandboxHandle) -> None:
    result = cli("export", "--state", "active", env=sandbox.env)
    assert "FOR REVIEW" in result.out and "    state: active" in result.out


# --- drift and audit --------------------------------------------------------------------


def test_drift_reports_users_moved_behind_our_back(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    before = cli("drift", str(here), env=sandbox.env)  # nothing set yet: the files still differ from Genesys
    assert before.code == 2 and "declared inactive in desired_state/leavers/2026-11.yaml:6; now active" in before.out
    assert cli("apply", str(here), "--auto-approve", env=sandbox.env).code == 0
    clean = cli("drift", str(here), env=sandbox.env)
    assert clean.code == 0 and "No drift: all 3 users" in clean.out
    sandbox.set_state(JANE, "active")
    mark = len(sandbox.requests())
    drifted = cli("drift", str(here), "--format", "json", env=sandbox.env)
    assert drifted.code == 2
    (row,) = json.loads(drifted.out)["drift"]
    assert (row["id"], row["set_state"], row["live_state"], row["declared"]) == (JANE, "inactive", "active", True)
    assert sandbox.writes(mark) == []


def test_audit_prints_the_ledger_for_an_auditor(cli: Any, sandbox: SandboxHandle, here: Path) -> None:
    assert cli("apply", str(here), "--auto-approve", env=sandbox.env).code == 0
    as_csv = cli("audit", str(here), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert len(rows) == 5 and {r["outcome"] for r in rows} == {"applied"}
    jane = next(r for r in rows if r["user_id"] == JANE and r["action"] == "deactivate")
    assert jane["source"] == "desired_state/leavers/2026-11.yaml:6" and jane["correlation_id"]
    assert jane["ticket"] == "HR-1234" and jane["before"] == "active" and jane["after"] == "inactive"
    as_json = json.loads(cli("audit", str(here), "--format", "json").out)
    assert len(as_json["rows"]) == 5
    assert cli("audit", str(here), "--since", "2999-01-01", "--format", "json").out.count('"user_id"') == 0
    text = cli("audit", str(here)).out
    assert "applied" in text and "jane.doe@example.com".lower() in text.lower()


def test_audit_marks_an_interrupted_write(tmp_path: Path, cli: Any) -> None:
    ledger = tmp_path / "l.jsonl"
    ledger.write_text(
        json.dumps(
            {
                "time": "2026-11-28T10:00:00.000Z",
                "event": "intent",
                "attempt": "a1",
                "action": "deactivate",
                "user_id": JANE,
            }
        )
        + "\n"
    )
    rows = json.loads(cli("audit", "--ledger", str(ledger), "--format", "json").out)["rows"]
    assert rows[0]["outcome"] == "unknown (interrupted)"
