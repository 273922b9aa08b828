"""`reconciler propose` through the real CLI: files on disk, the sandbox over a socket, exit codes."""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

from reconciler.core.model import UserState
from reconciler.core.propose.select import Dormancy
from reconciler.core.settings import Settings
from reconciler.genesys.client import GenesysClient
from reconciler.genesys.config import connection_from_env
from reconciler.genesys.propose import read_activity
from reconciler.genesys.session import ApiSession
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import (
    A_YEAR_AHEAD,
    ALEX_2,
    BREAKGLASS,
    DANA,
    FIXED_NOW,
    MORGAN,
    ROBIN,
    ROOT,
    TAYLOR,
    SandboxHandle,
    run_process,
    sandbox_wall,
    write,
)

EXPORT = (
    "\ufeffEmployee ID;Worker;Email - Primary Work;Termination Date;Primary Termination Reason;Case Number\r\n"
    '2001;"Kim, Alex";alex.kim@example.com;30/11/2026;Resignation;HR-2001\r\n'
    "2002;Ghost;ghost@example.com;13/12/2026;Dismissal;HR-2002\r\n"
    "2003;Robin;Robin.Mixed@Example.com;01/12/2026;Resignation;HR-2003\r\n"
    "2004;Jane;Jane.DOE@example.com;01/12/2026;Resignation;HR-2004\r\n"
    "2005;Admin;breakglass.admin@example.com;01/12/2026;Resignation;\r\n"
    ";;;;;\r\n"
    "2006;Bad;bad-address;01/12/2026;Resignation;\r\n"
)
MAPPING = "reason_codes:\n  Resignation: Voluntary\n  Dismissal: Conduct\n"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "exports" / "terminations.csv"
    path.parent.mkdir()
    path.write_bytes(EXPORT.encode("utf-8"))
    return path


