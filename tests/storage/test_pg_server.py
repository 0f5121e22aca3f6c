"""The test PostgreSQL server (tests/pg.py): it runs, and each test gets a database of its own."""

from __future__ import annotations

from pathlib import Path

from tests.pg import PgServer, pg_dsn, pg_server  # noqa: F401 - fixtures used by name


def test_each_test_gets_an_empty_database_of_its_own(pg_server: PgServer):  # noqa: F811
    """Two databases made for two tests are distinct and start empty."""
    first, second = pg_server.new_database(), pg_server.new_database()
    assert first != second
    name = first.rsplit("/", 1)[1]
    pg_server.sql("CREATE TABLE marks (n integer)", name)
    pg_server.sql("INSERT INTO marks VALUES (7)", name)
    assert pg_server.sql("SELECT n FROM marks", name).strip() == "7"
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert pg_server.sql(tables, second.rsplit("/", 1)[1]).strip() == "0"


def test_the_server_runs_as_an_unprivileged_user(pg_server: PgServer):  # noqa: F811
    """Whoever runs the tests, the server process is not root (initdb would refuse it)."""
    pid = int((pg_server.data / "postmaster.pid").read_text().split()[0])
    assert Path(f"/proc/{pid}").stat().st_uid != 0
