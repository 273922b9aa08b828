"""doctor's write probes are the only writes outside plan -> apply, and they can never name a real user."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

from reconciler.genesys import probes
from reconciler.genesys.probes import NIL_USER, PROBE_VERSION
from tests.conftest import ROOT, SandboxHandle

PACKAGE = ROOT / "reconciler"
WRITE_VERBS = {"PATCH", "PUT", "DELETE"}


def client_write_methods() -> set[str]:
    """GenesysClient's methods that send a write (found in its source, so a new one is covered too)."""
    tree = ast.parse((PACKAGE / "genesys" / "client.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GenesysClient"]
    found = set()
    for method in cls.body:
        if isinstance(method, ast.FunctionDef):
            literals = {n.value for n in ast.walk(method) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            if literals & WRITE_VERBS:
                found.add(method.name)
    return found


def calls_to(names: set[str], path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in names
    ]


def test_only_apply_and_the_probes_send_writes() -> None:
    writes = client_write_methods()
    assert {"set_state", "revoke_tokens"} <= writes
    senders = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts and path.name != "client.py" and calls_to(writes, path)
    }
    assert senders == {"genesys/apply.py", "genesys/probes.py"}


def test_every_probe_addresses_the_nil_user_and_takes_no_user() -> None:
    path = PACKAGE / "genesys" / "probes.py"
    calls = calls_to(client_write_methods(), path)
    assert len(calls) == 2
    for call in calls:
        first = call.args[0]
        assert isinstance(first, ast.Name) and first.id == "NIL_USER"
    for name in probes.__all__:
        func = getattr(probes, name)
        if callable(func):
            assert list(func.__code__.co_varnames[: func.__code__.co_argcount]) == ["client"]


def test_the_nil_user_cannot_be_a_genesys_user() -> None:
    nil = uuid.UUID(NIL_USER)
    assert nil.int == 0 and nil.version is None  # Genesys ids are version-4 UUIDs
    assert PROBE_VERSION < 1  # user versions start at 1: even that id would refuse the PATCH


def test_doctor_writes_only_to_the_nil_user(cli: Any, sandbox: SandboxHandle) -> None:
    before = sandbox.snapshot()
    assert cli("doctor", env=sandbox.env).code == 0
    writes = sandbox.writes()
    assert sorted((w["method"], w["path"]) for w in writes) == [
        ("DELETE", f"/api/v2/tokens/{NIL_USER}"),
        ("PATCH", f"/api/v2/users/{NIL_USER}"),
    ]
    assert sandbox.snapshot() == before
