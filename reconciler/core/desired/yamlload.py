"""Stage 1b: YAML text -> plain Python data, keeping the node tree for line numbers.

Pure. Only PyYAML's safe composer is used (never ``yaml.load``), so no tag can
build an arbitrary object. On top of safe loading, three things YAML allows are
refused because they hurt a reviewed declaration:

* aliases of lists and mappings: they hide what a reviewer sees, and an alias
  bomb (the "billion laughs") would expand exponentially;
* duplicate keys: PyYAML silently keeps the last one;
* deep nesting: the format is three levels deep; a hostile file could be
  thousands.

Timestamps stay strings: the schema validates ``effective`` as text, and the
planner parses it (YAML 1.1 would otherwise turn it into a naive datetime).

Big files are read by fastyaml.py when they keep to plain block YAML (they
almost always do); the node tree is then composed only if an error needs a
line the fast reader did not keep.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.core.desired.fastyaml import FastYaml, fast_load
from reconciler.errors import Finding

if TYPE_CHECKING:
    from yaml.nodes import Node

# PyYAML is imported where it is used: a file the fast reader reads whole never needs it, and
# importing it (its reader and resolver compile their regular expressions) was a quarter of a
# small `validate`.

__all__ = ["LoadedYaml", "YamlProblem", "full_load", "item_lines", "line_at", "load_yaml"]


@cache
def _loader() -> type:
    import yaml

    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def _compose(text: str) -> Node | None:
    import yaml

    root: Node | None = yaml.compose(text, Loader=_loader())
    return root


_MAX_DEPTH = 16
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)

    def finding(self, path: str) -> Finding:
        return Finding(path, self.line, self.message)


class LoadedYaml:
    """A parsed document and the lines of its parts (for sources and error messages)."""

    __slots__ = ("_fast", "_root", "_text", "data")

    def __init__(self, data: Any, root: Node | None, *, fast: FastYaml | None = None, text: str = "") -> None:
        self.data = data
        self._root = root
        self._fast = fast
        self._text = text

    @property
    def root(self) -> Node | None:
        """The node tree; composed on first use when the fast reader read the text."""
        if self._root is None and self._fast is not None:
            self._root = _compose(self._text)
        return self._root

    def item_lines(self, key: str) -> list[int]:
        """The line of each item of the top-level list under ``key``."""
        if self._fast is not None:
            return self._fast.item_lines.get(key, [])
        return item_lines(self._root, key)

    def line_at(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest node that ``path`` reaches."""
        fast = self._fast
        if fast is not None and path and isinstance(path[0], str) and path[0] in fast.key_lines:
            if len(path) == 1:
                return fast.key_lines[path[0]]
            items = fast.item_lines.get(path[0], [])
            if len(path) == 2 and isinstance(path[1], int) and path[1] < len(items):
                return items[path[1]]
        return line_at(self.root, path)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Converter:
    def __init__(self) -> None:
        # Imported here, once per file: convert() runs once per node, and an import statement
        # there cost 2.4 µs a node (a 100,000-entry file read by PyYAML went from 0.5 s to 2.5 s).
        import yaml
        from yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self._seen: set[int] = set()
        self._scalars = yaml.constructor.SafeConstructor()
        self._yaml_error = yaml.YAMLError
        self._mapping, self._scalar, self._sequence = MappingNode, ScalarNode, SequenceNode

    def convert(self, node: Node, depth: int = 0) -> Any:
        if not isinstance(node, self._scalar):
            # Only lists and mappings can be expanded exponentially; a shared
            # node means an alias (the composer reuses the anchored node).
            if id(node) in self._seen:
                raise YamlProblem(
                    _line(node),
                    "YAML aliases of lists or mappings are not allowed in "
                    "desired-state files: write each entry out so "
                    "reviewers see it",
                )
            self._seen.add(id(node))
        if depth > _MAX_DEPTH:
            raise YamlProblem(_line(node), f"nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, self._scalar):
            if node.tag in (_STR, _TIMESTAMP):  # most values: no constructor needed
                return node.value
            if node.tag == _MERGE:
                raise YamlProblem(_line(node), "YAML merge keys (<<) are not allowed: write each key out")
            try:
                return self._scalars.construct_object(node, deep=True)
            except self._yaml_error:
                raise YamlProblem(_line(node), f"unsupported YAML tag {node.tag}") from None
            except (ValueError, KeyError, IndexError):
                # PyYAML's constructors trust the text to fit its tag: "!!int ''", "!!bool maybe",
                # or a number past int()'s 4,300 digits raise plain Python errors, not YAML ones.
                raise YamlProblem(_line(node), _unreadable(node.value, node.tag)) from None
        if node.tag not in (_SEQ, _MAP):
            raise YamlProblem(_line(node), f"unsupported YAML tag {node.tag}")
        if isinstance(node, self._sequence):
            return [self.convert(item, depth + 1) for item in node.value]
        if isinstance(node, self._mapping):
            result: dict[Any, Any] = {}
            first_line: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = self.convert(key_node, depth + 1)
                if not isinstance(key, str):
                    raise YamlProblem(_line(key_node), f"keys must be text, got {key!r}")
                if key in result:
                    raise YamlProblem(_line(key_node), f"duplicate key {key!r} (first at line {first_line[key]})")
                first_line[key] = _line(key_node)
                result[key] = self.convert(value_node, depth + 1)
            return result
        raise YamlProblem(_line(node), f"unsupported YAML node {type(node).__name__}")


def _unreadable(value: str, tag: str) -> str:
    digits = sum(c.isdigit() for c in value)
    if digits > sys.get_int_max_str_digits():
        return f"a number of {digits} digits: more than a desired-state file can hold"
    shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"
    return f"{shown} cannot be read as !!{tag.rsplit(':', 1)[-1]}"


def load_yaml(text: str) -> LoadedYaml:
    """Parse one YAML document safely. Raises YamlProblem with a 1-based line."""
    fast = fast_load(text)
    if fast is not None:
        return LoadedYaml(fast.data, None, fast=fast, text=text)
    return full_load(text)


def full_load(text: str) -> LoadedYaml:
    """The full safe loader (PyYAML's composer), for any YAML. Raises YamlProblem with a 1-based line."""
    import yaml

    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(line, f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        if not isinstance(exc.character, int):
            raise YamlProblem(None, f"invalid YAML: {exc.reason}") from None
        # A character YAML refuses (a control character, U+FFFE). Its position counts bytes in
        # libyaml and characters in PyYAML's reader; the first such character is the one found.
        at = text.find(chr(exc.character))
        line = text.count("\n", 0, at) + 1 if at >= 0 else None
        raise YamlProblem(line, f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"invalid YAML: {exc}") from None
    if root is None:
        return LoadedYaml(None, None)
    return LoadedYaml(_Converter().convert(root), root)


def item_lines(root: Node | None, key: str) -> list[int]:
    """The line of each item of the top-level list under ``key`` (one pass, for big files)."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if not isinstance(root, MappingNode):
        return []
    for key_node, value_node in root.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key and isinstance(value_node, SequenceNode):
            return [_line(item) for item in value_node.value]
    return []


def line_at(root: Node | None, path: Sequence[str | int]) -> int | None:
    """The line of the deepest node that ``path`` reaches (keys point at the key's line)."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if root is None:
        return None
    node: Node = root
    line = _line(node)
    for step in path:
        if isinstance(node, MappingNode) and isinstance(step, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == step:
                    line, node = _line(key_node), value_node
                    break
            else:
                return line
        elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = _line(node)
        else:
            return line
    return line
