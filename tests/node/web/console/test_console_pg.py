"""The centre's console on a PostgreSQL centre (`centre init --database URL`): the tests of
test_console.py that go through a centre's site, run again with the centre's store in a
fresh PostgreSQL database, over the same web app and the same storage interface."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nacl.pwhash.argon2id as argon2id
import pytest
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.centre.rules import centre_of
from lienthong.node.centre.setup import create_centre
from lienthong.node.context import NodeContext
from lienthong.node.runtime import Node
from lienthong.node.web import create_web_app
from lienthong.storage.store_pg import PgStore
from lienthong.storage.users import add_user
from tests.node.centre_support import CENTRE_NAME, UNIT_A, FakeClock, centre_context
from tests.node.web.console import test_console
from tests.node.web.console.test_console import CentreSite
from tests.node.web.test_web_support import PASSWORD, Delays, csrf_of
from tests.node.web.test_web_support import make_client as make_client
from tests.node.web.test_web_support import units as units
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

# Every test of test_console.py that works through the `site` or `make_site` fixtures.
SHARED = [
    test
    for name, test in vars(test_console).items()
    if name.startswith("test_")
    and {"site", "make_site"} & set(test.__code__.co_varnames[: test.__code__.co_argcount])
]
globals().update({t.__name__: t for t in SHARED})
site = test_console.site  # the fixture, over the make_site below


@pytest.fixture
async def make_site(tmp_path: Path, pg_server: PgServer) -> AsyncIterator:  # noqa: F811
    opened: list[tuple[NodeContext, TestClient]] = []

    async def make(**options) -> CentreSite:
        clock = FakeClock()
        data_dir = tmp_path / str(len(opened)) / "centre"
        database = pg_server.new_database()
        ctx = await centre_context(
            data_dir, clock, blobs=data_dir / "blobs", database=database, **options
        )
        assert isinstance(ctx.store, PgStore)
        for name, role in (("qt", "admin"), ("vt", "clerk"), ("ld", "leader")):
            await add_user(
                ctx.store, name, PASSWORD, role=role, display_name=f"Người dùng {name}",
                actor="test", opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
            )  # fmt: skip
        client = TestClient(TestServer(create_web_app(ctx, sleep=Delays())))
        await client.start_server()
        opened.append((ctx, client))
        return CentreSite(ctx, centre_of(ctx), client, clock)

    yield make
    for ctx, client in opened:
        await client.close()
        await ctx.store.close()


async def test_the_running_pg_centre_serves_its_console_only(tmp_path, pg_server):  # noqa: F811
    """`lienthong run` on a PostgreSQL centre, over real HTTP: an account made by `lienthong
    user add` (into the database, no SQLite file made) signs in, '/' leads to the console,
    which lists the units; the clerks' pages (which read a unit's document tables) are not
    mounted, and their links not shown."""
    data_dir = tmp_path / "centre"
    await create_centre(
        data_dir,
        name=CENTRE_NAME,
        listen=f"127.0.0.1:{test_console._free_port()}",
        web="127.0.0.1:0",
        database=pg_server.new_database(),
    )
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    added = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lienthong.node.cli", "user", "add", "--data-dir", str(data_dir),
         "--username", "qt", "--role", "admin", "--password-file", str(password)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert not (data_dir / "store.sqlite3").exists()
    node = await Node.open(data_dir)
    try:
        await centre_of(node.ctx).add_unit(*UNIT_A)
        await node.start()
        base = f"http://127.0.0.1:{node.web_port}"
        # unsafe: the jar keeps cookies of an IP address (127.0.0.1)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            page = await http.get(f"{base}/centre")
            assert page.status == 200 and "/login?next=/centre" in str(page.url)
            signed = await http.post(
                f"{base}/login",
                data={"csrf": csrf_of(await page.text()), "username": "qt",
                      "password": PASSWORD, "next": "/"},
            )  # fmt: skip
            html = await signed.text()
            assert signed.status == 200 and str(signed.url) == f"{base}/centre"
            assert UNIT_A[0] in html and centre_of(node.ctx).fingerprint in html
            assert 'href="/outbox"' not in html and 'href="/admin/users"' in html
            for path in ("/outbox", "/compose", "/registers", "/health", "/api/v1/documents"):
                assert (await http.get(f"{base}{path}")).status == 404, path
            for path in ("/centre/stats", "/centre/report", "/admin/users"):
                assert (await http.get(f"{base}{path}")).status == 200, path
    finally:
        await node.close()


async def test_a_version_1_database_gains_the_console_tables(pg_server):  # noqa: F811
    """A centre's database made before the console's accounts were kept in PostgreSQL
    (schema version 1) is brought to version 2 when a worker opens it; its data stays."""
    dsn = pg_server.new_database()
    store = await PgStore.open(dsn)
    async with store.write() as tx:
        await tx.execute("INSERT INTO centre_counters (name, value) VALUES (?, ?)", ("kept", 7))
    await store.close()
    pg_server.sql(
        "DROP TABLE sessions; DROP TABLE users; DROP TABLE departments;"
        " DELETE FROM schema_version WHERE version > 1",
        dsn.rsplit("/", 1)[1],
    )
    store = await PgStore.open(dsn)
    try:
        await add_user(
            store, "qt", PASSWORD, role="admin", display_name="Quản trị", actor="test",
            opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip
        async with store.read() as conn:
            versions = await conn.fetchall("SELECT version FROM schema_version ORDER BY 1")
            kept = await conn.fetchone("SELECT value FROM centre_counters WHERE name = 'kept'")
        assert [v[0] for v in versions] == [1, 2] and kept[0] == 7
    finally:
        await store.close()
