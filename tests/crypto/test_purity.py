"""crypto/ stays pure: no module imports the event loop, HTTP or SQL libraries."""

import ast
from pathlib import Path

import crypto

FORBIDDEN = {"asyncio", "aiohttp", "aiosqlite", "sqlite3"}
PACKAGE = Path(crypto.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_no_crypto_module_imports_io_libraries():
    """No file under crypto/ imports asyncio, aiohttp, aiosqlite or sqlite3, even lazily."""
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 9
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def test_the_checker_sees_forbidden_imports(tmp_path):
    """The AST check catches plain, from- and dynamic imports, so a pass means something."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio.events\nfrom aiohttp import web\nimport importlib\n"
        "def f():\n    import sqlite3\n    importlib.import_module('aiosqlite')\n"
    )
    found = {name.split(".")[0] for name in imported_modules(sample)}
    assert found >= FORBIDDEN
