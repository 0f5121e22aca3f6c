"""Documents: recording, the state machine, recall, listing and search."""

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from lienthong.protocol.states import DocState, RecallState, TransitionError
from lienthong.storage import documents as docs
from lienthong.storage import outbox
from lienthong.storage.db import Store
from lienthong.storage.documents import DocumentRecord
from lienthong.storage.errors import Conflict, NotFound, StoreError

MakeDoc = Callable[..., DocumentRecord]


async def _audit_count(store: Store) -> int:
    async with store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM audit_log"))[0]


async def _incoming(store: Store, doc: DocumentRecord, at: int = 100) -> None:
    async with store.write() as tx:
        assert await docs.record_incoming(tx, doc, b"raw:" + doc.id.encode(), at=at)


async def test_record_incoming_is_idempotent(store: Store, make_doc: MakeDoc) -> None:
    """The same envelope twice is stored once; the second call writes nothing."""
    doc = make_doc(1)
    await _incoming(store, doc)
    async with store.write() as tx:
        assert not await docs.record_incoming(tx, doc, b"other bytes", at=200)
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
        raw = await docs.get_envelope_raw(conn, doc.id)
    assert stored is not None
    assert (stored.state, stored.recall, stored.created_at) == ("arrived", "none", 100)
    assert stored.metadata == doc.metadata
    assert raw == b"raw:" + doc.id.encode()
    assert await _audit_count(store) == 1


async def test_record_outgoing_writes_document_envelope_outbox_audit(
    store: Store, make_doc: MakeDoc
) -> None:
    """A send is one transaction: document, byte-exact envelope, outbox rows, audit entry."""
    doc = make_doc(2, direction="out")
    envelope = bytes(range(256)) * 8
    async with store.write() as tx:
        await docs.record_outgoing(
            tx, doc, envelope, ["000.00.04.H53", "000.00.06.H53"], actor="clerk", at=300
        )
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
        rows = await outbox.rows_for(conn, doc.id)
        assert await docs.get_envelope_raw(conn, doc.id) == envelope
    assert stored is not None and stored.state == "sent"
    assert [(r.recipient, r.state, r.attempts, r.next_attempt_at) for r in rows] == [
        ("000.00.04.H53", "queued", 0, 300),
        ("000.00.06.H53", "queued", 0, 300),
    ]
    assert await _audit_count(store) == 1


async def test_record_outgoing_twice_is_a_conflict(store: Store, make_doc: MakeDoc) -> None:
    """Sending a document id already stored raises Conflict and rolls back."""
    doc = make_doc(3, direction="out")
    async with store.write() as tx:
        await docs.record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=1)
    with pytest.raises(Conflict):
        async with store.write() as tx:
            await docs.record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=2)
    assert await _audit_count(store) == 1


async def test_record_outgoing_needs_distinct_recipients(store: Store, make_doc: MakeDoc) -> None:
    """No recipients, or one listed twice, is refused."""
    doc = make_doc(4, direction="out")
    for recipients in ([], ["a", "a"]):
        with pytest.raises(StoreError, match="recipient"):
            async with store.write() as tx:
                await docs.record_outgoing(tx, doc, b"e", recipients, actor="c", at=1)


async def test_allowed_transition_writes_state_and_audit(store: Store, make_doc: MakeDoc) -> None:
    """ARRIVED -> ACCEPTED -> ASSIGNED is allowed and each step adds an audit entry."""
    doc = make_doc(5)
    await _incoming(store, doc)
    async with store.write() as tx:
        await docs.change_state(tx, doc.id, DocState.ACCEPTED, actor="clerk", at=500)
        await docs.change_state(
            tx,
            doc.id,
            DocState.ASSIGNED,
            actor="leader",
            at=600,
            details={"to": "Phòng Hành chính"},
        )
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
        last = (await conn.fetchall("SELECT actor, details FROM audit_log ORDER BY seq"))[-1]
    assert stored is not None and (stored.state, stored.updated_at) == ("assigned", 600)
    assert last[0] == "leader"
    assert '"from":"accepted"' in last[1]
    assert await _audit_count(store) == 3


