"""The layers stay layered: protocol/ and crypto/ are pure, dependencies point one way.

node -> bootstrap -> storage, protocol -> crypto (../shared/DESIGN.md, "Layout").
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBRARIES = {"asyncio", "aiohttp", "aiosqlite", "sqlite3", "socket", "zeroconf"}
# What each package may not import: I/O for the pure ones, and every layer above it.
FORBIDDEN = {
    "crypto": IO_LIBRARIES | {"protocol", "storage", "bootstrap", "node"},
    "protocol": IO_LIBRARIES | {"storage", "bootstrap", "node"},
    "storage": {"bootstrap", "node"},
    "bootstrap": {"node"},
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports: plain, from-imports and importlib/__import__ by name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package):
    """No file of the package imports a forbidden module, even lazily inside a function."""
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN[package]
    }
    assert offenders == set()


def test_the_checker_sees_forbidden_imports(tmp_path):
    """Plain, from- and dynamic imports are all caught, so a pass means something."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio.events\nfrom aiohttp import web\nimport importlib\n"
        "def f():\n    import sqlite3\n    importlib.import_module('aiosqlite')\n",
        encoding="utf-8",
    )
    assert {"asyncio.events", "aiohttp", "sqlite3", "aiosqlite"} <= imported_modules(sample)
