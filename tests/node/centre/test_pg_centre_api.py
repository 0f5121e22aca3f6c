"""The centre's HTTPS API on PostgreSQL: the tests of test_centre_api.py (enrolment,
approval, directory with its ETags, rotation) and test_protocol_versions.py, run again on a
centre whose data lives in a PostgreSQL database."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from aiohttp import web

from lienthong.crypto import x509 as tls
from lienthong.node.centre.api import add_centre_routes
from lienthong.node.centre.rules import centre_of
from lienthong.node.context import CONTEXT
from lienthong.node.peers import peer_middleware
from lienthong.storage.store_pg import PgStore
from tests.node.centre import test_centre_api, test_protocol_versions
from tests.node.centre.test_centre_api import Served
from tests.node.centre.test_pg_centre import make_centre  # noqa: F401 - fixture by name
from tests.node.centre_support import FakeClock, centre_context
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

SHARED = [
    test
    for module in (test_centre_api, test_protocol_versions)
    for name, test in vars(module).items()
    if name.startswith("test_")
]
globals().update({f"{t.__module__.rsplit('.', 1)[1]}__{t.__name__}": t for t in SHARED})
served = test_centre_api.served
centre = test_protocol_versions.centre


def test_the_shared_tests_are_collected():
    """The reuse above finds the API's tests (a rename there must not empty this file)."""
    assert len(SHARED) >= 12


@pytest.fixture
def serve(
    tmp_path: Path,
    clock: FakeClock,
    pg_server: PgServer,  # noqa: F811
) -> Callable[..., AbstractAsyncContextManager[Served]]:
    """As test_centre_api's serve, the centre's data in a fresh PostgreSQL database."""

    @contextlib.asynccontextmanager
    async def start(**options: object) -> AsyncIterator[Served]:
        database = pg_server.new_database()
        ctx = await centre_context(
            tmp_path / "centre", clock, blobs=tmp_path / "blobs", database=database, **options
        )
        store, config = ctx.store, ctx.config
        assert isinstance(store, PgStore)
        centre = centre_of(ctx)
        app = web.Application(middlewares=[peer_middleware])
        app[CONTEXT] = ctx
        add_centre_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = tls.server_context(config.tls_cert_path, config.tls_key_path, config.ca_path)
        context.verify_mode = ssl.CERT_OPTIONAL
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Served(f"https://127.0.0.1:{port}", ctx, centre, config.ca_path, tmp_path)
        finally:
            await runner.cleanup()
            await store.close()

    return start
