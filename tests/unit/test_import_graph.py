"""The package's layers, checked from its source: no import cycles, and nothing below the code
location (`mkailin_assets.definitions`) imports it.

Every import counts: top-level, inside functions, under `if TYPE_CHECKING:` (a type-only edge is
still a dependency between layers), relative or absolute, and `importlib.import_module("...")`
with a literal name.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import mkailin_assets

PACKAGE = "mkailin_assets"
PACKAGE_DIR = Path(mkailin_assets.__file__).parent
CODE_LOCATION = f"{PACKAGE}.definitions"
# Entry points above the code location: they run it as deployed, so they may import it.
# demo.py materializes every asset with the code location's own resources (`defs.resources`);
# run_preload.py loads it into the forkserver launched runs are forked from.
ENTRY_POINTS = frozenset({f"{PACKAGE}.demo", f"{PACKAGE}.run_preload"})


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file for every module of the package under `root`."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module a dotted name refers to (the longest known prefix), if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _import_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ImportFrom starts from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    anchor = module.split(".")
    if not is_package:
        anchor = anchor[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _import_base(node, module, is_package)
        # `from pkg import sub` imports the submodule when there is one, else names from pkg.
        return [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package modules it imports, anywhere in its source."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for name in _imported_names(node, module, is_package):
                if name == package or name.startswith(package + "."):
                    target = _resolve(name, modules)
                    if target is not None and target != module:
                        targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def importers_of(graph: dict[str, set[str]], target: str) -> set[str]:
    return {module for module, targets in graph.items() if target in targets}


# ---- the walker itself, on a small synthetic package -------------------------------------------
def _write_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "pkg"
    for relative, source in files.items():
        path = package_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return package_dir


def test_the_walker_finds_a_cycle_through_a_function_level_relative_import(tmp_path):
    package_dir = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "def f():\n    from ..high import b\n",
            "high/__init__.py": "",
            "high/b.py": "from pkg.low.c import g\n",
            "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
        },
    )
    graph = import_graph(package_dir, "pkg")
    assert graph["pkg.low.a"] == {"pkg.high", "pkg.high.b"}
    assert graph["pkg.high.b"] == {"pkg.low.c"}
    assert graph["pkg.low.c"] == {"pkg.low", "pkg.low.a"}
    cycle = find_cycle(graph)
    assert cycle is not None
    assert set(cycle) == {"pkg.low.a", "pkg.high.b", "pkg.low.c"}
    assert cycle[0] == cycle[-1]


def test_the_walker_passes_an_acyclic_package_and_sees_importlib_by_name(tmp_path):
    package_dir = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "definitions.py": "from pkg.assets import x\n",
            "assets.py": "import importlib\nimportlib.import_module('pkg.util')\n",
            "util.py": "import os\n",
            "pools.py": "def f():\n    import pkg.definitions\n",
        },
    )
    graph = import_graph(package_dir, "pkg")
    assert graph["pkg.assets"] == {"pkg.util"}
    assert find_cycle(graph) is None
    assert importers_of(graph, "pkg.definitions") == {"pkg.pools"}


# ---- the package ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE_DIR, PACKAGE)


def test_the_graph_covers_the_package(graph):
    assert CODE_LOCATION in graph
    assert graph[CODE_LOCATION], "the code location imports the assets"
    assert len(graph) > 50


def test_the_package_has_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_nothing_below_the_code_location_imports_it(graph):
    below = importers_of(graph, CODE_LOCATION) - ENTRY_POINTS
    assert not below, f"{sorted(below)} import {CODE_LOCATION}; only {sorted(ENTRY_POINTS)} may"
