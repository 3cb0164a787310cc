"""The package's imports run one way: each layer imports only from the layers below it, and no module imports itself back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "read_receipts"

# From the bottom up; a module may import from its own layer and the ones below it.
LAYERS = [
    {"intake", "labels", "links"},
    {"store"},
    {"settings", "setting_values"},
    {"delivery"},
    {"insights"},
    {"operations"},
]


def layer_of(module: str) -> int:
    """The layer of a module of the package, by its first part below the package."""
    part = module.split(".")[1]
    return next(index for index, names in enumerate(LAYERS) if part in names)


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The package's modules a source file imports (anywhere in it, functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith(f"{PACKAGE}.")}


def sources() -> dict[str, set[str]]:
    """Every module of the package (migrations aside) and the package's modules it imports."""
    paths = [p for p in (ROOT / PACKAGE).rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p): p for p in paths}
    return {name: {i for i in imports_of(path) if i in modules} - {name} for name, path in modules.items()}


GRAPH = sources()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.count(".") >= 1))
def test_a_module_imports_nothing_from_a_layer_above_its_own(module):
    above = sorted(i for i in GRAPH[module] if i.count(".") >= 1 and layer_of(i) > layer_of(module))
    assert above == [], f"{module} imports up: {above}"


def test_the_import_graph_has_no_circle():
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in GRAPH[module]:
            if state.get(imported) == "open":
                pytest.fail(" -> ".join([*path, module, imported]))
            if imported not in state:
                visit(imported, [*path, module])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])


def test_the_layers_name_every_part_of_the_package():
    parts = {module.split(".")[1] for module in GRAPH if module.count(".") >= 1}
    assert parts == set().union(*LAYERS)
