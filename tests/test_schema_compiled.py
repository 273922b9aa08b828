"""The shipped schema validator is fastjsonschema's for the shipped schema, and judges as it does.

core/desired/schema_compiled.py is generated (compiling the schema at start-up
cost 0.04 s of a 0.2 s `validate`). Regenerate it after editing the schema:

    UPDATE_GENERATED=1 .venv/bin/python -m pytest -q tests/test_schema_compiled.py
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.desired import schema as schema_module
from reconciler.core.desired import schema_compiled

GENERATED = Path(schema_compiled.__file__)


def test_the_shipped_validator_was_generated_from_the_shipped_schema() -> None:
    if os.environ.get("UPDATE_GENERATED"):
        GENERATED.write_text(schema_module.compiled_source(), encoding="utf-8")
    digest = hashlib.sha256(schema_module.schema_text().encode("utf-8")).hexdigest()
    assert digest == schema_compiled.SCHEMA_SHA256, "the schema changed: regenerate (see this module's docstring)"
    assert schema_module._fast() is schema_compiled.validate


def test_an_edited_schema_is_never_checked_by_the_stale_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    schema_module._fast.cache_clear()
    monkeypatch.setattr(schema_compiled, "SCHEMA_SHA256", "0" * 64)
    try:
        assert schema_module._fast() is not schema_compiled.validate
    finally:
        schema_module._fast.cache_clear()


_FRESH = fastjsonschema.compile(copy.deepcopy(schema_module.schema()), use_default=False)
_ADDRESS = st.sampled_from(["a@example.com", "A.B@example.co.uk", "not-an-address", "a@b", "", "x@y.z\n"])
_ID = st.sampled_from(["6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0", "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0", "x", ""])
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 200), st.text(max_size=12), _ADDRESS, _ID)
_KEYS = st.sampled_from(
    ["email", "id", "state", "reason", "ticket", "effective", "reason_code", "name", "extra", "max_changes"]
)
_USER = st.dictionaries(_KEYS, st.one_of(_VALUE, _ADDRESS, _ID), max_size=4)
_POLICY = st.dictionaries(
    st.sampled_from(["max_changes", "max_changes_percent", "protected", "default_reason_code", "flapping", "x"]),
    st.one_of(_VALUE, st.lists(_ADDRESS, max_size=2)),
    max_size=3,
)
_DOC = st.one_of(
    st.fixed_dictionaries({}, optional={"users": st.lists(_USER, max_size=3), "policy": _POLICY}),
    _VALUE,
    st.lists(_VALUE, max_size=2),
)


def _verdict(check: Any, doc: Any) -> tuple[bool, str | None]:
    try:
        check(copy.deepcopy(doc))
    except fastjsonschema.JsonSchemaValueException as exc:
        return False, exc.message
    return True, None


@settings(max_examples=300)
@given(_DOC)
def test_the_shipped_validator_judges_every_document_as_a_fresh_compile_does(doc: Any) -> None:
    assert _verdict(schema_compiled.validate, doc) == _verdict(_FRESH, doc)


# What YAML can make of a value, for every property: numbers of every kind (5.0, NaN, infinities,
# huge), the allowed words in other cases, addresses and ids with a final newline, lists and maps.
_ANY = st.one_of(
    _VALUE,
    st.floats(),
    st.sampled_from([5.0, 100.0, 1e-300, 10**30, "active", "Active", "inactive", "warn", "Leave", "24h", "0h"]),
    st.sampled_from(["7d ", "2026-12-01T17:00:00Z", "2026-12-01T17:00:00Z\n", "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0 "]),
    st.lists(st.one_of(_ADDRESS, _ID, st.integers(0, 1), st.booleans()), max_size=3),
    st.dictionaries(st.sampled_from(["window", "max_corrections", "x"]), _VALUE, max_size=2),
)
_RICH_USER = st.dictionaries(_KEYS, _ANY, max_size=4)
_RICH_DOC = st.fixed_dictionaries(
    {},
    optional={
        "users": st.one_of(st.lists(st.one_of(_RICH_USER, _ANY), max_size=3), _ANY),
        "policy": st.one_of(
            st.dictionaries(
                st.sampled_from(["max_changes", "max_changes_percent", "protected", "missing_users", "flapping", "x"]),
                _ANY,
                max_size=3,
            ),
            _ANY,
        ),
    },
)


@settings(max_examples=600)
@given(_RICH_DOC)
def test_the_shipped_validator_never_accepts_what_jsonschema_refuses(doc: Any) -> None:
    """schema.py trusts the compiled validator's "valid" and asks jsonschema only to explain a refusal:
    a document only fastjsonschema accepted would be loaded with no error at all."""
    if _verdict(schema_compiled.validate, doc)[0]:
        assert jsonschema.Draft202012Validator(schema_module.schema()).is_valid(doc), doc
