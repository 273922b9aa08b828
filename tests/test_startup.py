"""Start-up imports only what the verb needs: `--help` and `validate` never load httpx or jsonschema.

Start-up is most of the CPU of a small run (issue 13: `reconciler --help` and a
small `validate` within 0.15 s). The time is measured in benchmarks/; here a
real process reports which modules it loaded, which cannot be flaky.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import VERBS, build_parser
from tests.conftest import ROOT, SHIPPED_DESIRED

HEAVY = ("httpx", "tenacity", "jsonschema", "rich", "apscheduler", "prometheus_client", "reconciler.genesys")


def loaded_by(*argv: str) -> set[str]:
    code = (
        "import json, sys\n"
        "from reconciler.cli.main import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.flush()\n"
        "print('\\nMODULES ' + json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


@pytest.mark.parametrize("argv", [("--help",), ("validate", str(SHIPPED_DESIRED)), ("plan", "--help")])
def test_light_verbs_load_no_http_stack(argv: tuple[str, ...]) -> None:
    modules = loaded_by(*argv)
    assert not sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("reconciler.genesys")), argv


def test_help_loads_nothing_of_the_pipeline() -> None:
    """`reconciler --help` needs argparse and the verb table: no reader, model, planner or logging set-up."""
    modules = loaded_by("--help")
    ours = sorted(m for m in modules if m.startswith("reconciler."))
    assert ours == ["reconciler.cli", "reconciler.cli.main"]
    assert "yaml" not in modules and "logging" not in modules


def test_validate_loads_no_planner_or_renderer() -> None:
    modules = loaded_by("validate", str(SHIPPED_DESIRED))
    assert not {"reconciler.core.plan", "reconciler.core.report.text", "reconciler.engine"} & modules


@pytest.mark.parametrize("argv", [("--help",), ("validate", str(SHIPPED_DESIRED))])
def test_argparse_and_file_writing_do_not_pull_in_shutil(argv: tuple[str, ...]) -> None:
    """argparse asks shutil for the width once per argument and tempfile is only for writing files:
    together they cost a few percent of a small validate (bz2, lzma, random...)."""
    modules = loaded_by(*argv)
    assert not {"shutil", "tempfile", "bz2", "random"} & modules, argv


@pytest.mark.parametrize("columns", ["57", "120", "", "zero"])
def test_the_help_is_laid_out_as_argparse_would_lay_it_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    from reconciler.cli import main as cli_main

    def help_text(verb: str) -> str:
        with pytest.raises(SystemExit):
            build_parser(verb).parse_args([verb, "--help"])
        return capsys.readouterr().out

    def no_terminal(fd: int = 1) -> os.terminal_size:
        raise OSError("not a terminal")  # as under CI; `pytest -s` in a terminal would give its width

    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    monkeypatch.setattr(cli_main, "_columns", None)
    ours = help_text("plan")
    monkeypatch.setattr(cli_main, "_Formatter", argparse.HelpFormatter)
    assert ours == help_text("plan")
    assert cli_main._columns == (int(columns) if columns.isdigit() else 80)


@pytest.mark.parametrize(
    ("argv", "collector"),
    [(("validate",), False), (("plan", "--help"), False), (("apply", "--help"), True), (("run", "--help"), True)],
)
def test_one_shot_verbs_with_bounded_garbage_run_without_the_cyclic_collector(
    argv: tuple[str, ...], collector: bool
) -> None:
    """The entry point (console script and python -m) pauses the collector for verbs whose garbage is
    bounded; apply (cycles per write) and the long-running verbs keep it."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'COLLECTOR {gc.isenabled()}\\n'))\n"
        f"sys.argv = ['reconciler', *{list(argv)!r}, *sys.argv[1:]]\n"
        "from reconciler.cli.main import entry\n"
        "sys.exit(entry())\n"
    )
    extra = [str(SHIPPED_DESIRED)] if argv == ("validate",) else []
    proc = subprocess.run(
        [sys.executable, "-c", code, *extra], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert f"COLLECTOR {collector}" in proc.stderr, proc.stderr


def test_python_m_and_the_console_script_go_through_the_entry_point() -> None:
    assert "entry()" in (ROOT / "reconciler" / "__main__.py").read_text()
    assert 'reconciler = "reconciler.cli.main:entry"' in (ROOT / "pyproject.toml").read_text()


def test_validate_of_an_invalid_file_still_explains_it(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "bad.yaml").write_text("users:\n  - email: not-an-address\n")
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "bad.yaml:2" in proc.stderr and "not a valid email address" in proc.stderr


def test_the_verb_table_matches_each_verbs_own_help() -> None:
    parser = build_parser()  # every verb module, in full
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    assert helps == dict(VERBS)


def test_planning_loads_neither_apply_nor_uuid() -> None:
    """What a plan imports is part of its cost (issue 13): apply's machinery and uuid (which
    compiles platform's regular expressions) are loaded only by the verbs that use them."""
    code = (
        "import json, sys\n"
        "import reconciler.cli.plan, reconciler.engine, reconciler.core.report.jsondoc\n"
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    modules = set(json.loads(proc.stdout))
    assert not {"reconciler.genesys.apply", "reconciler.core.saved", "uuid", "platform", "click", "rich"} & modules
