"""Project contracts: the README's two commands, CI running the same test command, the public surface."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys

import pytest

import reconciler
from reconciler import errors
from reconciler.cli.main import build_parser
from tests.conftest import ROOT


def quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("## Quickstart") < text.index("```")
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands() -> None:
    demo, tests = quickstart()
    assert demo.endswith("reconciler demo") and "pip install" in demo
    assert "[test]" in tests and "pytest" in tests


def test_ci_runs_the_readmes_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    _, tests = quickstart()
    assert f'TEST_COMMAND="{tests}"' in script
    assert f"\n{tests}\n" in script  # run as written, not only compared
    assert all(tool in script for tool in ("ruff check", "ruff format --check", "mypy", "lint-imports"))


def readme_commands(text: str) -> list[list[str]]:
    """Every `reconciler ...` command in the README's shell blocks (continued lines joined)."""
    found: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for match in re.finditer(r"(?:^|&&\s*)(?:\.venv/bin/)?reconciler ([^#&\n]+)", line.strip()):
                found.append(shlex.split(match.group(1)))
    return found


def test_every_command_the_readme_shows_parses() -> None:
    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    # A pattern that silently matched nothing would pass vacuously: the README shows at least these.
    verbs = {argv[0] for argv in commands}
    assert {"demo", "sandbox", "plan", "apply", "run"} <= verbs, verbs
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README: `reconciler {shlex.join(argv)}` is rejected by the CLI")


def test_the_readme_command_finder_finds_nothing_in_prose() -> None:
    assert readme_commands("reconciler plan is mentioned here, outside any shell block") == []
    assert readme_commands("```sh\nx && .venv/bin/reconciler demo\nreconciler run d \\\n  --once\n```") == [
        ["demo"],
        ["run", "d", "--once"],
    ]


def test_error_tree_surface_is_pinned() -> None:
    assert sorted(errors.__all__) == sorted(
        [
            "ApiError",
            "AuthError",
            "BadRequest",
            "ConfigError",
            "DesiredStateError",
            "Finding",
            "Forbidden",
            "InputError",
            "LedgerError",
            "NetworkError",
            "NotFound",
            "PermanentError",
            "PlanRefused",
            "RateLimited",
            "ReconcilerError",
            "ServerError",
            "StalePlan",
            "TransientError",
            "UnexpectedResponse",
            "Unreachable",
            "VersionConflict",
        ]
    )
    for name in errors.__all__:
        kind = getattr(errors, name)
        if isinstance(kind, type) and name != "Finding":
            assert issubclass(kind, errors.ReconcilerError)
    assert issubclass(errors.RateLimited, errors.TransientError)
    assert issubclass(errors.VersionConflict, errors.PermanentError)


def test_version_is_single_sourced() -> None:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "grep", "-n", reconciler.__version__, "--", "*.toml"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert out == ""  # pyproject reads the version from reconciler/__init__.py


def test_pure_core_imports_no_http() -> None:
    """Importing every module of the pure core (in a fresh interpreter) loads neither httpx nor any
    effectful part of reconciler: the folder is the contract, so a new module is covered without a list."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import reconciler.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'reconciler.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "effectful = ('reconciler.genesys', 'reconciler.sandbox', 'reconciler.cli', 'reconciler.service',\n"
        "             'reconciler.engine', 'reconciler.ledger')\n"
        "print(sorted(m for m in sys.modules if m == 'httpx' or m.startswith(effectful)))\n"
        "print(len([m for m in sys.modules if m.startswith('reconciler.core.')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, count = out.strip().splitlines()
    assert loaded == "[]"
    assert int(count) >= 15  # the walk really imported the core


def test_every_module_opens_with_a_docstring() -> None:
    """Each module says what it holds (and, for the core, what it must never do)."""
    undocumented = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "reconciler").rglob("*.py"))
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert undocumented == []


# A module past ~400 lines is asking to be split (STYLE.md). An exception names its reason here.
LONG_MODULES: dict[str, str] = {}


def test_no_module_is_over_400_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): n
        for path in sorted((ROOT / "reconciler").rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert {k: v for k, v in long.items() if k not in LONG_MODULES} == {}