def test_an_hr_export_becomes_a_file_validate_accepts(cli: Any, desired: Path, export: Path, tmp_path: Path) -> None:
    out = desired / "leavers" / "hr.yaml"
    mapping = write(tmp_path, "reasons.yaml", MAPPING)
    result = cli(
        "propose", str(desired), "--from-csv", str(export), "--out", str(out), "--reason-map", str(mapping),
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert result.code == 2, result.err  # a bad row: written, but look at it
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schemas/desired-state.schema.json\n")
    assert f"sha256:{hashlib.sha256(export.read_bytes()).hexdigest()}" in text
    assert f"{export}:8: bad row: 'bad-address' is not an email address" in result.err
    assert "2 skipped (already declared or protected), 1 bad rows" in result.err
    assert "jane.doe@example.com" not in text.lower() and "breakglass" not in text  # declared / protected
    assert "  - email: alex.kim@example.com  # row 2\n    effective: 2026-11-30T17:00:00+01:00\n" in text
    assert "    reason_code: Conduct\n" in text
    assert cli("validate", str(desired)).code == 0
    # Proposing again finds everyone declared now, and never overwrites without --force.
    again = cli("propose", str(desired), "--from-csv", str(export), "--out", str(out))
    assert again.code == 1 and "exists; pass --force" in again.err and out.read_text() == text
    forced = cli("propose", str(desired), "--from-csv", str(export), "--out", str(out), "--force")
    assert forced.code == 2 and "3 leavers proposed" in forced.err  # its own old entries do not count
    second = cli("propose", str(desired), "--from-csv", str(export), "--out", str(desired / "again.yaml"))
    assert second.code == 2 and "0 leavers proposed" in second.err and "5 skipped" in second.err


def test_a_clean_export_exits_0_and_prints_yaml_markdown_or_json(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "desired_state"
    folder.mkdir()
    export = write(tmp_path, "clean.csv", "Work Email,Termination Date\nA@example.com,2026-12-01\n")
    result = cli("propose", str(folder), "--from-csv", str(export))
    assert result.code == 0, result.err
    assert "  - email: A@example.com  # row 2\n    effective: 2026-12-01T17:00:00Z\n" in result.out
    md = cli("propose", str(folder), "--from-csv", str(export), "--format", "markdown")
    assert md.out.startswith("## Leavers from ") and "| 2 | A@example.com | 2026-12-01T17:00:00Z |" in md.out
    doc = json.loads(cli("propose", str(folder), "--from-csv", str(export), "--format", "json").out)
    assert sorted(doc) == [
        "bad_rows", "columns", "entries", "format_version", "kind", "out", "skipped", "source", "summary",
        "warnings", "yaml",
    ]  # fmt: skip
    assert sorted(doc["summary"]) == [
        "bad_rows", "blank_rows", "flagged", "org_checked", "proposed", "rows", "skipped", "warnings",
    ]  # fmt: skip
    assert doc["entries"] == [
        {
            "row": 2,
            "email": "A@example.com",
            "effective": "2026-12-01T17:00:00Z",
            "reason": None,
            "ticket": None,
            "reason_code": None,
            "check": None,
            "note": None,
        }
    ]
    assert doc["source"]["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()


def test_bad_inputs_are_one_located_line_and_nothing_is_written(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "desired_state"
    folder.mkdir()
    out = folder / "hr.yaml"
    no_email = write(tmp_path, "x.csv", "Name,Termination Date\nJane,2026-12-01\n")
    result = cli("propose", str(folder), "--from-csv", str(no_email), "--out", str(out))
    assert result.code == 1 and f"{no_email}:1: no email column" in result.err and not out.exists()
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("Email\nren\xe9@example.com\n".encode("latin-1"))
    result = cli("propose", str(folder), "--from-csv", str(latin1), "--out", str(out))
    assert result.code == 1 and f"{latin1}:2: not UTF-8" in result.err and not out.exists()
    bad_map = write(tmp_path, "m.yaml", "reason_codes:\n  Resignation: Quit\n")
    result = cli("propose", str(folder), "--from-csv", str(no_email), "--reason-map", str(bad_map))
    assert result.code == 1 and f"{bad_map}:2: 'Resignation': 'Quit' is not a Genesys reason code" in result.err
    result = cli("propose", str(folder), "--from-csv", str(tmp_path / "missing.csv"))
    assert result.code == 1 and "missing.csv: cannot read" in result.err
    result = cli("propose", str(folder), "--from-csv", str(no_email), "--timezone", "Mars/Olympus")
    assert result.code == 1 and "not an IANA time zone" in result.err
    assert "Traceback" not in result.err


def test_check_org_flags_addresses_the_plan_would_refuse(
    cli: Any, sandbox: SandboxHandle, export: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "desired_state"
    folder.mkdir()
    out = folder / "hr.yaml"
    since = len(sandbox.requests())
    result = cli(
        "propose", str(folder), "--from-csv", str(export), "--check-org", "--out", str(out), env=sandbox.env
    )  # fmt: skip
    assert result.code == 2, result.err
    text = out.read_text()
    assert "  # CHECK: alex.kim@example.com matches 2 Genesys users:" in text
    assert "  # CHECK: no Genesys user has email ghost@example.com" in text
    # Found as Genesys stores it, and in lower case (the plan's two spellings): not flagged.
    assert "Robin.Mixed@Example.com" in text and "Jane.DOE@example.com" in text
    assert text.count("# CHECK:") == 2
    assert "reconciler: check-org: ghost@example.com: no Genesys user has email" in result.err
    assert sandbox.writes(since) == []  # propose never writes to Genesys
    api = [r["path"] for r in sandbox.api_requests(since)]
    # Searched as written, then lower-cased (Jane.DOE); ghost@ is confirmed missing by one listing
    # page (the matching rule of issue 10 §6: never "not found" where a listing would match).
    assert set(api) <= {"/api/v2/users/search", "/api/v2/users", "/api/v2/users/query"} and len(api) <= 4


def _dormant(cli: Any, handle: SandboxHandle, desired: Path, *args: str) -> Any:
    return cli("propose", str(desired), "--dormant", "90d", *args, env=handle.env)


def test_dormant_users_are_proposed_commented_out_in_one_pass(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    out = desired / "dormant.yaml"
    since = len(sandbox.requests())
    result = _dormant(cli, sandbox, desired, "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert cli("validate", str(desired)).code == 0  # merging it as is changes nothing
    assert f"id: {ALEX_2}" in text  # 120 days idle
    assert f"id: {ROBIN}" not in text  # 30 days: active within 90d
    assert f"id: {BREAKGLASS}" not in text and f"id: {DANA}" not in text  # protected; declared
    assert f"id: {MORGAN}" in text.split("Last activity UNKNOWN")[1]  # no lastTokenIssued: unknown
    assert "# never active" not in text  # the sandbox never says "never"; a missing expansion is unknown
    assert "idle 120 days" in text
    idle = [int(line.split("idle ")[1].split(" ")[0]) for line in text.splitlines() if "  # idle " in line]
    assert idle == sorted(idle, reverse=True) and min(idle) > 90
    calls = [f"{r['method']} {r['path']}" for r in sandbox.requests(since) if not r["path"].startswith("/_")]
    assert calls == ["POST /oauth/token", "GET /api/v2/users/query"]  # one page of 500 holds this org
    assert sandbox.writes(since) == []
    with sandbox.sandbox.org.lock:
        active = [u for u in sandbox.sandbox.org.users.values() if u.state == "active"]
    assert f"Active users scanned: {len(active)}." in text


def test_dormant_json_counts_the_calls_and_separates_unknown(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    doc = json.loads(_dormant(cli, sandbox, desired, "--format", "json").out)
    assert doc["summary"]["api_calls"] == 2
    assert {e["dormancy"] for e in doc["entries"]} == {"dated"}
    assert doc["unknown"] and all(e["last_activity"] is None for e in doc["unknown"])
    assert all(e["idle_days"] > 90 for e in doc["entries"])


def test_dormancy_is_measured_on_genesys_clock_whatever_the_calendar(cli: Any, desired: Path) -> None:
    results = []
    for start in (FIXED_NOW, FIXED_NOW + A_YEAR_AHEAD):
        org = Org.generate(200, wall=sandbox_wall(start))
        with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
            handle = SandboxHandle(sb, http)
            doc = json.loads(_dormant(cli, handle, desired, "--format", "json").out)
            results.append([(e["id"], e["idle_days"]) for e in doc["entries"]])
    assert [i for i, _ in results[0]] == [i for i, _ in results[1]] and results[0]
    # The same ages (a day either way only if the Date header's second straddles a day boundary).
    assert all(abs(a[1] - b[1]) <= 1 for a, b in zip(results[0], results[1], strict=True))


def test_dormant_scan_of_a_bigger_org_costs_one_call_per_500_active_users(cli: Any, desired: Path) -> None:
    org = Org.generate(2600, wall=sandbox_wall())
    with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
        handle = SandboxHandle(sb, http)
        doc = json.loads(_dormant(cli, handle, desired, "--format", "json").out)
        active = sum(1 for u in org.users.values() if u.state == "active")
        pages = sum(1 for r in handle.requests() if r["path"] == "/api/v2/users/query")
    assert doc["summary"]["scanned"] == active
    assert pages == math.ceil(active / Settings().list_page_size)
    assert doc["summary"]["api_calls"] == pages + 1  # plus the token


def test_progress_is_shown_on_a_terminal_only(
    cli: Any, sandbox: SandboxHandle, desired: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _dormant(cli, sandbox, desired, "--format", "json").code == 0
    assert "\rreconciler: scanned " in terminal.getvalue()
    assert "scanned " not in _dormant(cli, sandbox, desired, "--format", "json").err.split("reconciler: ")[0]


API = "https://api.mypurecloud.ie"
ENV = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "id",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret",
    "GENESYSCLOUD_REGION": "eu-west-1",
}


@pytest.fixture
def mock() -> Any:
    with respx.mock(assert_all_called=False) as router:
        router.post("https://login.mypurecloud.ie/oauth/token").respond(
            json={"access_token": "t", "token_type": "bearer", "expires_in": 86400}
        )
        yield router


def _client() -> GenesysClient:
    return GenesysClient(ApiSession(connection_from_env(ENV), Settings(), sleep=lambda _s: None))


def test_a_missing_expansion_is_unknown_and_an_empty_one_is_never(mock: Any) -> None:
    base: dict[str, Any] = {"state": "active", "version": 1}
    route = mock.get(f"{API}/api/v2/users/query").respond(
        json={
            "entities": [
                {
                    **base,
                    "id": "a",
                    "email": "a@example.com",
                    "lastTokenIssued": {"dateIssued": "2026-01-01T00:00:00Z"},
                },
                {**base, "id": "b", "email": "b@example.com", "lastTokenIssued": {}},
                {**base, "id": "c", "email": "c@example.com"},
                {**base, "id": "d", "email": "d@example.com", "lastTokenIssued": {"dateIssued": "garbage"}},
                {**base, "id": "e", "state": "inactive"},
            ],
            "results": 5,
        }
    )
    users = read_activity(_client())
    assert [(u.id, u.dormancy) for u in users] == [
        ("a", Dormancy.DATED),
        ("b", Dormancy.NEVER),
        ("c", Dormancy.UNKNOWN),
        ("d", Dormancy.UNKNOWN),
    ]
    params = route.calls[-1].request.url.params
    assert params["state"] == UserState.ACTIVE.value
    assert params["expand"] == "lasttokenissued" and params["pageSize"] == "500"


def test_without_the_all_divisions_permission_it_pages_instead(mock: Any) -> None:
    mock.get(f"{API}/api/v2/users/query").respond(
        403, json={"status": 403, "code": "missing.division.permission", "message": "no", "contextId": "c"}
    )
    paged = mock.get(f"{API}/api/v2/users").respond(
        json={"entities": [{"id": "a", "state": "active", "version": 1}], "pageCount": 1, "total": 1}
    )
    users = read_activity(_client())
    assert [u.id for u in users] == ["a"] and paged.call_count == 1
    assert paged.calls[0].request.url.params["state"] == "active"


def test_propose_runs_as_a_real_process(tmp_path: Path) -> None:
    folder = tmp_path / "desired_state"
    folder.mkdir()
    export = write(tmp_path, "hr.csv", "Email;Termination Date\nx@example.com;2026-12-01\n;\n")
    result = run_process("propose", str(folder), "--from-csv", str(export), "--format", "markdown")
    assert result.code == 0, result.err
    assert "**1** proposed from 1 rows" in result.out


def test_the_propose_workflow_opens_pull_requests_and_never_applies() -> None:
    workflow = yaml.safe_load((ROOT / "examples/github-actions/reconciler-propose.yml").read_text())
    assert set(workflow["jobs"]) == {"hr-leavers", "dormant"}
    assert workflow[True]["schedule"]  # PyYAML reads the `on:` key as true
    for job in workflow["jobs"].values():
        runs = " ".join(step.get("run", "") for step in job["steps"])
        assert "reconciler propose desired_state" in runs
        assert not re.search(r"reconciler (apply|run)\b", runs)
        assert any(step.get("uses", "").startswith("peter-evans/create-pull-request") for step in job["steps"])


def test_the_shipped_hr_example_is_proposed_as_is(cli: Any, desired: Path) -> None:
    result = cli(
        "propose", str(desired), "--from-csv", str(ROOT / "examples/hr/terminations.csv"),
        "--reason-map", str(ROOT / "examples/hr/reason-codes.yaml"), "--timezone", "Europe/London",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "1 skipped" in result.err  # dana.white is already declared in desired_state/
    assert "    reason_code: Seasonal\n" in result.out and "Taylor.Green@Example.com" in result.out


def test_check_org_also_skips_people_the_tree_names_by_id_only(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    folder = tmp_path / "desired_state"
    write(folder, "by-id.yaml", f"users:\n  - id: {TAYLOR}\n    reason: Left\n")
    export = write(tmp_path, "hr.csv", "Work Email,Termination Date\nTaylor.Green@example.com,2026-12-01\n")
    blind = cli("propose", str(folder), "--from-csv", str(export), env=sandbox.env)
    assert "Taylor.Green@example.com" in blind.out  # without the org, an address cannot be matched to an id
    checked = cli("propose", str(folder), "--from-csv", str(export), "--check-org", "--format", "json", env=sandbox.env)
    doc = json.loads(checked.out)
    assert checked.code == 0, checked.err
    assert doc["entries"] == [] and doc["skipped"] == [
        {
            "row": 2,
            "label": "Taylor.Green@example.com",
            "why": f"already declared by id ({TAYLOR}) at {folder}/by-id.yaml:2",
        }
    ]


def test_export_options_are_refused_with_dormant(cli: Any, desired: Path) -> None:
    result = cli("propose", str(desired), "--dormant", "90d", "--check-org")
    assert result.code == 1 and "--check-org applies to --from-csv, not to --dormant" in result.err
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error, exit 2
        cli("propose", str(desired), "--dormant", "0d")
    assert usage.value.code == 2


@pytest.mark.parametrize("age", ["10000000d", "99999999999d", "5300w", "876001h"])
def test_an_age_beyond_a_century_is_a_usage_error_not_a_traceback(
    cli: Any, desired: Path, age: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Such an age used to overflow Python's dates (in parsing, or after the whole scan)."""
    with pytest.raises(SystemExit) as usage:
        cli("propose", str(desired), "--dormant", age)
    assert usage.value.code == 2 and "at most 100 years" in capsys.readouterr().err


def test_a_dropped_expansion_is_shown_as_unknown_never_as_never_or_recent(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    # Alex Kim (Support) last signed in 120 days ago, Taylor Green today; Genesys leaves both expansions out.
    sandbox.faults(mangle={ALEX_2: "no_expand", TAYLOR: "no_expand"})
    doc = json.loads(_dormant(cli, sandbox, desired, "--format", "json").out)
    unknown = {e["id"]: e for e in doc["unknown"]}
    assert set(unknown) >= {ALEX_2, TAYLOR}
    assert all(unknown[i]["dormancy"] == "unknown" and unknown[i]["last_activity"] is None for i in (ALEX_2, TAYLOR))
    assert ALEX_2 not in {e["id"] for e in doc["entries"]}
    recent = doc["summary"]["recent"]
    sandbox.faults(mangle={})
    doc = json.loads(_dormant(cli, sandbox, desired, "--format", "json").out)
    assert ALEX_2 in {e["id"] for e in doc["entries"]} and TAYLOR not in {e["id"] for e in doc["unknown"]}
    assert doc["summary"]["recent"] == recent + 1  # Taylor counts as recent only when Genesys says so


def test_check_org_on_a_long_export_reads_like_plan_would(cli: Any, tmp_path: Path) -> None:
    org = Org.generate(2000, wall=sandbox_wall())
    with org.lock:
        emails = [u.email for u in org.users.values() if u.state == "active"][20:320]
    folder = tmp_path / "desired_state"
    folder.mkdir()
    export = write(tmp_path, "hr.csv", "Email\n" + "\n".join(emails) + "\n")
    twin = tmp_path / "twin"  # the same people as a desired state, for plan
    write(twin, "leavers.yaml", "users:\n" + "".join(f"  - email: {e}\n" for e in emails))

    def api_calls(handle: SandboxHandle, since: int) -> list[str]:
        return sorted(f"{r['method']} {r['path']}" for r in handle.api_requests(since))

    with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
        handle = SandboxHandle(sb, http)
        result = cli("propose", str(folder), "--from-csv", str(export), "--check-org", "--format", "json", env=sb.env)
        proposing = api_calls(handle, 0)
        since = len(handle.requests())
        assert cli("plan", str(twin), "--no-ledger", "--allow-mass-change", "--format", "json", env=sb.env).code == 0
        planning = api_calls(handle, since)
    assert result.code == 0, result.err
    assert json.loads(result.out)["summary"]["flagged"] == 0
    # The same reads as plan for the same 300 people (whichever strategy it picks), never a call per address.
    assert proposing == planning and len(proposing) <= 12


def test_check_org_notes_people_already_inactive_without_flagging_them(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    from tests.conftest import PRIYA

    folder = tmp_path / "desired_state"
    folder.mkdir()
    export = write(tmp_path, "hr.csv", "Work Email,Termination Date\npriya.shah@example.com,2026-12-01\n")
    out = tmp_path / "proposed.yaml"  # outside the folder: the next runs must not find her declared
    result = cli("propose", str(folder), "--from-csv", str(export), "--check-org", "--out", str(out), env=sandbox.env)
    assert result.code == 0, result.err  # worth a glance, not wrong
    assert f"  # NOTE: already inactive in Genesys ({PRIYA})" in out.read_text()
    md = cli("propose", str(folder), "--from-csv", str(export), "--check-org", "--format", "markdown", env=sandbox.env)
    assert "| already inactive in Genesys" in md.out
    unchecked = cli("propose", str(folder), "--from-csv", str(export), "--format", "markdown")
    assert unchecked.out.rstrip().endswith("| not checked |")


def test_from_an_hr_export_to_the_plan(cli: Any, sandbox: SandboxHandle, tmp_path: Path) -> None:
    """The whole path a pull request takes: export -> proposal -> validate -> plan (which names the reason code)."""
    folder = tmp_path / "desired_state"
    folder.mkdir()
    export = write(
        tmp_path,
        "hr.csv",
        "Work Email;Termination Date;Termination Reason;Ticket\nTaylor.Green@Example.com;01.01.2020;Resignation;HR-9\n",
    )
    mapping = write(tmp_path, "codes.yaml", MAPPING)
    out = folder / "leavers" / "hr.yaml"
    args = ("--from-csv", str(export), "--reason-map", str(mapping), "--check-org", "--out", str(out))
    proposed = cli("propose", str(folder), *args, env=sandbox.env)
    assert proposed.code == 0, proposed.err
    assert cli("validate", str(folder)).code == 0
    plan = cli("plan", str(folder), "--format", "json", "--no-ledger", env=sandbox.env)
    assert plan.code == 0, plan.err
    (change,) = [c for c in json.loads(plan.out)["changes"] if c["action"] == "deactivate"]
    assert change["id"] == TAYLOR and change["reason_code"] == "Voluntary" and change["ticket"] == "HR-9"
    assert change["source"].endswith("hr.yaml:9")


def test_an_invalid_desired_state_stops_propose_before_any_api_call(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    folder = tmp_path / "desired_state"
    write(folder, "broken.yaml", "users:\n  - email: not an address\n")
    export = write(tmp_path, "hr.csv", "Email\na@example.com\n")
    since = len(sandbox.requests())
    for argv in (("--dormant", "90d"), ("--from-csv", str(export), "--check-org")):
        result = cli("propose", str(folder), *argv, "--out", str(tmp_path / "out.yaml"), env=sandbox.env)
        assert result.code == 1 and "broken.yaml:2" in result.err
    assert sandbox.requests(since) == [] and not (tmp_path / "out.yaml").exists()
