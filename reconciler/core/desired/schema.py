"""Stage 1c: validate one parsed file against ``schemas/desired-state.schema.json``.

Pure (the schema file is read once). The JSON Schema is the single source of
truth for the format; this module only turns jsonschema's findings into short
messages a reviewer can act on, located by line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from reconciler.core.desired import shapes

if TYPE_CHECKING:  # jsonschema is loaded only to explain an invalid file (it costs 0.2 s to import)
    import jsonschema
    from jsonschema.exceptions import ValidationError

__all__ = ["SCHEMA_NAME", "schema", "schema_errors"]

SCHEMA_NAME = "desired-state.schema.json"


@cache
def schema() -> dict[str, Any]:
    """The schema, from the installed package, or from ``schemas/`` in a source checkout."""
    packaged = resources.files("reconciler").joinpath("schemas").joinpath(SCHEMA_NAME)
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    else:
        text = (Path(__file__).resolve().parents[3] / "schemas" / SCHEMA_NAME).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def _describe(path: Sequence[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out or "file"


def _message(error: ValidationError) -> str:
    path = list(error.absolute_path)
    field = path[-1] if path else None
    where = _describe(path)
    validator = error.validator
    expected: Any = error.validator_value
    value: Any = error.instance
    sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties":
        allowed = ", ".join(sub.get("properties", {}))
        extra = sorted(set(value) - set(sub.get("properties", {})))
        keys = ", ".join(repr(k) for k in extra)
        return f"{where}: unknown key {keys} (allowed: {allowed})"
    if validator == "not" and isinstance(value, dict) and "reason_code" in value:
        return f"{where}: a reactivation (state: active) takes no reason_code"
    if validator == "minProperties":
        return "file declares nothing: expected a 'users:' list or a 'policy:' mapping"
    if validator == "anyOf" and isinstance(value, dict):
        return f"{where}: an entry needs an 'email' or an 'id'"
    if validator == "anyOf":
        return f"{where}: {value!r} is neither an email address nor a Genesys user id"
    if validator == "pattern" and field == "email":
        return f"{where}: {value!r} is not a valid email address"
    if validator == "pattern" and field == "id":
        return f"{where}: {value!r} is not a Genesys user id (a lower-case UUID)"
    if validator == "pattern" and field == "effective":
        return f"{where}: {value!r} is not an ISO 8601 instant with a time zone (e.g. 2026-12-01T17:00:00Z)"
    if validator == "pattern" and field == "window":
        return f"{where}: {value!r} is not a window: minutes, hours or days, e.g. 90m, 24h, 7d"
    if validator == "enum":
        options = ", ".join(str(o) for o in expected)
        hint = " (YAML reads unquoted yes/no/on/off as true/false: quote the value)" if isinstance(value, bool) else ""
        return f"{where}: {value!r} is not one of: {options}{hint}"
    if validator == "type":
        return (
            f"{where}: expected {expected if isinstance(expected, str) else ' or '.join(expected)}, got {_kind(value)}"
        )
    if validator == "uniqueItems":
        return f"{where}: lists the same value twice"
    return f"{where}: {error.message}"


@cache
def _fast() -> Callable[[Any], Any]:
    # use_default=False: validation must never write defaults into the data it checks.
    validate: Callable[[Any], Any] = fastjsonschema.compile(copy.deepcopy(schema()), use_default=False)
    return validate


@cache
def _shapes() -> shapes.Plan | None:
    return shapes.compile_plan(copy.deepcopy(schema()), _fast())


def _path_of(fast_error: fastjsonschema.JsonSchemaValueException) -> list[str | int]:
    """fastjsonschema's path ('data', 'users', '0', 'email') as ours (['users', 0, 'email'])."""
    return [int(p) if isinstance(p, str) and p.isdigit() else p for p in (fast_error.path or [])[1:]]


def schema_errors(data: Any) -> Iterator[tuple[list[str | int], str]]:
    """(path, message) for each schema violation, in document order.

    Two engines read the same schema: fastjsonschema (compiled, ~20x faster)
    decides whether a document is valid; only when it is not does jsonschema
    walk it to report every violation with a readable message. Where the two
    differ, the stricter answer wins (fastjsonschema anchors patterns at the
    true end of the text, so ``"a@b.co\\n"`` is not an email).
    """
    if data is None:
        yield [], "file is empty: expected a 'users:' list or a 'policy:' mapping"
        return
    users = data.get("users") if isinstance(data, dict) else None
    if isinstance(users, list) and len(users) > 100:  # long lists: one full check per kind of entry
        try:
            _fast()({**data, "users": []})
            if shapes.users_valid(users, _shapes()):
                return
        except fastjsonschema.JsonSchemaValueException:
            pass  # the full walk below reports it
    try:
        _fast()(data)
        return
    except fastjsonschema.JsonSchemaValueException as fast_error:
        first = fast_error
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:  # only the stricter engine objects: a value that merely looks valid to jsonschema
        path = _path_of(first)
        field = path[-1] if path else None
        kind = {
            "email": "a valid email address",
            "id": "a Genesys user id (a lower-case UUID)",
            "effective": "an ISO 8601 instant with a time zone",
        }.get(str(field), f"valid ({first.rule})")
        yield path, f"{_describe(path)}: {first.value!r} is not {kind}"
        return
    for error in errors:
        yield list(error.absolute_path), _message(error)
