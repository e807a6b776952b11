"""The package layering: every import points at a lower layer or the same package."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minikit"

# Higher numbers sit above lower ones; packages on one level are siblings and
# must not import each other.
LAYERS = {
    "cli": 9,
    "worker": 8,
    "frontend": 7,
    "ops": 7,
    "exporter": 7,
    "bake": 7,
    "solver": 6,
    "source": 6,
    "executor": 6,
    "cache": 5,
    "registry": 5,
    "llb": 5,
    "snapshot": 4,
    "session": 4,
    "oci": 3,
    "progress": 3,
    "util": 2,
    "errors": 1,
}


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "minikit" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _violations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if len(relative.parts) == 1:
            continue  # __init__, __main__ and errors at the top
        own = relative.parts[0]
        own_level = LAYERS[own]
        for line, module in _imports(path):
            target = _package_of(module)
            if target is None or target == own:
                continue
            if LAYERS[target] >= own_level:
                found.append(f"{relative}:{line} imports {module} ({own} -> {target})")
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS)


def test_imports_point_downward():
    assert _violations() == []
