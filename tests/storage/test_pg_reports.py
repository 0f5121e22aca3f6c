"""The centre's storage tests of unit reports and of the audit chain, run again on
PostgreSQL (the tests of test_reports.py and test_audit.py that use only the centre's tables)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lienthong.storage.store_pg import PgStore
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name
from tests.storage import test_audit, test_reports

# Not here: what a unit computes from its documents (a centre has none), and the audit
# tests that tamper with the log through SQLite's own trigger syntax (test_pg_relay.py
# shows the PostgreSQL log refusing an UPDATE).
UNIT_OR_SQLITE_ONLY = {
    "test_a_unit_counts_its_documents_times_failures_and_open_work",
    "test_a_window_without_documents_gives_zero_days",
    "test_update_and_delete_are_refused",
    "test_tampering_names_the_first_bad_entry",
    "test_deleted_entry_is_found",
    "test_verify_crosses_batches",
}
SHARED = [
    test
    for module in (test_audit, test_reports)
    for name, test in vars(module).items()
    if name.startswith("test_") and name not in UNIT_OR_SQLITE_ONLY
]
globals().update({f"{t.__module__.rsplit('.', 1)[1]}__{t.__name__}": t for t in SHARED})


@pytest.fixture
async def store(clock, pg_server: PgServer) -> AsyncIterator[PgStore]:  # noqa: F811
    """A centre's store in a fresh PostgreSQL database, on the test's clock."""
    async with await PgStore.open(pg_server.new_database(), clock=clock) as opened:
        yield opened


def test_the_shared_tests_are_collected():
    """Every name left out still exists there, and the rest are run here."""
    names = {n for m in (test_audit, test_reports) for n in vars(m) if n.startswith("test_")}
    assert names >= UNIT_OR_SQLITE_ONLY
    assert len(SHARED) == len(names) - len(UNIT_OR_SQLITE_ONLY) >= 5
