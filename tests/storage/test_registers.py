"""The incoming and outgoing registers: yearly numbering, no gap, no duplicate; numbers as
text compared by their register key; a twin found whatever zeros the clerk typed."""

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
    """Outgoing entries take the register's next number of the year, written with two digits
    below 10, unless given one; a number taken (as the register compares it) conflicts."""
    async with store.write() as tx:
        first = await reg.register_outgoing(tx, _outgoing(), actor="c", at=1)
        second = await reg.register_outgoing(tx, _outgoing(), actor="c", at=2)
        given = await reg.register_outgoing(tx, _outgoing(number="2340"), actor="c", at=3)
        next_year = await reg.register_outgoing(
            tx, _outgoing(issued_on="2026-01-01"), actor="c", at=4
        )
    assert (first, second, given, next_year) == ("01", "02", "2340", "01")
    with pytest.raises(Conflict, match="2340/VP-TTTH"):
        async with store.write() as tx:
            await reg.register_outgoing(tx, _outgoing(number="2340"), actor="c", at=5)
    with pytest.raises(StoreError, match="digits from 01"):
        async with store.write() as tx:
            await reg.register_outgoing(tx, _outgoing(number="0"), actor="c", at=6)
    async with store.read() as conn:
        assert await reg.next_outgoing_number(conn, "chung", 2025) == "2341"
        listed = await reg.list_register(conn, "outgoing", 2025)
    assert [e.number for e in listed] == ["01", "02", "2340"]
    assert listed[0].number_notation == "01/VP-TTTH"


