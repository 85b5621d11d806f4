"""The package layout as a checked rule: layers import downwards only, no module imports
another's private names, no import cycle, and the top level of ``kdlib/`` holds only packages.

The graph is built from the source (``ast``), so an import hidden inside a function counts
as much as one at the top of a module; only ``if TYPE_CHECKING:`` blocks are left out
(they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kdlib.core.paths import PACKAGE_DIR

#: The layers, lowest first: a package imports from its own layer's package or from lower ones.
LAYERS = ("core", "runtime", "data", "losses", "models", "eval", "teacher", "train", "repro", "book", "cli")
TOP_LEVEL_FILES = {"__init__.py", "__main__.py", "py.typed"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts}


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """``(imported module, imported name or '')`` of every kdlib import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.startswith("kdlib")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("kdlib"):
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                found.append((target, "") if target in modules else (source, alias.name))
    return found


def _resolve(target: str, modules: dict[str, Path]) -> str:
    while target not in modules:
        target = target.rpartition(".")[0]
    return target


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {_resolve(t, modules) for t, _ in _imports(name, path, modules)} - {name}
            for name, path in modules.items()}


def test_layers_import_downwards_only(graph):
    upward = [f"{source} -> {target}" for source, targets in graph.items() for target in targets
              if _layer(source) and _layer(target) and LAYERS.index(_layer(target)) > LAYERS.index(_layer(source))]
    assert not upward, "imports against the layer order " + " < ".join(LAYERS) + ":\n" + "\n".join(sorted(upward))


def test_no_import_cycle(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    private = [f"{name} imports {source}.{imported}" for name, path in modules.items()
               for source, imported in _imports(name, path, modules)
               if imported.startswith("_") and not imported.startswith("__")]
    assert not private, "\n".join(private)


def test_the_top_level_holds_only_packages():
    loose = [p.name for p in PACKAGE_DIR.iterdir()
             if p.name not in TOP_LEVEL_FILES and p.name != "__pycache__" and not (p / "__init__.py").is_file()]
    assert not loose, f"loose modules or files at kdlib/ top level: {loose}"
    assert {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()} == set(LAYERS)


def test_the_rule_catches_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a planted upward import and cycle are both found."""
    import sys

    fake = tmp_path / "kdlib"
    (fake / "core").mkdir(parents=True)
    (fake / "data").mkdir()
    for package in (fake, fake / "core", fake / "data"):
        (package / "__init__.py").write_text("")
    (fake / "core" / "a.py").write_text("from kdlib.data.b import thing\n")
    (fake / "data" / "b.py").write_text("def f():\n    from kdlib.core.a import other\n")
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "PACKAGE_DIR", fake)
    planted = {name: {_resolve(t, _modules()) for t, _ in _imports(name, path, _modules())} - {name}
               for name, path in _modules().items()}
    with pytest.raises(AssertionError, match="kdlib.core.a -> kdlib.data.b"):
        test_layers_import_downwards_only(planted)
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle(planted)
