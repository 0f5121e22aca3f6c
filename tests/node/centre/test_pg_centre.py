"""The centre's rules on PostgreSQL: the tests of test_centre.py and test_renewal.py that work
through a centre made by `centre init`, run again on a centre whose data lives in a
PostgreSQL database (`centre init --database URL`), and what only such a centre does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from lienthong.node.centre.errors import CentreError
from lienthong.node.centre.rules import Centre, open_centre
from lienthong.node.centre.setup import create_centre
from lienthong.node.config import load_config
from lienthong.storage.centre import list_units
from lienthong.storage.store_pg import PgStore
from tests.node.centre import test_centre, test_renewal
from tests.node.centre_support import CENTRE_NAME, FakeClock
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

# The tests that use the centre fixtures (those that make their own SQLite centre stay there).
SHARED = [
    test
    for module in (test_centre, test_renewal)
    for name, test in vars(module).items()
    if name.startswith("test_")
    and {"centre", "make_centre"} & set(test.__code__.co_varnames[: test.__code__.co_argcount])
]
globals().update({f"{t.__module__.rsplit('.', 1)[1]}__{t.__name__}": t for t in SHARED})
centre = test_centre.centre  # the fixture, over the make_centre below


@pytest.fixture
def make_centre(
    tmp_path: Path,
    clock: FakeClock,
    pg_server: PgServer,  # noqa: F811
) -> Callable[..., AbstractAsyncContextManager[Centre]]:
    """As conftest's make_centre, with the centre's data in a fresh PostgreSQL database."""

    @contextlib.asynccontextmanager
    async def make(**options: object) -> AsyncIterator[Centre]:
        data_dir = tmp_path / "centre"
        database = pg_server.new_database()
        await create_centre(
            data_dir,
            name=CENTRE_NAME,
            clock=clock,
            database=database,
            **options,  # type: ignore[arg-type]
        )
        async with open_centre(data_dir, clock=clock) as made:
            assert isinstance(made.store, PgStore)
            yield made

    return make


def test_the_shared_tests_are_collected():
    """The reuse above finds the centre's tests (a rename there must not empty this file)."""
    assert len(SHARED) >= 20


async def test_init_writes_the_database_into_node_toml_and_keeps_no_sqlite_file(
    tmp_path: Path,
    clock: FakeClock,
    pg_server: PgServer,  # noqa: F811
):
    """`centre init --database URL` records the URL; the data directory has no store file."""
    database = pg_server.new_database()
    await create_centre(tmp_path / "c", name=CENTRE_NAME, clock=clock, database=database)
    config = load_config(tmp_path / "c")
    assert config.get("centre", "database") == database
    assert not config.store_path.exists()


async def test_init_refuses_a_database_that_holds_a_centre(
    tmp_path: Path,
    clock: FakeClock,
    pg_server: PgServer,  # noqa: F811
):
    """A second centre init on the same database is refused, naming it; the first stays."""
    database = pg_server.new_database()
    await create_centre(tmp_path / "one", name=CENTRE_NAME, clock=clock, database=database)
    with pytest.raises(CentreError, match="holds a centre already"):
        await create_centre(tmp_path / "two", name=CENTRE_NAME, clock=clock, database=database)
    async with open_centre(tmp_path / "one", clock=clock) as kept, kept.store.read() as conn:
        assert [u.code for u in await list_units(conn)] == [kept.config.code]


async def test_a_database_setting_that_is_not_postgresql_is_refused(tmp_path, clock):
    """centre.database takes a postgresql:// URL only; the error names the setting."""
    with pytest.raises(Exception, match=r"centre\.database must be empty"):
        await create_centre(
            tmp_path / "c", name=CENTRE_NAME, clock=clock, database="mysql://u@h/db"
        )