async def test_outgoing_document_registers_once(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A document already in the outgoing register keeps its number."""
    from lienthong.storage.documents import record_outgoing

    doc = make_doc(1, direction="out")
    async with store.write() as tx:
        await record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=1)
        entry = _outgoing(document_id=doc.id, manual=False)
        assert await reg.register_outgoing(tx, entry, actor="c", at=1) == "01"
        assert await reg.register_outgoing(tx, entry, actor="c", at=2) == "01"


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


async def test_numbers_are_unique_per_register_and_key(store: Store) -> None:
    """ "05/VP-TTTH" takes "5/VP-TTTH" and "05/vp-ttth" too, in its register and year only;
    "49/2025/QĐ-UBND" and "49/QĐ-UBND" are different numbers; another register or another
    year has its own."""
    async with store.write() as tx:
        assert await reg.register_outgoing(tx, _outgoing(number="05"), actor="c", at=1) == "05"
    for number, notation in (("5", "VP-TTTH"), ("05", "vp-ttth"), ("005", "Vp-Ttth")):
        with pytest.raises(Conflict, match="already taken \\(by 05/VP-TTTH\\)"):
            async with store.write() as tx:
                await reg.register_outgoing(
                    tx, _outgoing(number=number, notation=notation), actor="c", at=2
                )
    async with store.write() as tx:
        legal = _outgoing(number="49", notation="QĐ-UBND", doc_type="quyet_dinh")
        await reg.register_outgoing(tx, replace(legal, number_year=2025), actor="c", at=3)
        await reg.register_outgoing(tx, legal, actor="c", at=4)
        await reg.register_outgoing(tx, _outgoing(number="05", register="mat"), actor="c", at=5)
        await reg.register_outgoing(
            tx, _outgoing(number="05", issued_on="2026-01-02"), actor="c", at=6
        )
    with pytest.raises(Conflict, match="49/2025/QĐ-UBND"):
        async with store.write() as tx:
            again = replace(legal, number_year=2025, notation="qđ-ubnd")
            await reg.register_outgoing(tx, again, actor="c", at=7)
    async with store.read() as conn:
        chung = await reg.list_register(conn, "outgoing", 2025, "chung")
        mat = await reg.list_register(conn, "outgoing", 2025, "mat")
        assert await reg.next_outgoing_number(conn, "mat", 2025) == "06"
        assert await reg.next_outgoing_number(conn, "sao", 2025) == "01"
    assert [e.number_notation for e in chung] == ["05/VP-TTTH", "49/2025/QĐ-UBND", "49/QĐ-UBND"]
    assert [e.number_key for e in chung] == ["5//vp-ttth", "49/2025/qđ-ubnd", "49//qđ-ubnd"]
    assert [e.number_notation for e in mat] == ["05/VP-TTTH"]


def test_rules_put_each_document_in_its_series() -> None:
    """The defaults: Mật and above in "mat", legal documents (a legal type, or a number that
    carries its year) one register per type, copies in "sao", the rest in "chung"; the
    incoming register splits secret documents off. Other rules merge or split them."""
    rules = reg.RegisterRules()
    assert rules.outgoing("cong_van", None, 0) == "chung"
    assert rules.outgoing("quyet_dinh", None, 0) == "chung"  # 49/QĐ-UBND: administrative
    assert rules.outgoing("quyet_dinh", 2025, 0) == "qppl_quyet_dinh"  # 49/2025/QĐ-UBND
    assert rules.outgoing("nghi_quyet", 2025, 0) == "qppl_nghi_quyet"
    assert rules.outgoing("thong_tu", None, 0) == "qppl_thong_tu"  # a legal type
    assert rules.outgoing("quyet_dinh", 2025, 1) == "mat"  # secret first
    assert rules.outgoing("ban_sao_y", None, 0) == "sao"
    assert rules.outgoing("ban_trich_sao", None, 0) == "sao"
    assert (rules.incoming(0), rules.incoming(1), rules.incoming(3)) == ("chung", "mat", "mat")
    merged = reg.RegisterRules(secret="", copies="", legal="one", own_series=("giay_moi",))
    assert merged.outgoing("cong_van", None, 2) == "chung"
    assert merged.outgoing("ban_sao_y", None, 0) == "chung"
    assert merged.outgoing("quyet_dinh", 2025, 0) == "qppl"
    assert merged.outgoing("giay_moi", None, 0) == "giay_moi"
    assert reg.RegisterRules(legal="general").outgoing("luat", 2025, 0) == "chung"
    assert reg.RegisterRules(incoming_secret="").incoming(2) == "chung"


async def test_incoming_secret_documents_have_their_own_numbers(store: Store) -> None:
    """The incoming register "mat" numbers from 1 beside the general one, each without gap."""
    numbers = [
        await _register(store, replace(_paper(notation=f"{n}/UBND-VP"), register=register))
        for n, register in enumerate(["chung", "mat", "chung", "mat", "mat"], start=1)
    ]
    assert numbers == [1, 1, 2, 2, 3]
    with pytest.raises(StoreError, match="register's name"):
        await _register(store, replace(_paper(), register="Mật"))
    async with store.read() as conn:
        assert await reg.registers_in_use(conn, "incoming", 2025) == {"chung": 2, "mat": 3}


async def test_the_paper_twin_is_found_by_its_register_key(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A paper entry typed "5/VP-TTTH" is the twin of "05/VP-TTTH" arriving electronically
    from the same issuer with the same date; another issuer's is not."""
    await _register(store, replace(_paper(notation="5/VP-TTTH"), issuer_code="000.00.09.H53"))
    await _register(store, _paper(notation="5/VP-TTTH"))
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"e", at=1)
        number = await reg.reconcile_incoming(
            tx,
            doc.id,
            issuer_code="000.00.31.H53",
            number_notation="05/VP-TTTH",
            doc_date="2025-02-27",
            actor="clerk",
            at=2,
        )
    assert number == 2
    async with store.read() as conn:
        line = await reg.incoming_line_of(conn, doc.id)
    assert (line.number, line.number_notation, line.number_key) == (2, "5/VP-TTTH", "5//vp-ttth")


