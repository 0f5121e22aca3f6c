"""The layers stay layered: protocol/ and crypto/ are pure, dependencies point one way.

Across packages: node -> bootstrap -> storage, protocol -> crypto. Inside node/: cli -> web ->
unit, centre -> the shared parts at node/'s top; unit and centre never import each other;
nothing but cli/ imports cli/; web/ reaches the centre only through the console's service
calls (node/centre/rules.py and its errors); runtime.py composes a unit or a centre by role.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBRARIES = {"asyncio", "aiohttp", "aiosqlite", "sqlite3", "socket", "zeroconf"}
PACKAGES = ("crypto", "protocol", "storage", "bootstrap", "node")
# What each package may not import: I/O for the pure ones, and every layer above it.
FORBIDDEN = {
    "crypto": IO_LIBRARIES | {"protocol", "storage", "bootstrap", "node"},
    "protocol": IO_LIBRARIES | {"storage", "bootstrap", "node"},
    "storage": {"bootstrap", "node"},
    "bootstrap": {"node"},
}
# Rooms inside node/: what each may not import (prefixes of dotted names below node).
NODE_SHARED_FORBIDDEN = ("node.unit", "node.centre", "node.web", "node.cli")
NODE_FORBIDDEN = {
    "node/unit": ("node.centre", "node.web", "node.cli"),
    "node/centre": ("node.unit", "node.web", "node.cli"),
    "node/web": ("node.cli", "node.centre"),
    "node/web/console": ("node.cli", "node.unit"),
}
# The console's service calls: the only parts of the centre web/ may use.
CONSOLE_SERVICES = ("node.centre.rules", "node.centre.errors")
# Shared modules at node/'s top that compose the rooms (and may therefore import them).
COMPOSERS = {"node/runtime.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, without the `lienthong.` root: plain, from-imports and
    importlib/__import__ by name."""
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
    return {n.removeprefix("lienthong.") for n in names}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


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


def node_room_offences(root: Path = ROOT) -> set[str]:
    """Every import inside node/ that crosses a room's wall."""
    offenders = set()
    for path in sorted((root / "node").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        room = max((r for r in NODE_FORBIDDEN if rel.startswith(r + "/")), key=len, default=None)
        if room is None and "/" not in rel.removeprefix("node/") and rel not in COMPOSERS:
            forbidden = NODE_SHARED_FORBIDDEN
        elif rel in COMPOSERS:
            forbidden = ("node.cli",)  # runtime composes unit, centre and web, never the CLI
        elif room is None:
            continue  # cli/ may import every room
        else:
            forbidden = NODE_FORBIDDEN[room]
        for name in imported_modules(path):
            if room == "node/web/console" and any(_under(name, s) for s in CONSOLE_SERVICES):
                continue
            if any(_under(name, f) for f in forbidden):
                offenders.add(f"{rel}: {name}")
    return offenders


def test_rooms_inside_node_keep_their_walls():
    """unit ↛ centre, centre ↛ unit, only cli/ imports cli/, web/ reaches the centre only
    through the console's service calls, node/'s shared top imports no room."""
    assert node_room_offences() == set()


def test_the_room_checker_sees_a_crossing(tmp_path):
    """A unit module importing the centre, and a shared module importing cli/, are caught."""
    (tmp_path / "node" / "unit").mkdir(parents=True)
    (tmp_path / "node" / "unit" / "x.py").write_text(
        "from lienthong.node.centre.relay import X\n", encoding="utf-8"
    )
    (tmp_path / "node" / "peers.py").write_text(
        "from lienthong.node.cli import output\n", encoding="utf-8"
    )
    assert node_room_offences(tmp_path) == {
        "node/unit/x.py: node.centre.relay",
        "node/peers.py: node.cli",
    }


def test_the_checker_sees_forbidden_imports(tmp_path):
    """Plain, from- and dynamic imports are all caught, so a pass means something."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio.events\nfrom aiohttp import web\nimport importlib\n"
        "def f():\n    import sqlite3\n    importlib.import_module('aiosqlite')\n",
        encoding="utf-8",
    )
    assert {"asyncio.events", "aiohttp", "sqlite3", "aiosqlite"} <= imported_modules(sample)


def test_every_import_of_the_project_goes_through_the_lienthong_root():
    """No module imports `node`, `protocol`, ... bare: installed, only `lienthong.*` exists."""
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for folder in (*PACKAGES, "tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _raw_imports(path)
        if name.split(".")[0] in PACKAGES
    }
    assert offenders == set()


def _raw_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names
