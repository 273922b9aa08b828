"""Validate a long ``users:`` list by the kinds of entry in it, not entry by entry.

Pure. A 100,000-entry file holds a handful of kinds of entry (an email and a
state; an id alone; ...) and 100,000 different addresses. The compiled schema
costs tens of microseconds an entry, mostly spent on the parts that are the
same for every entry of a kind, so:

* a property that no rule of the user schema looks at from outside (``email``,
  ``id``, ``effective``: each only has to be valid on its own) is checked on its
  own, all its values at once (a column), and then stands in the entry as the
  first valid value seen for it;
* the whole user schema then runs once per distinct entry that remains (same
  keys, same state, same stand-ins), which is a few times per file.

A column is checked by builtins that loop in C (``map(pattern.search, ...)``)
when its sub-schema is a text with a pattern and length bounds, or a list of
allowed texts; by the compiled sub-schema, value by value, otherwise. The
entries themselves are walked by ``map``, ``zip`` and ``set``, never by a loop
in Python: at 100,000 entries each pass costs what touching 100,000 mappings
costs, so there are as few passes as there are keys.

Which properties can stand in for each other is read from the schema itself:
any property named inside ``anyOf``, ``if`` and the like (beyond ``required``,
which only asks whether it is present) is compared as written. A schema keyword
this module does not know makes it give up and say "ask the full validator".
It never reports errors itself: ``users_valid`` is True (every entry is valid)
or False (schema.py walks the document with the full validators for messages).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import chain
from operator import itemgetter, methodcaller
from typing import Any

import fastjsonschema

__all__ = ["ColumnCheck", "Plan", "compile_plan", "plain_check", "users_valid"]

# User-schema keywords whose meaning this module understands (see above).
_KNOWN = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "required",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "description",
        "title",
        "$comment",
    }
)


def _named(schema: Any) -> Iterable[str]:
    """Property names a sub-schema looks at beyond their presence."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            if key != "required":
                yield from _named(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _named(item)


# A check of all the values one property takes in a list: True if every one is valid.
ColumnCheck = Callable[[list[Any]], bool]
Plan = tuple[dict[str, ColumnCheck], Callable[[Any], Any]]

_ABSENT = object()  # a key an entry does not have, among the values compared
_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples"})
# fastjsonschema's reading of "$" in a pattern: the true end of the text (see schema.py).
_DOLLAR = re.compile(r"(?<!\\)\$")


def plain_check(sub: Any, defs: dict[str, Any]) -> ColumnCheck | None:
    """A check of a column of values done by C-level builtins, equivalent to the compiled ``sub``.

    Only for the simple sub-schemas of a user's own properties: a text with length bounds
    and a pattern, or an enumeration of texts (a ``$ref`` to a ``$defs`` entry is followed).
    None for anything else; the caller then runs the compiled sub-schema on each value.
    A property test (tests/test_shapes.py) compares the verdicts with fastjsonschema's.
    """
    if not isinstance(sub, dict):
        return None
    rules = {k: v for k, v in sub.items() if k not in _ANNOTATIONS}
    ref = rules.pop("$ref", None)
    if ref is not None:
        target = defs.get(ref.removeprefix("#/$defs/")) if isinstance(ref, str) and ref.startswith("#/$defs/") else None
        if not isinstance(target, dict):
            return None
        referred = {k: v for k, v in target.items() if k not in _ANNOTATIONS}
        if "$ref" in referred or set(referred) & set(rules):
            return None
        rules.update(referred)
    if set(rules) == {"enum"}:
        allowed = rules["enum"]
        if not isinstance(allowed, list) or not all(type(v) is str for v in allowed):
            return None
        allowed_set = frozenset(allowed)
        return lambda values: allowed_set.issuperset(values)  # TypeError for unhashable values: caller says no
    if rules.get("type") != "string" or not set(rules) <= {"type", "minLength", "maxLength", "pattern"}:
        return None
    low, high, pattern = rules.get("minLength"), rules.get("maxLength"), rules.get("pattern")
    if any(bound is not None and type(bound) is not int for bound in (low, high)):
        return None
    if pattern is not None and not isinstance(pattern, str):
        return None
    try:
        search = re.compile(_DOLLAR.sub(r"\\Z", pattern)).search if pattern is not None else None
    except re.error:
        return None

    def check(values: list[Any]) -> bool:
        if not {str}.issuperset(map(type, values)):
            return False
        if low is not None and min(map(len, values)) < low:
            return False
        if high is not None and max(map(len, values)) > high:
            return False
        return search is None or all(map(search, values))

    return check


def _compiled_check(sub: dict[str, Any], defs: dict[str, Any]) -> ColumnCheck:
    """The compiled sub-schema, one value at a time (raises on the first invalid value)."""
    validate = fastjsonschema.compile({"$defs": defs, **sub}, use_default=False)

    def check(values: list[Any]) -> bool:
        for value in values:
            validate(value)
        return True

    return check


def compile_plan(root: dict[str, Any], document: Callable[[Any], Any]) -> Plan | None:
    """Checks for the user schema of ``root``; None if it uses a keyword we do not know.

    ``document`` is ``root`` compiled: an entry is checked whole as the one entry of a document
    (``{"users": [entry]}``), which spares compiling the user schema a second time. If ``root``
    ever asked more of a document than its users, that check would fail for every entry, and the
    caller would ask the full validator: slower, never wrong.
    """
    user = root.get("$defs", {}).get("user")
    if not isinstance(user, dict) or not set(user) <= _KNOWN or user.get("type") != "object":
        return None
    # The list itself must add nothing beyond "each item is a user" (no uniqueItems, maxItems...),
    # since the caller checks the document with an empty list and the items here.
    users = root.get("properties", {}).get("users", {})
    if set(users) - {"type", "items", "description", "title", "$comment"} or users.get("items") != {
        "$ref": "#/$defs/user"
    }:
        return None
    defs = root["$defs"]
    looked_at = set(_named({k: v for k, v in user.items() if k != "properties"}))
    standalone = {
        name: plain_check(sub, defs) or _compiled_check(sub, defs)
        for name, sub in user.get("properties", {}).items()
        if name not in looked_at and isinstance(sub, dict)
    }

    def whole(entry: Any) -> Any:
        return document({"users": [entry]})

    return standalone, whole


def users_valid(users: Any, plan: Plan | None) -> bool:
    """True only if every entry of ``users`` is valid against the user schema ``plan`` was compiled from."""
    if plan is None or not isinstance(users, list):
        return False
    standalone, whole = plan
    # No loop in Python over the entries: map, filter, zip and set walk them in C.
    if not {dict}.issuperset(map(type, users)):
        return False
    distinct = set(map(tuple, users))  # the key lists (in order) that entries have
    present = set(chain.from_iterable(distinct))
    compared = sorted(present - standalone.keys())
    stand_in: dict[str, Any] = {}
    try:
        for key in sorted(present & standalone.keys()):
            holders = (
                users if all(key in keys for keys in distinct) else filter(methodcaller("__contains__", key), users)
            )
            column = list(map(itemgetter(key), holders))
            if not standalone[key](column):
                return False
            stand_in[key] = column[0]
        # A kind of entry: its keys, and the values of the keys compared as written.
        if compared:
            getters = (map(methodcaller("get", key, _ABSENT), users) for key in compared)
            kinds = set(zip(map(tuple, users), *getters, strict=True))
        else:
            kinds = {(keys,) for keys in distinct}
        for keys, *values in kinds:
            written = dict(zip(compared, values, strict=True))
            whole({key: stand_in[key] if key in stand_in else written[key] for key in keys})
    except fastjsonschema.JsonSchemaValueException:
        return False
    except TypeError:  # an unhashable value (a list, a mapping) where values are compared: not the usual case
        return False
    return True
