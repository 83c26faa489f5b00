"""The package's imports run one way: no circle, and no arrow from a room to a later room or the top.

Read from the source (``python/itk_tag``) with :mod:`ast`, so every ``import``
counts: at the top of a module, inside a function (imported on first use) and
under ``TYPE_CHECKING``. Names loaded by ``importlib.import_module`` (the lazy
names of a package ``__init__``) are not imports here: they run from a
package's ``__init__`` to its own room or below. The floors, lowest first
(docs/architecture.md):

* ``format/`` -- imports nothing outside ``format/`` (the Slicer module copies
  the folder alone); ``errors.py`` -- the exceptions, imports nothing of the package;
* ``hosts/``; ``batch/``;
* the top: ``__init__.py``, then ``cli.py``, then ``__main__.py``.

``slicer_module/`` is apart: Slicer loads it by path, and it imports nothing of
the package by name.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "itk_tag"

FLOORS = {"format": 0, "errors": 0, "hosts": 1, "batch": 2, "__init__": 3, "cli": 4, "__main__": 5}
"""The floor of each room and top-level module (by the first part of its name after ``itk_tag``)."""

APART = "slicer_module"


class Arrow(NamedTuple):
    """``source`` imports ``target`` (module names) at ``line`` of ``source``'s file."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package: dotted name (a package by its own name) -> file."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = ("itk_tag", *path.relative_to(package).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module that ``import name`` loads last: ``name`` itself, else its longest known prefix."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def arrows(known: dict[str, Path]) -> list[Arrow]:
    """Every import of one module of the package by another."""
    found = []
    for source, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = source if is_package else source.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                # `from X import name`: the module X.name where there is one, else X.
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target == "itk_tag" or target.startswith("itk_tag."):
                    resolved = _resolve(target, known)
                    if resolved is not None and resolved != source:
                        found.append(Arrow(source, resolved, node.lineno))
    return found


def floor(module: str) -> int | None:
    """The floor of ``module`` (FLOORS), or None for the modules apart."""
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    return None if first == APART else FLOORS[first]


def circles(found: list[Arrow]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for arrow in found:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_reader_sees_the_imports() -> None:
    """The reading itself: relative, absolute, in-function and TYPE_CHECKING imports are all arrows."""
    known = modules()
    found = {(a.source, a.target) for a in arrows(known)}
    assert ("itk_tag.batch.convert", "itk_tag.batch.writers") in found  # from . import ..., writers
    assert ("itk_tag.batch.writers", "itk_tag.hosts.image_buffer") in found  # from ..hosts.image_buffer
    assert ("itk_tag.batch.writers", "itk_tag.batch.options") in found  # under TYPE_CHECKING
    assert ("itk_tag.hosts.import_hook", "itk_tag.hosts.itk_python") in found  # inside a function
    assert ("itk_tag.hosts.itk_shim.IOTagPython", "itk_tag.hosts.itk_python") in found  # absolute
    assert ("itk_tag.batch.existing", "itk_tag.format") in found  # from ..format import (a name)
    assert circles([Arrow("a", "b", 1), Arrow("b", "c", 1), Arrow("c", "a", 1), Arrow("c", "d", 1)]) == [
        ["a", "b", "c"]
    ]


def test_no_import_circle() -> None:
    """No group of modules imports itself round, inside a room or across rooms."""
    assert circles(arrows(modules())) == []


def test_no_arrow_up() -> None:
    """No module imports one of a later floor, and none imports the package's ``__init__`` from a room."""
    upward = [str(a) for a in arrows(modules()) if (floor(a.source) or 0) < (floor(a.target) or 0)]
    assert upward == []


def test_the_lowest_floor_stands_alone() -> None:
    """``format/`` imports only ``format/`` and ``errors.py`` nothing of the package; the modules apart
    (the Slicer module, loaded by path) nothing of it either.
    """
    wrong = []
    for arrow in arrows(modules()):
        if arrow.source.startswith("itk_tag.format") and not arrow.target.startswith("itk_tag.format"):
            wrong.append(str(arrow))
        if arrow.source == "itk_tag.errors" or floor(arrow.source) is None:
            wrong.append(str(arrow))
    assert wrong == []


def test_every_module_has_a_floor() -> None:
    """A new room or top-level module gets its place in FLOORS (and in docs/architecture.md)."""
    unplaced = [m for m in modules() if m != "itk_tag" and m.split(".")[1] not in (*FLOORS, APART)]
    assert unplaced == []
