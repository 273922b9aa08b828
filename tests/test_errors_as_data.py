"""Errors are data (issue 15 §2): with --format json or markdown, every outcome prints a document.

Invalid files, bad credentials, a refused apply: stdout still carries the
verb's document, with ``problems`` in the plan's shape, and the exit code stays
the contract. The CI examples are run as CI would run them (their shell
steps, with `reconciler` on PATH) and the pull-request comment body is checked.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, SandboxHandle, write

BAD_YAML = "users:\n  - email: jane.doe@example.com\n    state: gone\n"


@pytest.fixture
def broken(desired: Path) -> Path:
    write(desired, "broken.yaml", BAD_YAML)
    return desired


def bad_credentials(sandbox: SandboxHandle) -> dict[str, str]:
    return {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_SECRET": "wrong-secret"}


def codes(doc: dict[str, Any]) -> list[str]:
    return [p["code"] for p in doc["problems"]]


@pytest.mark.parametrize("verb", ["validate", "plan", "apply", "drift"])
def test_json_of_invalid_files_is_a_document_with_located_problems(
    cli: Any, sandbox: SandboxHandle, broken: Path, verb: str
) -> None:
    extra = ["--auto-approve"] if verb == "apply" else []
    result = cli(verb, str(broken), "--format", "json", *extra, env=sandbox.env)
    assert result.code == 1
    doc = json.loads(result.out)
    assert codes(doc) == ["desired.invalid"]
    assert doc["problems"][0]["source"] == f"{broken / 'broken.yaml'}:3"
    assert doc["problems"][0]["severity"] == "error"
    if verb in ("plan", "apply"):
        assert doc["kind"] == verb and doc["summary"]["errors"] == 1 and doc["changes"] == []
    if verb == "apply":
        assert doc["results"] == [] and doc["outcomes"] == {"applied": 0, "failed": 0, "skipped": 0}
    if verb == "validate":
        assert doc["valid"] is False and "broken.yaml:3" in doc["errors"][0]
    assert sandbox.writes() == []


@pytest.mark.parametrize("verb", ["plan", "apply"])
def test_markdown_of_invalid_files_names_the_errors(cli: Any, sandbox: SandboxHandle, broken: Path, verb: str) -> None:
    extra = ["--auto-approve"] if verb == "apply" else []
    result = cli(verb, str(broken), "--format", "markdown", *extra, env=sandbox.env)
    assert result.code == 1
    assert result.out.startswith(f"### reconciler {verb} failed: 1 error")
    assert f"`{broken / 'broken.yaml'}:3`" in result.out and "(`desired.invalid`)" in result.out


def test_bad_credentials_are_a_document_too(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    as_json = cli("plan", str(desired), "--format", "json", env=bad_credentials(sandbox))
    assert as_json.code == 1 and codes(json.loads(as_json.out)) == ["genesys.auth"]
    assert "rejected the OAuth client credentials" in json.loads(as_json.out)["problems"][0]["message"]
    as_markdown = cli("plan", str(desired), "--format", "markdown", env=bad_credentials(sandbox))
    assert as_markdown.code == 1 and "rejected the OAuth client credentials" in as_markdown.out
    assert "wrong-secret" not in as_json.out + as_json.err + as_markdown.out
    missing = cli("doctor", "--format", "json", env={})
    assert missing.code == 1 and json.loads(missing.out)["ok"] is False


def test_a_refused_apply_has_results_every_change_skipped_with_why(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    write(desired, "ghost.yaml", "users:\n  - email: ghost@example.com\n")  # a plan error: apply refuses
    refused = cli("apply", str(desired), "--format", "json", "--auto-approve", env=sandbox.env)
    assert refused.code == 1
    doc = json.loads(refused.out)
    assert doc["kind"] == "apply" and len(doc["results"]) == len(doc["changes"]) > 0
    assert {r["outcome"] for r in doc["results"]} == {"skipped"}
    assert all("the plan has 1 error(s)" in r["message"] for r in doc["results"])
    assert doc["outcomes"]["skipped"] == len(doc["changes"])
    (desired / "ghost.yaml").unlink()
    no_terminal = cli("apply", str(desired), "--format", "json", env=sandbox.env)  # stdin is not a terminal
    assert no_terminal.code == 1
    doc = json.loads(no_terminal.out)
    assert doc["results"] and all("no terminal to confirm on" in r["message"] for r in doc["results"])
    assert sandbox.writes() == []


def test_success_documents_carry_an_empty_problems_list(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    for argv in (["validate", str(desired)], ["drift", str(desired)], ["doctor"], ["audit", str(desired)]):
        result = cli(*argv, "--format", "json", env=sandbox.env)
        assert json.loads(result.out)["problems"] == [], argv


# --- the CI examples, run as CI runs them ---------------------------------------------


def shim(tmp_path: Path) -> dict[str, str]:
    """`reconciler` on PATH, running this checkout with this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "reconciler"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    return {**base, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def github_plan_job() -> tuple[str, dict[str, Any]]:
    workflow = yaml.safe_load((ROOT / "examples/github-actions/reconciler-plan.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    plan = next(s for s in steps if s.get("id") == "plan")
    comment = next(s for s in steps if "sticky-pull-request-comment" in str(s.get("uses")))
    return plan["run"], comment


def run_github_plan(folder: Path, env: dict[str, str]) -> tuple[int, str, str]:
    script, comment = github_plan_job()
    assert comment["if"].startswith("always()") and comment["with"]["path"] == "plan.md"
    summary, output = folder / "summary.md", folder / "output.txt"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],  # GitHub's default shell
        cwd=folder,
        env={**env, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, (folder / "plan.md").read_text(), output.read_text()


def run_gitlab_plan(folder: Path, env: dict[str, str]) -> tuple[int, str]:
    job = yaml.safe_load((ROOT / "examples/gitlab-ci/.gitlab-ci.yml").read_text())["plan"]
    assert job["artifacts"]["when"] == "always" and "plan.md" in job["artifacts"]["paths"]
    done = subprocess.run(
        ["sh", "-ec", "\n".join(job["script"])],  # GitLab stops at the first failing line
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, (folder / "plan.md").read_text()


def test_ci_examples_post_the_errors_when_the_files_are_invalid(
    sandbox: SandboxHandle, broken: Path, tmp_path: Path
) -> None:
    env = {**shim(tmp_path), **sandbox.env}
    code, body, output = run_github_plan(broken.parent, env)
    assert code != 0 and "exitcode=1" in output  # the check fails, and the comment step still runs
    assert body.startswith("### reconciler plan failed: 1 error")
    assert "desired_state/broken.yaml:3" in body and "desired.invalid" in body
    code, body = run_gitlab_plan(broken.parent, env)
    assert code != 0 and "desired_state/broken.yaml:3" in body


def test_ci_examples_post_the_errors_when_the_credentials_are_wrong(
    sandbox: SandboxHandle, desired: Path, tmp_path: Path
) -> None:
    env = {**shim(tmp_path), **bad_credentials(sandbox)}
    code, body, output = run_github_plan(desired.parent, env)
    assert code != 0 and "exitcode=1" in output
    assert "rejected the OAuth client credentials" in body and "genesys.auth" in body
    code, body = run_gitlab_plan(desired.parent, env)
    assert code != 0 and "rejected the OAuth client credentials" in body


def test_ci_examples_post_the_plan_when_all_is_well(sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    env = {**shim(tmp_path), **sandbox.env}
    code, body, output = run_github_plan(desired.parent, env)
    assert code == 0 and "exitcode=2" in output and body.startswith("### reconciler plan: **2** to deactivate")
    code, body = run_gitlab_plan(desired.parent, env)
    assert code == 0 and body.startswith("### reconciler plan:")
    assert sandbox.writes() == []
