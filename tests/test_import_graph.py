"""The import graph: no module of ``reconciler`` imports itself back through others; the sandbox stays small.

grimp (import-linter's graph builder) reads every import statement, those
inside functions and under ``TYPE_CHECKING`` included, so a cycle cannot hide
behind a late import.
"""

from __future__ import annotations

import grimp

from tests.conftest import ROOT

MAX_MODULE_LINES = 400


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle per strongly connected group of modules, each as [a, b, ..., a]; [] when acyclic."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(root: str) -> None:
        # Tarjan's algorithm, iterative: the package is deep enough to make recursion a worry.
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt)))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    cycles = []
    for group in sorted(groups):
        start = group[0]
        back = min(
            (
                graph.find_shortest_chain(importer=nxt, imported=start)
                for nxt in graph.find_modules_directly_imported_by(start)
                if nxt in group
            ),
            key=lambda chain: len(chain or ()),
        )
        cycles.append([start, *(back or ())])
    return cycles


def test_the_cycle_finder_finds_a_cycle_and_prints_it() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.x", "p.y")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]
    graph.remove_import(importer="p.c", imported="p.a")
    assert import_cycles(graph) == []


def test_no_import_cycle_in_the_package() -> None:
    graph = grimp.build_graph("reconciler", cache_dir=None)
    assert len(graph.modules) > 40  # the walk really read the package
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_sandbox_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "reconciler" / "sandbox").rglob("*.py")
    }
    assert len(sizes) >= 10
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}
