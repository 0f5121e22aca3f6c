"""Unit reports in the store: a unit's figures from its documents, outbox and statuses, and
the centre's newest report per unit, its days and the console's units view."""

from collections.abc import Callable

import pytest

from lienthong.protocol.delivery import Event
from lienthong.protocol.report import DELIVERY_BUCKETS, MS_PER_DAY, DayFigures, Report, day_start_ms
from lienthong.protocol.states import DocState
from lienthong.storage.centre import add_token, bind_token, put_unit
from lienthong.storage.db import Store
from lienthong.storage.documents import (
    DocumentRecord,
    change_state,
    record_incoming,
    record_outgoing,
)
from lienthong.storage.errors import StoreError
from lienthong.storage.outbox import apply_delivery_event
from lienthong.storage.relay import MailItem, deposit
from lienthong.storage.reports import (
    MAX_RANGE_DAYS,
    latest_report,
    latest_reports,
    report_days,
    save_report,
    unit_figures,
    units_overview,
)
from lienthong.storage.statuses import StatusEvent, record_status

DAY = "2025-11-24"
START = day_start_ms(DAY)  # 00:00 in Tây Ninh (UTC+07:00)
HOUR = 3_600_000
A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"


def _status(n: int, envelope: str, sender: str, code: int, at: int) -> StatusEvent:
    return StatusEvent(f"01S{n:023d}", envelope, sender, A, code, at, b"raw", "in")


def _histogram(**buckets: int) -> tuple[int, ...]:
    counts = [0] * DELIVERY_BUCKETS
    for index, count in buckets.items():
        counts[int(index[1:])] = count
    return tuple(counts)


async def test_a_unit_counts_its_documents_times_failures_and_open_work(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Sent and received by day, first 01 per recipient bucketed, failures, open documents."""
    early = make_doc(1, direction="out")
    first = make_doc(2, direction="out")
    second = make_doc(3, direction="out")
    arrived = make_doc(4)
    done = make_doc(5)
    async with store.write() as tx:
        await record_outgoing(tx, early, b"e1", [B], actor="vt", at=START - 1)
        await record_outgoing(tx, first, b"e2", [B, C], actor="vt", at=START + HOUR)
        await record_outgoing(tx, second, b"e3", [B], actor="vt", at=START + 25 * HOUR)
        await record_incoming(tx, arrived, b"e4", at=START + 2 * HOUR)
        await record_incoming(tx, done, b"e5", at=START + 26 * HOUR)
        for state in (DocState.ACCEPTED, DocState.COMPLETED):
            await change_state(tx, done.id, state, actor="vt", at=START + 27 * HOUR)
        sent = START + HOUR
        await record_status(tx, _status(1, first.id, B, 1, sent + 500))
        await record_status(tx, _status(2, first.id, B, 1, sent + 9_000))  # a second 01: ignored
        await record_status(tx, _status(3, first.id, B, 3, sent + 20_000))  # not an arrival
        await record_status(tx, _status(4, first.id, C, 1, sent + 120_000))
        await record_status(tx, _status(5, early.id, B, 1, START + 10))
        await apply_delivery_event(tx, second.id, B, Event.FAILED, at=START + 30 * HOUR)
    async with store.read() as conn:
        days, unprocessed = await unit_figures(conn, START, START + 2 * MS_PER_DAY - 1)
    assert days == [
        DayFigures(DAY, sent=1, received=1, failures=0, delivery=_histogram(b0=1, b4=1)),
        DayFigures("2025-11-25", sent=1, received=1, failures=1),
    ]
    assert unprocessed == 1


async def test_a_window_without_documents_gives_zero_days(store: Store) -> None:
    """Every day of the window is there, zeros included; a backwards or huge window is refused."""
    async with store.read() as conn:
        days, unprocessed = await unit_figures(conn, START + 5, START + 3 * MS_PER_DAY)
        assert [d.day for d in days] == ["2025-11-24", "2025-11-25", "2025-11-26", "2025-11-27"]
        assert all(d == DayFigures(d.day) for d in days) and unprocessed == 0
        with pytest.raises(StoreError, match="before its start"):
            await unit_figures(conn, START, START - 1)
        with pytest.raises(StoreError, match=str(MAX_RANGE_DAYS)):
            await unit_figures(conn, START, START + MAX_RANGE_DAYS * MS_PER_DAY)


def _report(at: int, *days: DayFigures, unprocessed: int = 2) -> Report:
    return Report(A, 3, at, "0.1.0", unprocessed, days)


async def test_the_centre_keeps_the_newest_report_and_updates_its_days(store: Store) -> None:
    """A newer report replaces the unit's record and the days it restates; others stay."""
    async with store.write() as tx:
        await save_report(
            tx,
            _report(100, DayFigures("2025-11-23", sent=4), DayFigures(DAY, sent=1, failures=2)),
            b"first",
            received_at=150,
        )
        await save_report(
            tx, _report(200, DayFigures(DAY, sent=3), unprocessed=0), b"second", received_at=250
        )
    async with store.read() as conn:
        held = await latest_report(conn, A)
        every = await latest_reports(conn)
        days = await report_days(conn, "2025-11-01", "2025-11-30")
        one = await report_days(conn, DAY, DAY)
        assert await latest_report(conn, B) is None
    assert held is not None and (held.at, held.received_at, held.raw) == (200, 250, b"second")
    assert (held.serial, held.node_version, held.unprocessed) == (3, "0.1.0", 0)
    assert list(every) == [A]
    assert [(d.code, d.figures) for d in days] == [
        (A, DayFigures("2025-11-23", sent=4)),
        (A, DayFigures(DAY, sent=3)),
    ]
    assert [d.figures.day for d in one] == [DAY]


async def test_the_units_view_joins_registry_reports_and_relay_queue(store: Store) -> None:
    """Each unit with its status, awaiting approval, reported version and mail at the relay."""
    async with store.write() as tx:
        await put_unit(tx, A, "Sở <b>Nội vụ</b>", "Đã triển khai", "active", 1)
        await put_unit(tx, B, "Sở Tài chính", "Thử nghiệm", "pending", 2)
        await add_token(tx, "t1", B, b"s" * 20, 2, 10**13)
        await bind_token(tx, "t1", 3, b"k" * 32, b"e" * 32, b"t" * 32, b"request")
        await save_report(tx, _report(100, DayFigures(DAY)), b"r", received_at=120)
        for n, kind in enumerate(("envelope", "status", "notice", "envelope")):
            recipient = A if n < 3 else B
            await deposit(tx, MailItem(recipient, f"item-{n}", kind, C, b"x", (), 1, 10**13))
    async with store.read() as conn:
        units = await units_overview(conn)
    assert [(u.code, u.status, u.state) for u in units] == [
        (A, "active", "Đã triển khai"),
        (B, "pending", "Thử nghiệm"),
    ]
    a, b = units
    assert (a.node_version, a.reported_at, a.relay_queue, a.awaiting_approval) == (
        "0.1.0",
        120,
        2,
        False,
    )
    assert (b.node_version, b.reported_at, b.relay_queue, b.awaiting_approval) == (
        None,
        None,
        1,
        True,
    )
    assert a.name == "Sở <b>Nội vụ</b>"
