"""Long user lists are validated by kind of entry (shapes.py): the verdict must be the full schema's.

Hypothesis builds lists of more than 100 entries from valid and invalid pieces
(addresses, ids, states, reasons, instants, unknown keys, wrong types) and
compares "no schema error" with the compiled full schema's verdict on the
whole document. A bad entry deep in a long file is still reported at its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired import load_desired
from reconciler.core.desired.schema import _fast, schema, schema_errors
from reconciler.core.desired.shapes import plain_check
from reconciler.errors import DesiredStateError

EMAILS = ["jane.doe@example.com", "Jane.Doe@Example.com", "not-an-address", "a@b", "", "x@example.com\n", 7]
IDS = ["6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0", "6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0", "123", None]
STATES = ["inactive", "active", "deleted", True, None]
REASONS = ["Left the company", "", "x" * 501, 5]
EFFECTIVE = ["2026-12-01T17:00:00Z", "2026-12-01", "2026-12-01T17:00:00", 20261201]
CODES = ["Voluntary", "Other"]


@st.composite
def entry(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from(["text", 5, None, ["a"]]))
    out: dict[str, Any] = {}
    for key, pool in (
        ("email", EMAILS),
        ("id", IDS),
        ("state", STATES),
        ("reason", REASONS),
        ("effective", EFFECTIVE),
        ("reason_code", CODES),
        ("bogus", [1]),
    ):
        if draw(st.integers(0, 4 if key in ("email", "id") else 12)) == 0 or (key == "email" and draw(st.booleans())):
            out[key] = draw(st.sampled_from(pool))
    return out


def full_verdict(doc: Any) -> bool:
    try:
        _fast()(doc)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(entry(), min_size=101, max_size=140), st.integers(0, 100))
def test_the_verdict_by_kind_of_entry_is_the_full_schemas(users: list[Any], valid_prefix: int) -> None:
    for i in range(min(valid_prefix, len(users))):  # mostly valid lists, as real files are
        users[i] = {"email": f"user.{i}@example.com"} if i % 2 else {"id": f"{i:08x}-0e9f-4a8b-b7c6-d5e4f3a2b1c0"}
    doc = {"users": users}
    assert (not list(schema_errors(doc))) == full_verdict(doc)


@st.composite
def valid_entry(draw: st.DrawFn) -> dict[str, Any]:
    """An entry as real files hold them, in any key order; "active" with a reason_code is the one
    combination the schema refuses across keys."""
    out: dict[str, Any] = {}
    which = draw(st.sampled_from(["email", "id", "both"]))
    n = draw(st.integers(0, 10**6))
    if which != "id":
        out["email"] = f"user.{n}@example.com"
    if which != "email":
        out["id"] = f"{n:08x}-0e9f-4a8b-b7c6-d5e4f3a2b1c0"
    for key, pool in (
        ("state", ["inactive", "active"]),
        ("reason", ["Left", "x" * 500]),
        ("ticket", ["HR-1"]),
        ("effective", ["2026-12-01T17:00:00Z"]),
        ("reason_code", ["Voluntary", "Leave"]),
    ):
        if draw(st.booleans()):
            out[key] = draw(st.sampled_from(pool))
    keys = draw(st.permutations(list(out)))
    return {key: out[key] for key in keys}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(valid_entry(), min_size=101, max_size=120),
    st.lists(st.tuples(st.integers(0, 100), entry()), max_size=2),
)
def test_the_verdict_on_mostly_valid_lists_is_the_full_schemas(users: list[Any], spoilt: list[tuple[int, Any]]) -> None:
    for at, bad in spoilt:
        users[at] = bad
    doc = {"users": users}
    assert (not list(schema_errors(doc))) == full_verdict(doc)


def test_a_bad_entry_deep_in_a_long_file_is_reported_at_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    lines = ["users:"] + [f"  - email: user.{i}@example.com" for i in range(300)]
    lines[251] = "  - email: not-an-address"  # entry 250, line 252
    (folder / "big.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(DesiredStateError) as caught:
        load_desired(folder)
    assert [(f.line, "not a valid email address" in f.message) for f in caught.value.findings] == [(252, True)]


# --- the plain column checks (shapes.plain_check) against the compiled sub-schemas --------------

DEFS: dict[str, Any] = schema()["$defs"]
USER_PROPERTIES: dict[str, Any] = DEFS["user"]["properties"]
CHECKED_ON_THEIR_OWN = ["email", "id", "reason", "ticket", "reason_code", "effective"]


def rules_of(sub: dict[str, Any]) -> dict[str, Any]:
    return {**DEFS[sub["$ref"].rsplit("/", 1)[1]], **sub} if "$ref" in sub else sub


def values_for(sub: dict[str, Any]) -> st.SearchStrategy[Any]:
    rules = rules_of(sub)
    texts: list[st.SearchStrategy[Any]] = [st.text(max_size=12), st.text(alphabet="aZ09@.-_:+ \n", max_size=40)]
    if "pattern" in rules:  # matches by re.search, so "$" also lets a final newline through
        like = st.from_regex(rules["pattern"])
        texts += [like, like.map(str.upper), like.map(lambda s: s + "\n"), like.map(lambda s: s[1:])]
    if "enum" in rules:
        texts += [st.sampled_from(rules["enum"]), st.sampled_from(rules["enum"]).map(str.lower)]
    for bound in (rules.get("minLength"), rules.get("maxLength")):
        if bound is not None:
            texts.append(st.integers(max(0, bound - 2), bound + 2).map(lambda n: "x" * n))
    if rules.get("maxLength") == 254:  # a long address around the limit
        texts.append(st.integers(238, 246).map(lambda n: "a" * n + "@example.com"))
    others = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.just(["a@b.co"]))
    return st.one_of(*texts, others)


def compiled_verdict(sub: dict[str, Any], values: list[Any]) -> bool:
    validate = fastjsonschema.compile({"$defs": DEFS, **sub}, use_default=False)
    try:
        for value in values:
            validate(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def plain_verdict(sub: dict[str, Any], values: list[Any]) -> bool:
    check = plain_check(sub, DEFS)
    assert check is not None
    try:
        return check(values)
    except TypeError:  # users_valid reads this as "not valid": the full check then runs
        return False


def test_each_property_checked_on_its_own_gets_a_plain_check() -> None:
    assert set(CHECKED_ON_THEIR_OWN) == set(USER_PROPERTIES) - {"state"}  # state is compared as written
    for name in CHECKED_ON_THEIR_OWN:
        assert plain_check(USER_PROPERTIES[name], DEFS) is not None, name


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), st.sampled_from(CHECKED_ON_THEIR_OWN))
def test_a_plain_check_gives_the_compiled_verdict(data: st.DataObject, name: str) -> None:
    sub = USER_PROPERTIES[name]
    values = data.draw(st.lists(values_for(sub), min_size=1, max_size=4))
    verdict = plain_verdict(sub, values)
    assert verdict == compiled_verdict(sub, values), values
    if verdict:  # never more lenient than jsonschema, which reports the errors
        validator = jsonschema.Draft202012Validator({"$defs": DEFS, **sub})
        assert all(validator.is_valid(v) for v in values)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from([r"^a$", r"^a\$b$", r"^(a|b$)", r"a$|^b", r"^a\\$", r"^(?:a$)?b"]),
    st.lists(st.text(alphabet="ab$\n", max_size=4), min_size=1, max_size=3),
)
def test_dollar_in_a_pattern_means_what_fastjsonschema_makes_it_mean(pattern: str, values: list[str]) -> None:
    sub = {"type": "string", "pattern": pattern}
    assert plain_verdict(sub, values) == compiled_verdict(sub, values)


@pytest.mark.parametrize(
    "sub",
    [
        {"type": "integer"},
        {"type": "string", "format": "email"},
        {"$ref": "#/$defs/email", "pattern": "^x$"},  # a keyword twice: left to the compiled check
        {"$ref": "#/$defs/nowhere"},
        {"$ref": "https://example.invalid/schema"},
        {"enum": ["a", 1]},
        {"type": "string", "maxLength": 2.5},
        {"type": ["string", "null"]},
    ],
)
def test_what_a_plain_check_does_not_know_is_left_to_the_compiled_schema(sub: dict[str, Any]) -> None:
    assert plain_check(sub, DEFS) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("reason", "x" * 500),
        ("reason", "x" * 501),
        ("reason", ""),
        ("ticket", "x" * 100),
        ("ticket", "x" * 101),
        ("email", "a" * 242 + "@example.com"),  # 254 characters, the most an address may have
        ("email", "a" * 243 + "@example.com"),
        ("email", "a@example.com\n"),
        ("id", "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0\n"),
        ("effective", "2026-12-01T17:00:00Z\n"),
        ("reason_code", "leave"),
        ("reason_code", "Leave"),
    ],
    ids=lambda v: repr(v) if len(v) < 40 else f"{len(v)}-chars",
)
def test_a_plain_check_gives_the_compiled_verdict_at_the_edges(name: str, value: str) -> None:
    sub = USER_PROPERTIES[name]
    values = [value]
    assert plain_verdict(sub, values) == compiled_verdict(sub, values)
