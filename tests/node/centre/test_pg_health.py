"""A centre on PostgreSQL tells its database's health: `doctor` checks the database (schema,
directory) instead of a SQLite file, and /metrics says whether the last scrape could read it
and whether the worker hears the others, including while the database is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from lienthong.node.centre.setup import create_centre
from lienthong.node.cli.doctor import FAIL, OK, run_checks
from lienthong.node.metrics import metrics_of
from lienthong.node.runtime import open_context
from tests.node.centre_support import CENTRE_NAME
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name


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
