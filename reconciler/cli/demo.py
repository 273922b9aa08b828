"""`reconciler demo [DIR]`: the whole story against an in-process sandbox, for a newcomer.

Starts a local sandbox org on a free loopback port (real HTTP, no credentials,
no network), then runs plan -> apply -> plan (empty) -> an administrator
reactivates a leaver behind the tool's back -> plan shows the drift and who
made it (from Genesys's audit trail) -> apply corrects it -> plan (empty).
Every step goes through the same engine as `plan`/`apply`. The ledger goes to
a temporary folder, so the demo leaves nothing behind.
Exits 0 when every step did what the story says, 1 otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx

from reconciler.cli.common import EXIT_ERROR, EXIT_OK, add_desired_dir, bounded, emit
from reconciler.core.report import text as text_report
from reconciler.engine import Runtime
from reconciler.errors import ConfigError
from reconciler.genesys.config import connection_from_env

DEMO_ADMIN_ID = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"

# The shipped desired state names the sandbox's well-known users: the org must hold them all
# (len(sandbox.org.WELL_KNOWN), pinned by a test; not imported here, to keep the CLI's start light).
MIN_DEMO_USERS = 12


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole story against a local sandbox org",
        description="Plan, apply, drift and correction against an in-process sandbox, using the "
        "desired-state folder (default: desired_state).",
    )
    add_desired_dir(p)
    p.add_argument(
        "--users",
        type=bounded(int, MIN_DEMO_USERS, 100_000),
        default=200,
        help=f"users in the sandbox org, {MIN_DEMO_USERS} to 100,000 (default 200)",
    )
    p.set_defaults(run=run)


def _step(title: str) -> None:
    emit(f"\n=== {title} " + "=" * max(3, 72 - len(title)) + "\n\n")


def _say(text: str) -> None:
    emit(text.rstrip("\n") + "\n")


def run(args: argparse.Namespace) -> int:
    from reconciler.sandbox.org import WELL_KNOWN
    from reconciler.sandbox.server import Sandbox  # only the demo (and `sandbox`) serve the fake org

    if args.users < len(WELL_KNOWN):
        # The shipped desired state names the sandbox's well-known people, the first users generated.
        raise ConfigError(
            f"demo --users {args.users}: the demo org needs at least {len(WELL_KNOWN)} users "
            f"(the people the shipped desired_state/ names); the default is 200"
        )

    failures: list[str] = []

    def expect(condition: bool, what: str) -> None:
        if not condition:
            failures.append(what)
            _say(f"!! unexpected: {what}")

    with Sandbox(users=args.users) as sandbox, tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp:
        runtime = Runtime(
            desired_dir=Path(args.desired_dir),
            connection=connection_from_env(sandbox.env),
            ledger_path=Path(tmp) / "ledger.jsonl",
        )
        calls = runtime.client().stats
        _step("1. A local Genesys Cloud sandbox")
        _say(
            f"A fake org with {len(sandbox.org.users)} users is listening at {sandbox.base_url}. It speaks the "
            f"real Platform API contract: PATCH /api/v2/users/{{id}} with state+version, DELETE /api/v2/tokens/"
            f"{{id}}, 409 on a stale version, 429 with Retry-After. No credentials, no network."
        )
        desired = runtime.load()
        _say(
            f"\nThe desired state lives in git: {args.desired_dir}/ holds {len(desired.files)} YAML file(s) "
            f"naming {len(desired.entries)} users. Users not named there are never touched."
        )

        _step("2. reconciler plan")
        first = runtime.plan(desired).plan
        emit(text_report.plan_lines(first))
        expect(first.has_changes and not first.has_errors, "the first plan has changes and no errors")
        _say(f"\n(plan made {calls.total} API calls: batched reads, no writes)")

        _step("3. reconciler apply --auto-approve")
        before = calls.total
        result = runtime.apply(first)
        emit(text_report.apply_lines(result))
        expect(result.ok, "apply succeeds")
        writes = {k: v for k, v in calls.calls.items() if k.startswith(("PATCH", "DELETE"))}
        _say(
            f"\n(apply made {calls.total - before} API calls: {writes}; each PATCH carried the version the plan "
            f"read, each revoke came after its PATCH)"
        )

        _step("4. reconciler plan, again")
        again = runtime.plan(desired).plan
        emit(text_report.plan_lines(again))
        expect(not again.has_changes and not again.has_errors, "the second plan is empty")
        _say("Running apply twice changes nothing the second time.")

        leaver = next((c for c in first.changes if c.action.value == "deactivate"), None)
        if leaver is not None:
            _step("5. An administrator reactivates a leaver in the admin UI")
            http = httpx.Client(base_url=sandbox.base_url)
            admin = {"user": {"id": DEMO_ADMIN_ID, "name": "Pat Admin"}}
            http.post(f"/_sandbox/users/{leaver.user_id}/state", json={"state": "active", "as": admin})
            http.post(f"/_sandbox/users/{leaver.user_id}/login", json={})
            http.close()
            _say(f"Pat Admin set {leaver.email} active again by hand, and the user has logged in.")

            _step("6. reconciler plan shows the drift, and who made it")
            before = calls.total
            drift = runtime.plan(desired).plan
            emit(text_report.plan_lines(drift))
            corrected = next((c for c in drift.changes if c.user_id == leaver.user_id), None)
            expect(corrected is not None, "the drift is planned for correction")
            by = corrected.changed_by if corrected is not None else None
            expect(by is not None and by.user is not None and by.user.name == "Pat Admin", "the drift names Pat Admin")
            audits = sum(n for k, n in calls.calls.items() if "/audits/" in k)
            _say(
                f"\n(plan made {calls.total - before} API calls; Genesys's audit trail, asked {audits} time(s) in the "
                f"whole demo, names who reactivated the user)"
            )

            _step("7. reconciler apply corrects it")
            fixed = runtime.apply(drift)
            emit(text_report.apply_lines(fixed))
            expect(fixed.ok, "the correction succeeds")

            _step("8. Converged")
            final = runtime.plan(desired).plan
            emit(text_report.plan_lines(final))
            expect(not final.has_changes and not final.has_errors, "the final plan is empty")
        runtime.close()
        deletes = sum(n for k, n in calls.calls.items() if k == "DELETE /api/v2/users/{id}")
        expect(deletes == 0, "no user was ever deleted")
        _say(
            f"\nAPI calls in the whole demo: {calls.total} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(calls.calls.items()))})."
        )
        _say(
            "Every write was recorded in an append-only audit ledger (here in a temporary folder; by default "
            ".reconciler/ledger.jsonl beside the desired-state folder)."
        )
    if failures:
        _say(f"\nDemo FAILED: {'; '.join(failures)}")
        return EXIT_ERROR
    _say("\nDemo complete. Next: `reconciler sandbox` in one terminal, then `reconciler plan` in another.")
    return EXIT_OK
