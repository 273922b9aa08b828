"""Issue 11 end to end: reason codes, drift attributed to its actor, flapping users held.

The real CLI (in process, same parser and engine) against the sandbox over a
loopback socket; the sandbox plays the other actors (an admin, an identity
provider's OAuth client) and records the audit trail Genesys would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JANE, JOHN, SandboxHandle, write

ADMIN = {"id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "name": "Pat Admin"}
IDP = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"


def doc(result: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(result.out)
    return loaded


def apply(cli: Any, handle: SandboxHandle, folder: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    result = cli("apply", str(folder), "--auto-approve", "--format", "json", *extra, env=env or handle.env)
    assert result.code == 0, result.out + result.err
    return doc(result)


def api_calls(handle: SandboxHandle, since: int = 0) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in handle.requests(since) if not r["path"].startswith("/_sandbox")]


# --- §1 reason codes -------------------------------------------------------------------------


def test_a_reason_code_reaches_genesys_through_put_state(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    plan = doc(cli("plan", str(desired), "--format", "json", env=sandbox.env))
    assert [(c["id"], c["action"], c["reason_code"]) for c in plan["changes"] if c["action"] == "deactivate"] == [
        (JANE, "deactivate", "Voluntary"),
        (JOHN, "deactivate", None),
    ]
    applied = apply(cli, sandbox, desired)
    assert applied["outcomes"]["applied"] == 5
    puts = [r for r in sandbox.requests() if r["method"] == "PUT"]
    assert [(r["path"], r["body"]) for r in puts] == [
        (f"/api/v2/users/{JANE}/state", {"state": "inactive", "version": 4, "stateChangeReason": "Voluntary"})
    ]
    assert sandbox.user(JANE)["state_change_reason"] == "Voluntary" and sandbox.user(JANE)["live_tokens"] == 0
    assert sandbox.user(JOHN)["state_change_reason"] is None  # no code: the PATCH it always was
    rows = doc(cli("audit", str(desired), "--format", "json"))["rows"]
    assert {(r["user_id"], r["action"], r["reason_code"]) for r in rows if r["action"] == "deactivate"} == {
        (JANE, "deactivate", "Voluntary"),
        (JOHN, "deactivate", None),
    }
    csv = cli("audit", str(desired), "--format", "csv").out
    assert "reason_code" in csv.splitlines()[0] and ",Voluntary," in csv


def test_a_put_state_conflict_is_re_read_and_retried_like_the_patch(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    sandbox.faults(conflicts={JANE: 1})  # another writer saves Jane between our read and our PUT
    apply(cli, sandbox, desired)
    puts = [(r["status"], r["body"]["version"]) for r in sandbox.requests() if r["method"] == "PUT"]
    assert puts == [(409, 4), (200, 5)]
    assert sandbox.user(JANE)["state"] == "inactive" and sandbox.user(JANE)["state_change_reason"] == "Voluntary"


def test_a_saved_plan_applies_its_reason_code(cli: Any, sandbox: SandboxHandle, desired: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert cli("plan", str(desired), "--out", str(saved), env=sandbox.env).code == 0
    result = cli("apply", str(saved), env=sandbox.env)
    assert result.code == 0, result.err
    assert sandbox.user(JANE)["state_change_reason"] == "Voluntary"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "users:\n  - email: jane.doe@example.com\n    reason_code: voluntary\n",
            "leaver.yaml:3: users[0].reason_code: 'voluntary' is not one of: Voluntary, Seasonal, Leave, "
            "Performance, Conduct, Unknown",
        ),
        (
            "users:\n  - email: carlos.mendez@example.com\n    state: active\n    reason_code: Leave\n",
            "leaver.yaml:2: users[0]: a reactivation (state: active) takes no reason_code",
        ),
    ],
)
def test_a_bad_reason_code_is_refused_before_any_call(
    cli: Any, sandbox: SandboxHandle, tmp_path: Path, text: str, message: str
) -> None:
    folder = tmp_path / "d"
    write(folder, "leaver.yaml", text)
    for verb in ("validate", "plan", "apply"):
        result = cli(verb, str(folder), *(["--auto-approve"] if verb == "apply" else []), env=sandbox.env)
        assert result.code == 1 and message in result.out + result.err, (verb, result.out, result.err)
    assert api_calls(sandbox) == []  # not even a token


# --- §2 drift attributed ------------------------------------------------------------------------


def test_drift_by_an_admin_and_by_an_identity_provider_is_named(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    apply(cli, sandbox, desired)
    sandbox.add_client(IDP, "Okta provisioning")
    sandbox.set_state_as(JANE, "active", user=ADMIN)
    sandbox.set_state_as(JOHN, "active", client=IDP)
    mark = len(sandbox.requests())
    drift = cli("drift", str(desired), "--format", "json", env=sandbox.env)
    assert drift.code == 2
    by = {d["id"]: d["changed_by"] for d in doc(drift)["drift"]}
    assert by[JANE]["kind"] == "user" and by[JANE]["user"] == {"id": ADMIN["id"], "name": "Pat Admin"}
    assert by[JANE]["at"] is not None
    assert by[JOHN] == {
        "kind": "client",
        "user": None,
        "client": {"id": IDP, "name": "Okta provisioning"},
        "at": by[JOHN]["at"],
    }
    audit_calls = [c for c in api_calls(sandbox, mark) if "/audits/" in c or "/oauth/clients/" in c]
    # D = 2 drifted users: 1 service mapping + 2 queries + 1 name for the one other client named
    assert sorted(audit_calls) == [
        "GET /api/v2/audits/query/realtime/servicemapping",
        f"GET /api/v2/oauth/clients/{IDP}",
        "POST /api/v2/audits/query/realtime",
        "POST /api/v2/audits/query/realtime",
    ]
    text = cli("drift", str(desired), env=sandbox.env).out
    assert "changed by user Pat Admin" in text and "changed by OAuth client Okta provisioning" in text
    assert "\\n" not in text  # each drifted user is two real lines, not one line with a visible "\n"
    assert [line.lstrip().split(" ", 2)[:2] for line in text.splitlines() if "changed by" in line] == [
        ["changed", "by"],
        ["changed", "by"],
    ]

    plan = doc(cli("plan", str(desired), "--format", "json", env=sandbox.env))
    changed = {c["id"]: c for c in plan["changes"] if c["action"] == "deactivate"}
    assert changed[JANE]["changed_by"]["user"]["name"] == "Pat Admin"
    assert "changed by user Pat Admin" in changed[JANE]["detail"]
    assert changed[JOHN]["changed_by"]["client"]["name"] == "Okta provisioning"
    assert all(c["changed_by"] is None for c in plan["changes"] if c["action"] == "revoke_tokens")


def test_no_audit_call_at_all_when_nothing_drifted(cli: Any, sandbox: SandboxHandle, desired: Path) -> None:
    apply(cli, sandbox, desired)
    mark = len(sandbox.requests())
    assert cli("plan", str(desired), "--detailed-exitcode", env=sandbox.env).code == 0
    assert cli("drift", str(desired), env=sandbox.env).code == 0
    assert not [c for c in api_calls(sandbox, mark) if "/audits/" in c]


@pytest.mark.parametrize("how", ["permission", "403", "500", "non_json"])
def test_attribution_unavailable_changes_nothing_else(
    cli: Any, sandbox: SandboxHandle, desired: Path, how: str
) -> None:
    env = sandbox.env
    if how == "permission":  # an OAuth client without audits:audit:view: Genesys answers 403
        sandbox.add_client(
            "no-audit", "", "directory:user:view", "directory:user:edit", "oauth:token:delete", secret="s"
        )
        env = {**env, "GENESYSCLOUD_OAUTHCLIENT_ID": "no-audit", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"}
    apply(cli, sandbox, desired, env=env)
    sandbox.set_state_as(JANE, "active", user=ADMIN)
    if how != "permission":
        sandbox.faults(audit_failure=how)
    plan = cli("plan", str(desired), "--format", "json", env=env)
    assert plan.code == 0
    found = doc(plan)
    assert [(c["action"], c["id"]) for c in found["changes"]] == [("deactivate", JANE), ("revoke_tokens", JANE)]
    assert found["changes"][0]["changed_by"] == {"kind": "unknown", "user": None, "client": None, "at": None}
    warnings = [p for p in found["problems"] if p["code"] == "drift.unattributed"]
    assert len(warnings) == 1 and warnings[0]["severity"] == "warning"
    if how in ("permission", "403"):
        assert "audits:audit:view" in warnings[0]["message"]
    drift = cli("drift", str(desired), "--format", "json", env=env)
    assert drift.code == 2 and doc(drift)["drift"][0]["changed_by"]["kind"] == "unknown"
    assert drift.err.count("warning") == 1
    applied = apply(cli, sandbox, desired, env=env)  # the correction happens exactly as without attribution
    assert applied["outcomes"] == {"applied": 2, "failed": 0, "skipped": 0}
    assert sandbox.user(JANE)["state"] == "inactive"


def test_doctor_lists_the_audit_permission_as_optional(cli: Any, sandbox: SandboxHandle) -> None:
    full = cli("doctor", "--format", "json", env=sandbox.env)
    checks = {c["name"]: c for c in doc(full)["checks"]}
    assert checks["audit trail"]["status"] == "ok" and checks["client names"]["status"] == "ok"
    sandbox.add_client("basic", "", "directory:user:view", "directory:user:edit", "oauth:token:delete", secret="s")
    env = {**sandbox.env, "GENESYSCLOUD_OAUTHCLIENT_ID": "basic", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"}
    limited = cli("doctor", "--format", "json", env=env)
    assert limited.code == 0  # optional: a warning, never a failure
    checks = {c["name"]: c for c in doc(limited)["checks"]}
    assert checks["audit trail"]["status"] == "warn"
    assert "optional audits:audit:view is missing" in checks["audit trail"]["detail"]
    assert "shows as unknown" in checks["audit trail"]["detail"]
    assert checks["client names"]["status"] == "warn" and "oauth:client:view" in checks["client names"]["detail"]


# --- §3 flapping users held ---------------------------------------------------------------------


def test_a_user_an_identity_provider_keeps_reactivating_is_held_and_released(
    cli: Any, sandbox: SandboxHandle, desired: Path
) -> None:
    apply(cli, sandbox, desired)  # the first deactivation: not a correction
    sandbox.add_client(IDP, "Entra ID provisioning")
    sandbox.set_state_as(JANE, "active", client=IDP, repeat=4)  # now, and after each of our next 3 corrections
    for _ in range(3):
        corrected = apply(cli, sandbox, desired)
        first = corrected["results"][0]
        assert (first["action"], first["id"], first["outcome"]) == ("deactivate", JANE, "applied")
        assert sandbox.user(JANE)["state"] == "active"  # ...and the identity provider flipped her straight back
    assert len([m for m in sandbox.audit() if m["entity"]["id"] == JANE]) == 8  # 4 ours, 4 the provider's

    sandbox.set_state_as(JOHN, "active", user=ADMIN)  # someone else drifts too: still corrected
    plan = doc(cli("plan", str(desired), "--format", "json", env=sandbox.env))
    assert [(c["action"], c["id"]) for c in plan["changes"]] == [("deactivate", JOHN), ("revoke_tokens", JOHN)]
    assert plan["summary"]["held"] == 1
    (held,) = plan["held"]
    assert (held["id"], held["corrections"], held["window"]) == (JANE, 4, "24h")
    assert held["changed_by"]["client"] == {"id": IDP, "name": "Entra ID provisioning"}
    assert held["source"].endswith("leavers/2026-11.yaml:6")
    (problem,) = [p for p in plan["problems"] if p["code"] == "user.flapping"]
    assert problem["severity"] == "warning" and problem["id"] == JANE
    assert "reactivated 4 times in 24h, last by OAuth client Entra ID provisioning" in problem["message"]
    text = cli("plan", str(desired), env=sandbox.env).out
    assert "Held (another system keeps changing these users back" in text and "; 1 held." in text

    mark = len(sandbox.requests())
    applied = apply(cli, sandbox, desired)
    assert {r["id"] for r in applied["results"]} == {JOHN}  # the others are applied; the held user is not
    assert not [r for r in sandbox.writes(mark) if JANE in r["path"]]
    assert sandbox.user(JANE)["state"] == "active" and sandbox.user(JOHN)["state"] == "inactive"

    released = apply(cli, sandbox, desired, "--release", "jane.doe@example.com")
    assert [(r["action"], r["id"], r["outcome"]) for r in released["results"]] == [
        ("deactivate", JANE, "applied"),
        ("revoke_tokens", JANE, "applied"),
    ]
    assert sandbox.user(JANE)["state"] == "inactive"  # the provider's rule is spent: she stays inactive
    assert doc(cli("plan", str(desired), "--format", "json", env=sandbox.env))["held"] == []


# --- §5 the sandbox itself: PUT /state and the audit API, as strict as plausible ----------------


def test_the_sandbox_put_state_is_as_strict_as_the_patch(sandbox: SandboxHandle) -> None:
    from tests.test_sandbox import assert_error_body

    token = sandbox.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(sandbox.env["GENESYSCLOUD_OAUTHCLIENT_ID"], sandbox.env["GENESYSCLOUD_OAUTHCLIENT_SECRET"]),
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    url = f"/api/v2/users/{JANE}/state"
    version = sandbox.user(JANE)["version"]
    bad_reason = sandbox.http.put(
        url, headers=h, json={"state": "inactive", "version": version, "stateChangeReason": "Fired"}
    )
    assert (
        "Allowable values are: Voluntary, Seasonal, Leave, Performance, Conduct, Unknown"
        in assert_error_body(bad_reason, 400, "invalid.value")["message"]
    )
    assert_error_body(sandbox.http.put(url, headers=h, json={"state": "inactive"}), 400, "bad.request")
    assert_error_body(
        sandbox.http.put(url, headers=h, json={"state": "inactive", "version": version, "title": "x"}),
        400,
        "bad.request",
    )
    assert_error_body(
        sandbox.http.put(url, headers=h, json={"state": "inactive", "version": version - 1}), 409, "general.conflict"
    )
    assert sandbox.user(JANE)["state"] == "active"  # nothing refused changed anything
    ok = sandbox.http.put(url, headers=h, json={"state": "inactive", "version": version, "stateChangeReason": "Leave"})
    assert ok.status_code == 200
    assert {k: ok.json()[k] for k in ("state", "version", "stateChangeReason")} == {
        "state": "inactive",
        "version": version + 1,
        "stateChangeReason": "Leave",
    }
    (message,) = [m for m in sandbox.audit() if m["entity"]["id"] == JANE]
    assert message["client"]["id"] == sandbox.env["GENESYSCLOUD_OAUTHCLIENT_ID"] and "user" not in message
    assert message["propertyChanges"] == [{"property": "state", "oldValues": ["active"], "newValues": ["inactive"]}]

    query = "/api/v2/audits/query/realtime"
    week = {"interval": "2026-11-20T00:00:00Z/2026-11-27T00:00:00Z", "serviceName": "Directory"}
    assert sandbox.http.post(query, headers=h, json=week).status_code == 200
    too_long = {**week, "interval": "2026-11-01T00:00:00Z/2026-11-27T00:00:00Z"}
    assert_error_body(sandbox.http.post(query, headers=h, json=too_long), 400, "invalid.date")
    assert_error_body(
        sandbox.http.post(query, headers=h, json={**week, "serviceName": "directory"}), 400, "invalid.value"
    )
    bad_filter = {**week, "filters": [{"property": "Email", "value": "x"}]}
    assert_error_body(sandbox.http.post(query, headers=h, json=bad_filter), 400, "invalid.value")
    sandbox.faults(audit_failure="500")
    assert sandbox.http.get(f"{query}/servicemapping", headers=h).status_code == 500
    sandbox.faults(audit_failure="non_json")
    assert sandbox.http.post(query, headers=h, json=week).headers["content-type"].startswith("text/html")
