"""Validate a long ``users:`` list by the kinds of entry in it, not entry by entry.

Pure. A 100,000-entry file holds a handful of kinds of entry (an email and a
state; an id alone; ...) and 100,000 different addresses. The compiled schema
costs tens of microseconds an entry, mostly spent on the parts that are the
same for every entry of a kind, so:

* a property that no rule of the user schema looks at from outside (``email``,
  ``id``, ``effective``: each only has to be valid on its own) is checked on its
  own by its own compiled sub-schema, and then stands in the entry as the first
  valid value seen for it;
* the whole user schema then runs once per distinct entry that remains (same
  keys, same state, same stand-ins), which is a few times per file.

Which properties can stand in for each other is read from the schema itself:
any property named inside ``anyOf``, ``if`` and the like (beyond ``required``,
which only asks whether it is present) is compared as written. A schema keyword
this module does not know makes it give up and say "ask the full validator".
It never reports errors itself: ``users_valid`` is True (every entry is valid)
or False (schema.py walks the document with the full validators for messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import fastjsonschema

__all__ = ["Plan", "compile_plan", "users_valid"]

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


Plan = tuple[dict[str, Callable[[Any], Any]], Callable[[Any], Any]]


def compile_plan(root: dict[str, Any]) -> Plan | None:
    """Compiled checks for the user schema of ``root``; None if it uses a keyword we do not know."""
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
        name: fastjsonschema.compile({"$defs": defs, **sub}, use_default=False)
        for name, sub in user.get("properties", {}).items()
        if name not in looked_at and isinstance(sub, dict)
    }
    whole: Callable[[Any], Any] = fastjsonschema.compile({"$defs": defs, **user}, use_default=False)
    return standalone, whole


def users_valid(users: Any, plan: Plan | None) -> bool:
    """True only if every entry of ``users`` is valid against the user schema ``plan`` was compiled from."""
    if plan is None or not isinstance(users, list):
        return False
    standalone, whole = plan
    stand_in: dict[str, Any] = {}
    checked: set[tuple[tuple[str, Any], ...]] = set()
    try:
        for raw in users:
            if type(raw) is not dict:
                return False
            kind = []
            for key, value in raw.items():
                check = standalone.get(key)
                if check is None:
                    kind.append((key, value))
                    continue
                check(value)
                kind.append((key, stand_in.setdefault(key, value)))
            shape = tuple(kind)
            if shape not in checked:
                whole(dict(shape))
                checked.add(shape)
    except fastjsonschema.JsonSchemaValueException:
        return False
    except TypeError:  # an unhashable value (a list, a mapping) in a kind: not the usual case
        return False
    return True
