"""protocol/ and crypto/ stay pure: no event loop, no HTTP, no SQL."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "aiohttp", "aiosqlite", "sqlite3", "socket", "storage", "node", "bootstrap"}


@pytest.mark.parametrize("package", ["protocol", "crypto"])
def test_no_io_imports(package):
    """No module of the package imports an I/O framework or a higher layer."""
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path} imports {name}"
