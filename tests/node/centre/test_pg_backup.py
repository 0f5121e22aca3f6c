"""Backup and restore of a centre on PostgreSQL: `lienthong backup` puts the database (pg_dump)
in the same archive as the centre's keys and node.toml; `lienthong restore --database URL`
replays it into an empty database, and the restored centre serves the same directory."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tarfile
from pathlib import Path

import aiohttp
import pytest

from lienthong.node.centre import rules as service
from lienthong.node.centre.rules import open_centre
from lienthong.node.centre.setup import create_centre
from lienthong.node.config import load_config
from lienthong.node.runtime import Node
from lienthong.storage import backup as bk
from lienthong.storage.errors import BackupError
from tests.node.centre_support import CENTRE_NAME, UNIT_A, UnitSide
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

# A CLI run that takes longer than this is stuck, not slow (a dump of a test database).
CLI_TIMEOUT_SECONDS = 120


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


async def lienthong(*args: str) -> subprocess.CompletedProcess:
    """The `lienthong` command in a process of its own, as an operator runs it."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lienthong.node.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


@pytest.fixture
async def centre_dir(tmp_path: Path, pg_server: PgServer) -> Path:  # noqa: F811
    """A PostgreSQL centre with one enrolled unit (its directory at version 2)."""
    data_dir = tmp_path / "centre"
    await create_centre(
        data_dir,
        name=CENTRE_NAME,
        listen=f"127.0.0.1:{_free_port()}",
        database=pg_server.new_database(),
    )
    async with open_centre(data_dir) as centre:
        new = await centre.add_unit(*UNIT_A)
        assert isinstance(await centre.enrol(UnitSide(*UNIT_A).request(new.token)), service.Issued)
        assert await centre.directory_version() == 2
    return data_dir


async def served_directory(data_dir: Path) -> bytes:
    """GET /v1/directory of the centre in `data_dir`, run as `lienthong run` runs it."""
    config = load_config(data_dir)
    node = await Node.open(data_dir)
    try:
        await node.start()
        context = ssl.create_default_context(cafile=str(config.ca_path))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"https://127.0.0.1:{node.peer_port}/v1/directory", ssl=context) as answer,
        ):
            assert answer.status == 200
            return await answer.read()
    finally:
        await node.close()


async def test_a_pg_centre_is_backed_up_and_restored_into_a_fresh_database(
    centre_dir: Path,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
):
    """The archive holds centre.pgdump beside node.toml and the keys (no SQLite file); the
    restore into a new empty database names it in node.toml, keeps no dump in the data
    directory, and the restored centre serves byte for byte the directory the first one
    served, with its unit and its audit log."""
    before = await served_directory(centre_dir)
    archive = tmp_path / "out" / "centre.tar"
    made = await lienthong("backup", "--data-dir", str(centre_dir), "--out", str(archive), "--json")
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == bk.PG_DUMP_FILE and bk.STORE_FILE not in names
    assert {"node.toml", "keys/root.key", "keys/identity.key", "tls/ca.pem"} <= set(names)
    assert json.loads(made.stdout)["members"] == len(names) - 1

    database = pg_server.new_database()
    target = tmp_path / "restored"
    done = await lienthong(
        "restore", "--data-dir", str(target), "--from", str(archive), "--database", database
    )
    assert done.returncode == 0, done.stderr
    assert load_config(target).get("centre", "database") == database
    assert not (target / bk.PG_DUMP_FILE).exists() and not (target / bk.STORE_FILE).exists()
    assert await served_directory(target) == before
    async with open_centre(target) as centre:
        assert {u.code: u.status for u in await centre.units()}[UNIT_A[0]] == "active"
    checked = await lienthong("audit", "verify", "--data-dir", str(target), "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["entries"] > 0, checked.stdout


async def test_a_pg_backup_is_restored_only_into_an_empty_database(
    centre_dir: Path,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
):
    """Without --database, into the database that holds the centre, or into one that is not
    PostgreSQL: refused saying why, no data directory made, the database untouched."""
    archive = (await bk.backup(centre_dir, tmp_path / "b.tar", database=_database(centre_dir))).path
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match="--database URL"):
        await bk.restore(target, archive)
    with pytest.raises(BackupError, match="holds a centre already"):
        await bk.restore(target, archive, database=_database(centre_dir))
    with pytest.raises(BackupError, match="not a PostgreSQL URL"):
        await bk.restore(target, archive, database="mysql://x@127.0.0.1/y")
    assert not target.exists()
    refused = await lienthong(
        "restore", "--data-dir", str(target), "--from", str(archive),
        "--database", _database(centre_dir),
    )  # fmt: skip
    assert refused.returncode == 1 and "holds a centre already" in refused.stderr
    assert "Traceback" not in refused.stderr and not target.exists()


async def test_a_failing_pg_restore_leaves_the_database_empty(
    centre_dir: Path,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
):
    """A database that cannot take the dump (a table of the centre's name there already, so
    the check for a centre passes): pg_restore's error is named, nothing of the dump stays
    (one transaction), no data directory is made."""
    archive = (await bk.backup(centre_dir, tmp_path / "b.tar", database=_database(centre_dir))).path
    database = pg_server.new_database()
    name = database.rsplit("/", 1)[1]
    pg_server.sql("CREATE TABLE centre_units (code TEXT)", name)
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"pg_restore of the database .* failed: .*centre_units"):
        await bk.restore(target, archive, database=database)
    assert not target.exists()
    tables = pg_server.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", name)
    assert tables.strip() == "1"


def _database(data_dir: Path) -> str:
    return load_config(data_dir).get("centre", "database")