async def test_possible_duplicates_of_this_year_and_last(store: Store) -> None:
    """Lines of the year or the year before with the same key are named, of the same issuer
    or of an unnamed one; an older year, another issuer or another number is not."""
    await _register(store, _paper("2023-06-01", notation="05/VP-TTTH"))
    await _register(store, _paper("2024-06-01", notation="05/VP-TTTH"))
    await _register(store, _paper("2025-06-01", notation="06/VP-TTTH"))
    await _register(
        store, replace(_paper("2025-06-02", notation="05/VP-TTTH"), issuer_code="000.00.09.H53")
    )
    await _register(store, replace(_paper("2025-06-03", notation="005/vp-ttth"), issuer_code=None))
    async with store.read() as conn:
        found = await reg.possible_duplicates(
            conn, "5/VP-TTTH", year=2025, issuer_code="000.00.31.H53"
        )
        anyone = await reg.possible_duplicates(conn, "5/VP-TTTH", year=2025)
    assert [(e.year, e.number, e.arrived_on) for e in found] == [
        (2024, 1, "2024-06-01"),
        (2025, 3, "2025-06-03"),
    ]
    assert len(anyone) == 3


async def test_pages_of_a_long_register(store: Store) -> None:
    """250 lines: three pages of 100, 100 and 50 in number order, each page's cursors lead
    to its neighbours and back; the export's batches give every line once."""
    async with store.write() as tx:
        for _ in range(250):
            await reg.register_incoming(tx, _paper(), actor="c", at=1)
    async with store.read() as conn:
        first = await reg.register_page(conn, "incoming", "chung", 2025)
        second = await reg.register_page(conn, "incoming", "chung", 2025, after=first.next)
        third = await reg.register_page(conn, "incoming", "chung", 2025, after=second.next)
        back = await reg.register_page(conn, "incoming", "chung", 2025, before=third.previous)
        batches = [
            [e.number for e in batch]
            async for batch in reg.lines(conn, "incoming", "chung", 2025, batch=64)
        ]
        with pytest.raises(StoreError, match="cursor"):
            await reg.register_page(conn, "incoming", "chung", 2025, after="1; DROP")
    assert [e.number for e in first.lines] == list(range(1, 101))
    assert first.previous is None and first.next is not None
    assert [e.number for e in second.lines] == list(range(101, 201))
    assert [e.number for e in third.lines] == list(range(201, 251))
    assert third.next is None and third.previous is not None
    assert [e.number for e in back.lines] == list(range(101, 201))
    assert [len(b) for b in batches] == [64, 64, 64, 58]
    assert [n for b in batches for n in b] == list(range(1, 251))


async def test_recall_and_links_mark_the_line(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """An agreed recall marks the line with its day and reason (once); a link note is added
    once per text; a document without a line is told apart (False)."""
    doc = make_doc(1)
    async with store.write() as tx:
        await record_incoming(tx, doc, b"e", at=1)
    await _register(store, replace(_paper(), document_id=doc.id, manual=False))
    async with store.write() as tx:
        assert await reg.mark_recalled(
            tx, doc.id, on="2025-03-05", reason="Sai\nsót", actor="A", at=2
        )
        assert await reg.mark_recalled(tx, doc.id, on="2025-03-09", reason="x", actor="A", at=3)
        assert not await reg.mark_recalled(
            tx, "01J" + "Q" * 23, on="2025-03-05", reason=None, actor="A", at=4
        )
        note = "Được cập nhật bởi văn bản số 12/VP-TTTH ngày 06/03/2025"
        assert await reg.note_link(tx, doc.id, note, actor="A", at=5)
        assert await reg.note_link(tx, doc.id, note, actor="A", at=6)
        assert await reg.note_link(tx, doc.id, "Thay thế " + "x" * 400, actor="A", at=7)
        with pytest.raises(StoreError, match="empty"):
            await reg.note_link(tx, doc.id, " \n ", actor="A", at=8)
        with pytest.raises(StoreError, match="YYYY-MM-DD"):
            await reg.mark_recalled(tx, doc.id, on="5/3/2025", reason=None, actor="A", at=9)
    async with store.read() as conn:
        line = await reg.incoming_line_of(conn, doc.id)
        recalled = await conn.fetchone(
            "SELECT count(*) FROM audit_log WHERE action = 'register.recalled'"
        )
    assert (line.recalled_on, line.recall_reason) == ("2025-03-05", "Sai sót")
    notes = line.link_notes.split("\n")
    assert notes[0] == note and len(notes) == 2
    assert len(notes[1]) == reg.MAX_LINK_NOTE_CHARS and notes[1].endswith("…")
    assert recalled[0] == 1
