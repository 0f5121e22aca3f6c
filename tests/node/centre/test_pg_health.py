"""A centre on PostgreSQL tells its database's health: `doctor` checks the database (schema,
directory) instead of a SQLite file, /metrics says whether the last scrape could read it
and whether the worker hears the others, including while the database is down, and /healthz
turns 503 while it is down and 200 once it is back."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path

import aiohttp
import pytest

from lienthong.node.centre.setup import create_centre
from lienthong.node.cli.doctor import FAIL, OK, run_checks
from lienthong.node.metrics import metrics_of
from lienthong.node.runtime import Node, open_context
from tests.node.centre_support import CENTRE_NAME
from tests.node.tls_federation import BOUND
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
async def centre_dir(tmp_path: Path, pg_server: PgServer) -> Path:  # noqa: F811
    data_dir = tmp_path / "centre"
    await create_centre(data_dir, name=CENTRE_NAME, database=pg_server.new_database())
    return data_dir


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


async def test_doctor_checks_the_database_and_names_it_when_down(centre_dir, pg_server):  # noqa: F811
    """Up: store and directory read from PostgreSQL, ok. Down: the store check fails and
    names the database (no password), with the fix."""
    checks = by_name(await run_checks(centre_dir))
    assert checks["store"].status == OK and "schema version 2" in checks["store"].finding
    assert "PostgreSQL postgresql://lienthong@127.0.0.1" in checks["store"].finding
    assert checks["directory"].status == OK and "directory v1" in checks["directory"].finding
    try:
        pg_server.stop("fast")
        down = by_name(await run_checks(centre_dir))
    finally:
        pg_server.start()
    assert down["store"].status == FAIL
    assert "cannot connect to the database" in down["store"].finding
    assert "PostgreSQL" in down["store"].fix
    assert down["directory"].status == FAIL


async def test_metrics_say_when_the_database_cannot_be_read(centre_dir, pg_server):  # noqa: F811
    """/metrics of a PostgreSQL centre: database_up 1, then 0 while the server is stopped
    (the scrape still answers), then 1 again once it is back."""
    ctx = await open_context(centre_dir)
    try:
        metrics = metrics_of(ctx)
        assert b"lienthong_database_up 1.0" in await metrics.render()
        assert b"lienthong_database_listening 0.0" in await metrics.render()  # no relay here
        try:
            pg_server.stop("fast")
            assert b"lienthong_database_up 0.0" in await metrics.render()
        finally:
            pg_server.start()
        assert b"lienthong_database_up 1.0" in await metrics.render()
    finally:
        await ctx.store.close()


async def _health(http: aiohttp.ClientSession, url: str, context: ssl.SSLContext | None):
    async with http.get(url, ssl=context) as answer:
        return answer.status, await answer.json()


async def _eventually(http, url, context, status: int) -> dict:
    """The body of /healthz once it answers `status` (asked again until then, within BOUND)."""
    async with asyncio.timeout(BOUND):
        while True:
            got, body = await _health(http, url, context)
            if got == status:
                return body
            await asyncio.sleep(0.05)


async def test_a_pg_worker_healthz_turns_503_while_the_database_is_down(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
):
    """A centre worker (`lienthong run`) on PostgreSQL, asked as a load balancer asks, on its
    peer port over TLS without a client certificate: 200 with the database ok; the server
    stopped: 503 naming the store as failing and the database 'fail', with no detail that
    names the database; started again: 200. Its console port's /healthz agrees."""
    data_dir = tmp_path / "centre"
    await create_centre(
        data_dir,
        name=CENTRE_NAME,
        listen=f"127.0.0.1:{_free_port()}",
        web="127.0.0.1:0",
        database=pg_server.new_database(),
    )
    node = await Node.open(data_dir)
    try:
        await node.start()
        peer = f"https://127.0.0.1:{node.peer_port}/healthz"
        web_page = f"http://127.0.0.1:{node.web_port}/healthz"
        context = ssl.create_default_context(cafile=str(node.ctx.config.ca_path))
        async with aiohttp.ClientSession() as http:
            status, body = await _health(http, peer, context)
            assert status == 200, body
            assert body["status"] in (OK, "warn") and body["database"] == OK
            assert body["failing"] == [] and body["code"] == node.ctx.config.code
            try:
                pg_server.stop("fast")
                down = await _eventually(http, peer, context, 503)
                page_status, page = await _health(http, web_page, None)
            finally:
                pg_server.start()
            assert down["status"] == FAIL and down["database"] == FAIL
            assert down["failing"] == ["store"] and "127.0.0.1" not in json.dumps(down)
            assert page_status == 503 and page["checks"]["store"]["status"] == FAIL
            up = await _eventually(http, peer, context, 200)
            assert up["database"] == OK and up["failing"] == []
    finally:
        await node.close()
