"""Data directories from another version, and demo directories that are not a demo's.

A store written by a newer lienthong is refused by every entry point with one message
(the data directory, its schema version, the versions supported, what to do); an older
one is copied, migrated and logged; `lienthong demo` refuses a directory it did not make.
"""

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import lienthong.storage.db as db
from lienthong.node.centre.setup import create_centre
from lienthong.node.cli import doctor
from lienthong.node.cli.demo import MARKER, Demo, DemoError, check_demo_dir, province
from lienthong.node.datadir import create_node
from lienthong.storage.db import Store, copy_path, migrations, schema_version
from lienthong.storage.errors import MigrationError

LATEST = len(migrations())
UNIT_CODES = {u.code for u in province()[1]}


def lienthong(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lienthong.node.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def set_schema(path: Path, version: int) -> None:
    """Mark a store as written at `version` by a future lienthong."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'future', 0)", (version,))
    conn.close()


async def older_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store as the previous release left it: every migration but the last, one row."""
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[:-1])
        async with await Store.open(path) as store, store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('old', 1, 1)")


def unit_dir(root: Path) -> Path:
    create_node(root, {"unit": {"code": "000.00.05.H53", "name": "Sở Nội vụ"}})
    return root


def assert_newer_message(text: str, data_dir: Path, version: int = 99) -> None:
    assert str(data_dir) in text
    assert f"schema version {version}" in text
    assert f"(1 to {LATEST})" in text
    assert "newer lienthong" in text and "lienthong restore" in text


# -- the store ---------------------------------------------------------------------------------


async def test_newer_store_message_says_where_what_and_what_to_do(tmp_path: Path):
    """Store.open on a newer schema names the data directory, both versions and the fixes."""
    path = tmp_path / "data" / "store.sqlite3"
    path.parent.mkdir()
    async with await Store.open(path):
        pass
    set_schema(path, 99)
    with pytest.raises(MigrationError) as refused:
        await Store.open(path)
    assert_newer_message(str(refused.value), tmp_path / "data")
    assert schema_version(path) == 99  # refused without touching it


async def test_older_store_is_copied_then_migrated_and_logged(tmp_path, monkeypatch, caplog):
    """An older store is copied as it was, brought to the latest schema, and the log says so."""
    path = tmp_path / "store.sqlite3"
    await older_store(path, monkeypatch)
    assert schema_version(path) == LATEST - 1
    with caplog.at_level(logging.INFO, logger="lienthong.store"):
        async with await Store.open(path) as store, store.read() as conn:
            assert store.schema_version == LATEST
            assert (await conn.fetchone("SELECT id FROM blobs"))[0] == "old"
    copy = copy_path(path, LATEST - 1)
    assert copy.name == f"store.schema-{LATEST - 1}.sqlite3"
    assert schema_version(copy) == LATEST - 1
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT id FROM blobs").fetchall() == [("old",)]
    conn.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"schema version {LATEST - 1}: migrating it to {LATEST}" in warnings[0]
    assert str(copy) in warnings[0]
    assert any(f"now at schema version {LATEST}" in r.getMessage() for r in caplog.records)


async def test_no_migration_without_its_copy(tmp_path, monkeypatch):
    """When the copy cannot be written, the store is refused and stays at its old version."""
    path = tmp_path / "store.sqlite3"
    await older_store(path, monkeypatch)
    copy_path(path, LATEST - 1).mkdir()  # a directory where the copy must go
    with pytest.raises(MigrationError, match=r"could not be kept first .*nothing was changed"):
        await Store.open(path)
    assert schema_version(path) == LATEST - 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


async def test_new_and_current_stores_make_no_copy_and_no_log(tmp_path, caplog):
    """Creating a store, and opening a current one, neither copies nor logs a migration."""
    path = tmp_path / "store.sqlite3"
    with caplog.at_level(logging.INFO, logger="lienthong.store"):
        for _ in range(2):
            async with await Store.open(path):
                pass
    assert sorted(p.name for p in tmp_path.iterdir() if "schema" in p.name) == []
    assert caplog.records == []