async def test_refused_transition_writes_nothing(store: Store, make_doc: MakeDoc) -> None:
    """ARRIVED -> COMPLETED raises TransitionError; state and audit log are unchanged."""
    doc = make_doc(6)
    await _incoming(store, doc)
    with pytest.raises(TransitionError):
        async with store.write() as tx:
            await docs.change_state(tx, doc.id, DocState.COMPLETED, actor="clerk", at=1)
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
    assert stored is not None and stored.state == "arrived"
    assert await _audit_count(store) == 1


async def test_recalled_needs_a_recall_request(store: Store, make_doc: MakeDoc) -> None:
    """A document becomes RECALLED only through an agreed recall request."""
    doc = make_doc(7)
    await _incoming(store, doc)
    with pytest.raises(TransitionError):
        async with store.write() as tx:
            await docs.change_state(tx, doc.id, DocState.RECALLED, actor="clerk", at=1)
    async with store.write() as tx:
        await docs.change_recall(tx, doc.id, RecallState.REQUESTED, actor="sender", at=2)
        await docs.change_recall(tx, doc.id, RecallState.AGREED, actor="clerk", at=3)
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
    assert stored is not None and (stored.state, stored.recall) == ("recalled", "agreed")


async def test_refused_recall_keeps_the_state(store: Store, make_doc: MakeDoc) -> None:
    """A refused recall leaves the document's state as it was."""
    doc = make_doc(8)
    await _incoming(store, doc)
    async with store.write() as tx:
        await docs.change_state(tx, doc.id, DocState.ACCEPTED, actor="clerk", at=1)
        await docs.change_recall(tx, doc.id, RecallState.REQUESTED, actor="sender", at=2)
        await docs.change_recall(tx, doc.id, RecallState.REFUSED, actor="clerk", at=3)
    async with store.read() as conn:
        stored = await docs.get_document(conn, doc.id)
    assert stored is not None and (stored.state, stored.recall) == ("accepted", "refused")
    with pytest.raises(TransitionError):
        async with store.write() as tx:
            await docs.change_recall(tx, doc.id, RecallState.AGREED, actor="clerk", at=4)


async def test_change_state_of_unknown_or_outgoing_document(
    store: Store, make_doc: MakeDoc
) -> None:
    """An unknown id raises NotFound; an outgoing document has no incoming state."""
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await docs.change_state(tx, "nope", DocState.ACCEPTED, actor="c", at=1)
    doc = make_doc(9, direction="out")
    async with store.write() as tx:
        await docs.record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=1)
    with pytest.raises(StoreError, match="outgoing"):
        async with store.write() as tx:
            await docs.change_state(tx, doc.id, DocState.ACCEPTED, actor="c", at=2)


