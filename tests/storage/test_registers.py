"""The incoming and outgoing registers: yearly numbering, no gap, no duplicate."""

import asyncio
import multiprocessing
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lienthong.storage import registers as reg
from lienthong.storage.db import Store
from lienthong.storage.documents import DocumentRecord, record_incoming
from lienthong.storage.errors import Conflict, StoreError
from lienthong.storage.registers import IncomingEntry, OutgoingEntry

PROCESSES = 4
ENTRIES_PER_PROCESS = 50


def _paper(arrived_on: str = "2025-03-01", notation: str = "12/UBND-VP") -> IncomingEntry:
    return IncomingEntry(
        arrived_on=arrived_on,
        issuer_name="UBND huyện Hòa Thành",
        issuer_code="000.00.31.H53",
        number_notation=notation,
        doc_date="2025-02-27",
        doc_type="Công văn",
        subject="V/v báo cáo",
        manual=True,
    )


async def _register(store: Store, entry: IncomingEntry) -> int:
    async with store.write() as tx:
        return await reg.register_incoming(tx, entry, actor="clerk", at=store.now())


async def test_numbers_run_from_one_and_restart_each_year(store: Store) -> None:
    """Incoming numbers are 1, 2, 3 within a year and start again at 1 in the next."""
    numbers = [await _register(store, _paper("2024-12-30")) for _ in range(3)]
    numbers.append(await _register(store, _paper("2025-01-01")))
    numbers.append(await _register(store, _paper("2025-01-02")))
    numbers.append(await _register(store, _paper("2024-12-31")))  # a late entry for 2024
    assert numbers == [1, 2, 3, 1, 2, 4]
    async with store.read() as conn:
        year_2024 = await reg.list_register(conn, "incoming", 2024)
        year_2025 = await reg.list_register(conn, "incoming", 2025)
        audited = (
            await conn.fetchone("SELECT count(*) FROM audit_log WHERE action = 'register.incoming'")
        )[0]
    assert [e.number for e in year_2024] == [1, 2, 3, 4]
    assert [(e.year, e.number) for e in year_2025] == [(2025, 1), (2025, 2)]
    assert year_2025[0].manual is True and year_2025[0].document_id is None
    assert audited == 6


async def test_a_document_registers_once(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Registering the same document again returns its number and writes nothing."""
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"e", at=1)
    entry = replace(_paper(), document_id=doc.id, manual=False)
    first = await _register(store, entry)
    again = await _register(store, entry)
    assert first == again == 1
    async with store.read() as conn:
        assert len(await reg.list_register(conn, "incoming", 2025)) == 1


async def test_entry_without_document_must_be_manual(store: Store) -> None:
    """An electronic entry needs its document_id; bad dates are refused."""
    with pytest.raises(StoreError, match="manual"):
        await _register(store, replace(_paper(), manual=False))
    with pytest.raises(StoreError, match="arrived_on"):
        await _register(store, _paper("1/3/2025"))


async def test_reconcile_links_the_paper_entry(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """An electronic copy of a paper document already registered shares its number."""
    await _register(store, _paper(notation="11/UBND-VP"))
    await _register(store, _paper(notation="12/UBND-VP"))
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"e", at=1)
        number = await reg.reconcile_incoming(
            tx,
            doc.id,
            issuer_code="000.00.31.H53",
            number_notation="12/UBND-VP",
            doc_date="2025-02-27",
            actor="clerk",
            at=2,
        )
        again = await reg.reconcile_incoming(
            tx,
            doc.id,
            issuer_code="000.00.31.H53",
            number_notation="12/UBND-VP",
            doc_date="2025-02-27",
            actor="clerk",
            at=3,
        )
        registered = await reg.register_incoming(
            tx, replace(_paper(), document_id=doc.id, manual=False), actor="clerk", at=4
        )
    assert number == again == registered == 2
    async with store.read() as conn:
        entries = await reg.list_register(conn, "incoming", 2025)
    assert [(e.number, e.document_id, e.manual) for e in entries] == [
        (1, None, True),
        (2, doc.id, True),
    ]


async def test_reconcile_without_match_returns_none(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """No manual entry with the same issuer, notation and date: nothing is linked."""
    await _register(store, _paper(notation="12/UBND-VP"))
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"e", at=1)
        assert (
            await reg.reconcile_incoming(
                tx,
                doc.id,
                issuer_code="000.00.31.H53",
                number_notation="12/UBND-VP",
                doc_date="2025-02-28",
                actor="clerk",
                at=2,
            )
            is None
        )


def _outgoing(**overrides: object) -> OutgoingEntry:
    fields: dict[str, object] = {
        "issued_on": "2025-05-23",
        "notation": "VP-TTTH",
        "doc_type": "Công văn",
        "subject": "V/v triển khai",
        "signer": "Trương Văn Hùng",
        "recipients": "Các đơn vị",
        "manual": True,
    }
    fields.update(overrides)
    return OutgoingEntry(**fields)  # type: ignore[arg-type]


async def test_outgoing_numbering(store: Store) -> None:
    """Outgoing entries take the year's next number unless given one; clashes conflict."""
    async with store.write() as tx:
        first = await reg.register_outgoing(tx, _outgoing(), actor="c", at=1)
        second = await reg.register_outgoing(tx, _outgoing(), actor="c", at=2)
        given = await reg.register_outgoing(tx, _outgoing(number=2340), actor="c", at=3)
        next_year = await reg.register_outgoing(
            tx, _outgoing(issued_on="2026-01-01"), actor="c", at=4
        )
    assert (first, second, given, next_year) == (1, 2, 2340, 1)
    with pytest.raises(Conflict, match="2340/VP-TTTH"):
        async with store.write() as tx:
            await reg.register_outgoing(tx, _outgoing(number=2340), actor="c", at=5)
    async with store.read() as conn:
        assert await reg.next_outgoing_number(conn, 2025) == 2341
        listed = await reg.list_register(conn, "outgoing", 2025)
    assert [e.number for e in listed] == [1, 2, 2340]


async def test_outgoing_document_registers_once(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A document already in the outgoing register keeps its number."""
    from lienthong.storage.documents import record_outgoing

    doc = make_doc(1, direction="out")
    async with store.write() as tx:
        await record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=1)
        entry = _outgoing(document_id=doc.id, manual=False)
        assert await reg.register_outgoing(tx, entry, actor="c", at=1) == 1
        assert await reg.register_outgoing(tx, entry, actor="c", at=2) == 1


def _register_in_process(path: str, start: object, worker: int) -> None:
    """One OS process registering ENTRIES_PER_PROCESS paper entries, one per transaction."""

    async def run() -> None:
        async with await Store.open(Path(path)) as store:
            start.wait()  # type: ignore[attr-defined]
            for i in range(ENTRIES_PER_PROCESS):
                await _register(store, _paper(notation=f"{worker}-{i}"))

    asyncio.run(run())


async def test_concurrent_processes_get_numbers_without_gap_or_duplicate(
    tmp_path: Path,
) -> None:
    """4 processes registering 50 entries each at once get exactly the numbers 1..200."""
    path = tmp_path / "store.sqlite3"
    await (await Store.open(path)).close()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_register_in_process, args=(str(path), start, n))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.join, 120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    async with await Store.open(path) as store, store.read() as conn:
        entries = await reg.list_register(conn, "incoming", 2025)
    total = PROCESSES * ENTRIES_PER_PROCESS
    assert [e.number for e in entries] == list(range(1, total + 1))
    assert len({e.number_notation for e in entries}) == total