async def test_schema_version_reads_without_migrating(tmp_path, monkeypatch):
    """schema_version reports an older store's version and leaves it as it was."""
    assert schema_version(tmp_path / "none.sqlite3") == 0
    path = tmp_path / "store.sqlite3"
    await older_store(path, monkeypatch)
    assert schema_version(path) == LATEST - 1
    assert schema_version(path) == LATEST - 1
    assert not copy_path(path, LATEST - 1).exists()


async def test_doctor_reports_the_store_schema(tmp_path, monkeypatch):
    """doctor: current is ok, older warns (with the backup command), newer fails with the fix."""
    data = unit_dir(tmp_path / "unit")
    await older_store(data / "store.sqlite3", monkeypatch)
    older = {c.name: c for c in await doctor.run_checks(data)}["store"]
    assert older.status == doctor.WARN and f"migrates it to {LATEST}" in older.finding
    assert "lienthong backup" in older.fix
    async with await Store.open(data / "store.sqlite3"):
        pass
    current = {c.name: c for c in await doctor.run_checks(data)}["store"]
    assert current.status == doctor.OK
    set_schema(data / "store.sqlite3", 99)
    newer = {c.name: c for c in await doctor.run_checks(data)}["store"]
    assert newer.status == doctor.FAIL
    assert_newer_message(newer.finding, data)


# -- the demo's directory -----------------------------------------------------------------------


def test_demo_accepts_new_empty_and_its_own_directories(tmp_path: Path):
    """A missing or empty DIR, one with the marker, and an older demo's layout are accepted."""
    check_demo_dir(tmp_path / "new", UNIT_CODES)
    check_demo_dir(tmp_path, UNIT_CODES)
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / MARKER).write_text('{"format": "lienthong-demo", "version": 1}')
    (marked / "anything").mkdir()
    check_demo_dir(marked, UNIT_CODES)
    older = tmp_path / "older"
    for name in ("centre", "logs", "000.00.03.H53"):
        (older / name).mkdir(parents=True)
    (older / "logins.json").write_text("{}")
    check_demo_dir(older, UNIT_CODES)


def test_demo_refuses_a_node_data_directory(tmp_path: Path):
    """DIR holding node.toml is a node's data directory: refused, saying so."""
    data = unit_dir(tmp_path / "unit")
    with pytest.raises(DemoError, match=r"is a node's data directory \(it holds node\.toml\)"):
        check_demo_dir(data, UNIT_CODES)


def test_demo_refuses_a_foreign_directory_naming_what_is_there(tmp_path: Path):
    """A non-empty directory the demo did not make is refused, naming what it holds."""
    (tmp_path / "thesis.odt").write_text("x")
    (tmp_path / "centre").mkdir()
    with pytest.raises(DemoError, match=r"not made by lienthong demo \(it holds thesis\.odt\)"):
        check_demo_dir(tmp_path, UNIT_CODES)
    only_logs = tmp_path / "logs-only"
    (only_logs / "logs").mkdir(parents=True)
    with pytest.raises(DemoError, match="it holds logs"):
        check_demo_dir(only_logs, UNIT_CODES)


