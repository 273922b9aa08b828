"""The renderings are contracts: pinned byte for byte against golden files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.report import jsondoc as json_report
from reconciler.core.report import text as text_report
from reconciler.sandbox.org import Org
from reconciler.sandbox.server import Sandbox
from tests.conftest import FIXED_NOW, JANE, SandboxHandle
from tests.golden import check


@pytest.fixture
def here(desired: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the folder holding desired_state/, so sources read desired_state/...:line."""
    monkeypatch.chdir(desired.parent)
    return Path("desired_state")


def test_plan_and_apply_renderings(sandbox: SandboxHandle, here: Path, runtime_for: Any) -> None:
    runtime = runtime_for(sandbox, here)
    plan = runtime.plan().plan
    check("plan.txt", text_report.render_plan(plan))
    check("plan.json", json_report.dumps(json_report.plan_document(plan)))
    result = runtime.apply(plan)
    check("apply.txt", text_report.render_apply(result))
    check("apply.json", json_report.dumps(json_report.apply_document(result)))
    again = runtime.plan().plan
    check("plan-empty.txt", text_report.render_plan(again))


def test_plan_with_problems_rendering(sandbox: SandboxHandle, here: Path, runtime_for: Any) -> None:
    (here / "problems.yaml").write_text(
        "users:\n  - email: ghost@example.com\n  - email: alex.kim@example.com\n"
        "  - email: breakglass.admin@example.com\n  - email: morgan.lee@example.com\n",
        encoding="utf-8",
    )
    runtime = runtime_for(sandbox, here)
    check("plan-problems.txt", text_report.render_plan(runtime.plan().plan))


@pytest.fixture
def still_sandbox() -> Iterator[SandboxHandle]:
    """Genesys's clock stopped a minute after FIXED_NOW: audit times in the rendering do not move."""
    org = Org.generate(200, wall=lambda: FIXED_NOW.timestamp() + 60)
    with Sandbox(org) as sb, httpx.Client(base_url=sb.base_url) as http:
        yield SandboxHandle(sb, http)


def test_drift_rendering(still_sandbox: SandboxHandle, here: Path, runtime_for: Any) -> None:
    runtime = runtime_for(still_sandbox, here)
    runtime.apply(runtime.plan().plan)
    still_sandbox.set_state(JANE, "active")  # an admin in the admin UI
    check("plan-drift.txt", text_report.render_plan(runtime.plan(targets=("jane.doe@example.com",)).plan))