async def _many(store: Store, make_doc: MakeDoc, count: int) -> None:
    async with store.write() as tx:
        for n in range(count):
            # Two documents per millisecond: the id breaks ties in the keyset.
            doc = make_doc(n, urgency=n % 4, sender_code=f"000.00.{n % 3:02d}.H53")
            await docs.record_incoming(tx, doc, b"e", at=1000 + n // 2)


async def test_keyset_pagination_visits_each_document_once(store: Store, make_doc: MakeDoc) -> None:
    """Following `before` cursors lists every document once, newest first."""
    await _many(store, make_doc, 101)
    seen: list[DocumentRecord] = []
    before = None
    async with store.read() as conn:
        while page := await docs.list_documents(conn, direction="in", limit=10, before=before):
            seen.extend(page)
            before = (page[-1].created_at, page[-1].id)
    keys = [(d.created_at, d.id) for d in seen]
    assert len(keys) == 101 == len(set(keys))
    assert keys == sorted(keys, reverse=True)


async def test_filters(store: Store, make_doc: MakeDoc) -> None:
    """State, urgency, sender and time filters each narrow the listing correctly."""
    await _many(store, make_doc, 40)
    async with store.write() as tx:
        await docs.change_state(tx, make_doc(5).id, DocState.ACCEPTED, actor="c", at=9)
    async with store.read() as conn:
        accepted = await docs.list_documents(conn, direction="in", state="accepted")
        urgent = await docs.list_documents(conn, direction="in", urgency=3)
        normal = await docs.list_documents(conn, direction="in", urgency=0)
        sender = await docs.list_documents(conn, direction="in", sender="000.00.01.H53")
        window = await docs.list_documents(conn, direction="in", since=1005, until=1007)
        outgoing = await docs.list_documents(conn, direction="out")
    assert [d.id for d in accepted] == [make_doc(5).id]
    assert len(urgent) == 10 and all(d.urgency == 3 for d in urgent)
    assert len(normal) == 10 and all(d.urgency == 0 for d in normal)
    assert len(sender) == 13 and all(d.sender_code == "000.00.01.H53" for d in sender)
    assert sorted(d.created_at for d in window) == [1005, 1005, 1006, 1006]
    assert outgoing == []


async def test_search_folds_diacritics(store: Store, make_doc: MakeDoc) -> None:
    """Inbox search finds 'triển khai' from 'trien khai' and needs every word."""
    await _incoming(store, make_doc(1, subject="V/v triển khai liên thông eOffice"))
    await _incoming(store, make_doc(2, subject="V/v báo cáo tháng 5"))
    async with store.read() as conn:
        found = await docs.list_documents(conn, direction="in", search="trien khai")
        both = await docs.list_documents(conn, direction="in", search="trien bao")
        notation = await docs.list_documents(conn, direction="in", search="TTTH")
    assert [d.id for d in found] == [make_doc(1).id]
    assert both == []
    assert len(notation) == 2


async def test_outgoing_search_matches_substrings(store: Store, make_doc: MakeDoc) -> None:
    """Outgoing search matches every word as a substring of subject/notation/issuer."""
    async with store.write() as tx:
        for n, subject in ((1, "Kế hoạch eOffice 2024"), (2, "Báo cáo quý")):
            doc = make_doc(n, direction="out", subject=subject)
            await docs.record_outgoing(tx, doc, b"e", ["000.00.04.H53"], actor="c", at=n)
    async with store.read() as conn:
        found = await docs.list_documents(conn, direction="out", search="office 2024")
    assert [d.id for d in found] == [make_doc(1).id]


class _Recording:
    """A reader that remembers the SQL it was given."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.calls = conn, []

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.calls.append((sql, params))
        return await self.conn.fetchall(sql, params)


async def test_listing_uses_indexes(store: Store) -> None:
    """list_documents' queries are answered from indexes, without a sort or table scan."""
    filters: dict[str, dict[str, Any]] = {
        "documents_by_time": {},
        "documents_by_state": {"state": "arrived"},
        "documents_by_urgency": {"urgency": 2},
        "documents_by_sender": {"sender": "000.00.05.H53"},
    }
    async with store.read() as conn:
        for index, kwargs in filters.items():
            recording = _Recording(conn)
            await docs.list_documents(recording, direction="in", before=(5, "x"), **kwargs)
            sql, params = recording.calls[0]
            rows = await conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(r[3] for r in rows)
            assert index in plan, plan
            assert "TEMP B-TREE" not in plan, plan


async def test_listing_limits_are_enforced(store: Store) -> None:
    """Page size, direction and search length are checked."""
    async with store.read() as conn:
        with pytest.raises(StoreError, match="limit"):
            await docs.list_documents(conn, direction="in", limit=10_000)
        with pytest.raises(StoreError, match="direction"):
            await docs.list_documents(conn, direction="sideways")
        with pytest.raises(StoreError, match="search"):
            await docs.list_documents(conn, direction="in", search="x" * 1000)