def test_demo_refuses_a_file_and_a_wrong_marker(tmp_path: Path):
    """DIR must be a directory; a marker that is not the demo's is refused."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(DemoError, match="is not a directory"):
        check_demo_dir(tmp_path / "file", UNIT_CODES)
    (tmp_path / MARKER).write_text('{"format": "something-else"}')
    with pytest.raises(DemoError, match="not a lienthong demo marker"):
        check_demo_dir(tmp_path, UNIT_CODES)


async def test_demo_check_refuses_a_newer_store_before_starting(tmp_path: Path):
    """A unit store written by a newer lienthong stops the demo before any node starts."""
    root = tmp_path / "demo"
    (root / "000.00.03.H53").mkdir(parents=True)
    (root / MARKER).write_text('{"format": "lienthong-demo", "version": 1}')
    store = root / "000.00.03.H53" / "store.sqlite3"
    async with await Store.open(store):
        pass
    set_schema(store, 99)
    with pytest.raises(MigrationError) as refused:
        Demo(root, 3).check()
    assert_newer_message(str(refused.value), root / "000.00.03.H53")


# -- through the command line -------------------------------------------------------------------


@pytest.fixture
async def newer_demo(tmp_path: Path) -> Path:
    """A demo directory whose centre's store was written by a newer lienthong."""
    root = tmp_path / "demo"
    root.mkdir()
    (root / MARKER).write_text('{"format": "lienthong-demo", "version": 1}')
    await create_centre(root / "centre", name="Trung tâm CNTT", listen="127.0.0.1:7443")
    set_schema(root / "centre" / "store.sqlite3", 99)
    return root


def assert_one_error(result: subprocess.CompletedProcess, data_dir: Path) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("lienthong: error: "), result.stderr
    assert_newer_message(errors[0], data_dir)


@pytest.mark.parametrize(
    "command", [["inbox", "--json"], ["run"], ["audit", "verify"], ["centre", "units"]]
)
async def test_commands_refuse_a_newer_data_directory_with_one_message(newer_demo, command):
    """inbox, run, audit verify and centre units each print the one newer-version message."""
    centre = newer_demo / "centre"
    sub = command[:2] if command[0] in ("audit", "centre") else command[:1]
    rest = command[len(sub) :]
    result = lienthong(*sub, "--data-dir", str(centre), *rest)
    assert_one_error(result, centre)
    assert result.stdout == ""


async def test_doctor_and_demo_refuse_a_newer_data_directory(newer_demo: Path):
    """doctor reports the store as failed with the message; demo refuses before starting."""
    centre = newer_demo / "centre"
    checked = lienthong("doctor", "--data-dir", str(centre), "--json")
    assert checked.returncode == 1
    store = {c["name"]: c for c in json.loads(checked.stdout)["checks"]}["store"]
    assert store["status"] == "fail"
    assert_newer_message(store["finding"], centre)
    demo = lienthong("demo", "--data-dir", str(newer_demo), "--units", "2", "--no-browser")
    assert_one_error(demo, centre)
    assert not (newer_demo / "logs").exists()  # no node was started


async def test_cli_migrates_an_older_store_and_says_so(tmp_path, monkeypatch):
    """`lienthong audit verify --json` on an older store: migrated, said on stderr, JSON clean."""
    data = unit_dir(tmp_path / "unit")
    await older_store(data / "store.sqlite3", monkeypatch)
    result = lienthong("audit", "verify", "--data-dir", str(data), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert f"migrating it to {LATEST}" in result.stderr
    assert schema_version(data / "store.sqlite3") == LATEST
    assert schema_version(copy_path(data / "store.sqlite3", LATEST - 1)) == LATEST - 1


@pytest.mark.parametrize("kind", ["node", "foreign"])
def test_cli_demo_refuses_a_directory_it_did_not_make(tmp_path, kind):
    """`lienthong demo` on a node's data directory or a foreign one: refused, left untouched."""
    target = unit_dir(tmp_path / "unit") if kind == "node" else tmp_path / "papers"
    if kind == "foreign":
        target.mkdir()
        (target / "notes.txt").write_text("x")
    before = sorted(p.name for p in target.iterdir())
    result = lienthong("demo", "--data-dir", str(target), "--units", "2", "--no-browser")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    expected = "is a node's data directory" if kind == "node" else "not made by lienthong demo"
    assert expected in result.stderr and str(target) in result.stderr
    assert sorted(p.name for p in target.iterdir()) == before
