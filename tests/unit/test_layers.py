"""The design's one-way arrows, checked on the source: every import, at module level or inside a
function, counts."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports."""
    modules = {f"{package}.{p.stem}": p for p in (ROOT / package).glob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_prompts_import_nothing_of_the_agent() -> None:
    for path in (ROOT / "prompts").glob("*.py"):
        assert not {m for m in imports_of(path) if m.split(".")[0] == "agent"}, path.name


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph (its modules in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [])):
            return found
    return None


def test_the_evaluation_modules_import_each_other_without_a_circle() -> None:
    graph = package_graph("evaluation")
    assert graph["evaluation.tasks"] >= {"evaluation.runner", "evaluation.movielens"}
    assert find_circle(graph) is None


def test_the_circle_check_finds_the_old_runner_circle() -> None:
    # before the registry, the runner imported the task modules (lazily) and they imported it
    graph = {"runner": {"movielens"}, "movielens": {"runner", "cache"}, "cache": set()}
    assert find_circle(graph) == ["movielens", "runner", "movielens"]
