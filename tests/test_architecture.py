"""The layout's rules, checked on the source: no import cycles, dependencies flow one way.

The graph is built with `ast` from every module of `knowledge/`, `kindred/` and `bot/`, imports
under `TYPE_CHECKING` and inside functions included: a type-only cycle is still coupling.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("knowledge", "kindred", "bot")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported_names(path: Path, module: str, known: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every module name `path` imports (absolute, relative resolved), at any depth.

    `from package import submodule` names the submodule only when it is one of `known` (the package
    itself is already being imported by then); any other `from x import y` also names `x`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
            if not all(name in known for name in names):
                yield base
            yield from names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        names = imported_names(path, name, frozenset(modules))
        targets = {t for t in names if t in modules and t != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_type_only_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_type_checking_and_function_level_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.client import KindredBot\n"
        "def f():\n    from knowledge.service import KnowledgeService\n"
        "from . import sibling\n"
    )
    path = tmp_path / "mod.py"
    path.write_text(source)
    names = set(imported_names(path, "bot.cogs.mod", frozenset({"bot.cogs.sibling"})))
    assert {"bot.client", "knowledge.service", "bot.cogs.sibling"} <= names
    assert "bot.cogs" not in names, "importing a submodule from its package is not an edge"


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 40, "the graph should cover every module"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# Which top-level packages each layer may import (data flows bot/kindred -> knowledge).
ALLOWED = {
    "knowledge": {"knowledge"},
    "kindred": {"kindred", "knowledge", "bot"},
    "bot": {"bot", "knowledge"},
}
FORBIDDEN_THIRD_PARTY = {
    "knowledge": {"discord", "typer", "rich", "click"},
    "kindred": {"discord"},
    "bot": {"typer", "rich"},
}


@pytest.mark.parametrize("layer", PACKAGES)
def test_layers_import_only_what_they_may(layer: str) -> None:
    modules = project_modules()
    bad: list[str] = []
    for name, path in modules.items():
        if name.split(".")[0] != layer:
            continue
        for target in imported_names(path, name):
            top = target.split(".")[0]
            if top in PACKAGES and top not in ALLOWED[layer]:
                bad.append(f"{name} imports {target}")
            if top in FORBIDDEN_THIRD_PARTY[layer]:
                bad.append(f"{name} imports {target}")
    assert not bad, "\n".join(bad)


def test_only_the_run_command_reaches_the_bot() -> None:
    """The command line loads discord.py only when `kindred run` is called, or `kindred doctor`
    (which checks the token and intents, and reads the `[discord]` settings) and `kindred health`
    (the bot's health file), both from inside the command."""
    modules = project_modules()
    reaching = sorted(
        name
        for name, path in modules.items()
        if name.startswith("kindred")
        and any(t.split(".")[0] == "bot" for t in imported_names(path, name))
    )
    assert reaching == ["kindred.cli.doctor", "kindred.cli.run"]


def store_reaches(source: str) -> list[int]:
    """Lines where code reaches a service's store (`service.store`, `x.service.store`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "service":
                lines.append(node.lineno)
    return sorted(lines)


def test_the_store_finder_finds_a_reach() -> None:
    assert store_reaches("x = bot.service.store.tagger\ny = service.store\nz = service.search") == [
        1,
        2,
    ]


def test_adapters_call_the_service_never_its_store() -> None:
    """The bot and the command line go through the service's facade (issue 9, item 3)."""
    reaches = {
        name: lines
        for name, path in project_modules().items()
        if name.split(".")[0] in ("bot", "kindred")
        and (lines := store_reaches(path.read_text(encoding="utf-8")))
    }
    assert reaches == {}
