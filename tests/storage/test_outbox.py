"""The outbox: rows created by a send, what is due, each delivery state change checked
against protocol.delivery's table with its audit entry; status events and the directory cache."""

from collections.abc import Callable

import pytest

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery, Event
from lienthong.protocol.states import TransitionError
from lienthong.storage import audit, outbox
from lienthong.storage.db import Store
from lienthong.storage.directory import latest_directory, save_directory
from lienthong.storage.documents import DocumentRecord, record_outgoing
from lienthong.storage.errors import Conflict, NotFound, RollbackRefused
from lienthong.storage.statuses import StatusEvent, record_status, statuses_of

A, B = "000.00.02.H53", "000.00.03.H53"


async def _send(store: Store, doc: DocumentRecord, recipients: list[str], at: int) -> None:
    async with store.write() as tx:
        raw = b"envelope:" + doc.id.encode()
        await record_outgoing(tx, doc, raw, recipients, actor="vt", at=at)


async def _delivery_audit(store: Store) -> list[audit.AuditEntry]:
    async with store.read() as conn:
        return [e for e in await audit.entries(conn) if e.action == "delivery.state"]


async def test_a_send_queues_one_row_per_recipient_due_at_once(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Each recipient's row is QUEUED and due from the send; what is due comes oldest first."""
    first, second = make_doc(1, direction="out"), make_doc(2, direction="out")
    await _send(store, first, [A, B], at=100)
    await _send(store, second, [A], at=200)
    async with store.read() as conn:
        rows = await outbox.rows_for(conn, first.id)
        assert await outbox.due_destinations(conn, 50) == []
        assert sorted(await outbox.due_destinations(conn, 150)) == [A, B]
        assert await outbox.next_due_at(conn) == 100
        due = await outbox.due_for(conn, A, 1000, limit=10)
        assert await outbox.queue_depths(conn) == {A: 2, B: 1}
    assert [(r.recipient, r.state, r.attempts, r.next_attempt_at) for r in rows] == [
        (A, Delivery.QUEUED, 0, 100),
        (B, Delivery.QUEUED, 0, 100),
    ]
    assert [(i.kind, i.id, i.raw) for i in due] == [
        ("envelope", first.id, b"envelope:" + first.id.encode()),
        ("envelope", second.id, b"envelope:" + second.id.encode()),
    ]


async def test_a_failed_attempt_waits_keeping_its_state_until_the_unit_comes_back(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """retry_later counts the attempt and moves the due time, not the state; make_due_now
    brings the row back at once."""
    doc = make_doc(1, direction="out")
    await _send(store, doc, [A], at=100)
    async with store.read() as conn:
        (item,) = await outbox.due_for(conn, A, 100, limit=10)
    async with store.write() as tx:
        await outbox.retry_later(tx, item, next_attempt_at=5000, error="refused", at=160)
    async with store.read() as conn:
        assert await outbox.due_for(conn, A, 4999, limit=10) == []
        (row,) = await outbox.rows_for(conn, doc.id)
    assert (row.state, row.attempts, row.next_attempt_at, row.last_error, row.updated_at) == (
        Delivery.QUEUED,
        1,
        5000,
        "refused",
        160,
    )
    async with store.write() as tx:
        await outbox.make_due_now(tx, A, 200)
    async with store.read() as conn:
        assert [i.id for i in await outbox.due_for(conn, A, 200, limit=10)] == [doc.id]


async def test_an_engine_event_moves_the_state_by_the_table_with_its_audit_entry(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Deposited: QUEUED -> RELAYED, nothing more due, one audit entry naming both states."""
    doc = make_doc(1, direction="out")
    await _send(store, doc, [A], at=100)
    async with store.write() as tx:
        state = await outbox.apply_delivery_event(tx, doc.id, A, Event.DEPOSITED, at=150)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
    assert state is Delivery.RELAYED and row.state == Delivery.RELAYED
    assert row.next_attempt_at is None
    (entry,) = await _delivery_audit(store)
    assert (entry.subject, entry.at, entry.details) == (
        doc.id,
        150,
        {"recipient": A, "from": "queued", "to": "relayed", "why": "deposited"},
    )


async def test_an_event_the_table_refuses_changes_nothing(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A second deposit, or a requeue of a live delivery, raises TransitionError; the row and
    the audit log stay as they were, and an envelope not sent to that unit is NotFound."""
    doc = make_doc(1, direction="out")
    await _send(store, doc, [A], at=100)
    async with store.write() as tx:
        await outbox.apply_delivery_event(tx, doc.id, A, Event.DEPOSITED, at=150)
    for event in (Event.DEPOSITED, Event.REQUEUED):
        with pytest.raises(TransitionError, match="relayed"):
            async with store.write() as tx:
                await outbox.apply_delivery_event(tx, doc.id, A, event, at=160)
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await outbox.apply_delivery_event(tx, doc.id, B, Event.DEPOSITED, at=160)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
    assert (row.state, row.updated_at) == (Delivery.RELAYED, 150)
    assert len(await _delivery_audit(store)) == 1


async def test_an_expired_delivery_is_requeued_and_due_at_once(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """Expired at the relay, then requeued: QUEUED again, due at the requeue's time."""
    doc = make_doc(1, direction="out")
    await _send(store, doc, [A], at=100)
    async with store.write() as tx:
        await outbox.apply_delivery_event(tx, doc.id, A, Event.EXPIRED, at=150)
    async with store.read() as conn:
        assert await outbox.due_for(conn, A, 10**9, limit=10) == []
    async with store.write() as tx:
        await outbox.apply_delivery_event(tx, doc.id, A, Event.REQUEUED, at=300)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
    assert (row.state, row.next_attempt_at) == (Delivery.QUEUED, 300)
    assert [e.details["to"] for e in await _delivery_audit(store)] == ["expired", "queued"]


async def test_statuses_move_a_delivery_forward_only(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """03 after 01 moves it on and stops attempts; a late 01 is kept out of the state and
    writes no audit entry."""
    doc = make_doc(1, direction="out")
    await _send(store, doc, [A], at=100)
    async with store.write() as tx:
        await outbox.apply_status(tx, doc.id, A, StatusCode.ARRIVED, at=110)
        await outbox.apply_status(tx, doc.id, A, StatusCode.ACCEPTED, at=120)
        late = await outbox.apply_status(tx, doc.id, A, StatusCode.ARRIVED, at=130)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
        assert await outbox.delivery_state(conn, doc.id, A) is Delivery.ACCEPTED
    assert late is Delivery.ACCEPTED and row.next_attempt_at is None
    assert [(e.details["to"], e.details["why"]) for e in await _delivery_audit(store)] == [
        ("arrived", "status 01"),
        ("accepted", "status 03"),
    ]


def _status(n: int, envelope: str, to: str, code: int = 3) -> StatusEvent:
    return StatusEvent(f"01S{n:023d}", envelope, B, to, code, 10, b"raw", "out")


async def test_an_outgoing_status_is_queued_once_delivered_and_requeued(store: Store) -> None:
    """queue_status is idempotent; a delivered status is not due; the relay dropping it makes
    it due again."""
    status = _status(1, "E", A)
    async with store.write() as tx:
        await record_status(tx, status)
        await outbox.queue_status(tx, status.id, A, at=100)
        await outbox.queue_status(tx, status.id, A, at=200)
    async with store.read() as conn:
        (item,) = await outbox.due_for(conn, A, 150, limit=10)
    assert (item.kind, item.id, item.raw) == ("status", status.id, b"raw")
    async with store.write() as tx:
        await outbox.status_delivered(tx, status.id, at=160)
    async with store.read() as conn:
        assert await outbox.due_for(conn, A, 10**9, limit=10) == []
        assert await outbox.next_due_at(conn) is None
    async with store.write() as tx:
        await outbox.requeue_status(tx, status.id, at=400)
    async with store.read() as conn:
        assert [i.id for i in await outbox.due_for(conn, A, 400, limit=10)] == [status.id]


async def test_a_01_given_in_a_direct_answer_is_queued_once(store: Store) -> None:
    """queue_arrival queues this node's 01 for the envelope, and only once."""
    arrival, other = _status(1, "E", A, code=1), _status(2, "E", A, code=3)
    async with store.write() as tx:
        await record_status(tx, arrival)
        await record_status(tx, other)
        await outbox.queue_arrival(tx, "E", A, at=100)
        await outbox.queue_arrival(tx, "E", A, at=200)
    async with store.read() as conn:
        due = await outbox.due_for(conn, A, 10**9, limit=10)
    assert [(i.id, i.kind) for i in due] == [(arrival.id, "status")]


async def test_status_is_stored_once(store: Store) -> None:
    """The same status id twice is stored once, byte-exact."""
    event = StatusEvent(
        id="01JSTATUS0000000000000000A",
        envelope_id="E",
        from_code="B",
        to_code="A",
        code=3,
        at=10,
        raw=b"\x00signed",
        direction="in",
        incoming_number=1365,
        note="Cao Thắng",
    )
    async with store.write() as tx:
        assert await record_status(tx, event)
        assert not await record_status(tx, event)
    async with store.read() as conn:
        assert await statuses_of(conn, "E") == [event]


async def test_directory_rollback_is_refused(store: Store) -> None:
    """An older directory version is refused; the newest stays in force."""
    async with store.write() as tx:
        await save_directory(tx, 5, b"v5", 1, 100, 2)
        await save_directory(tx, 7, b"v7", 3, 100, 4)
    with pytest.raises(RollbackRefused, match="6 is older than the cached version 7"):
        async with store.write() as tx:
            await save_directory(tx, 6, b"v6", 5, 100, 6)
    async with store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and (latest.version, latest.raw) == (7, b"v7")


async def test_same_directory_refreshes_and_different_bytes_conflict(store: Store) -> None:
    """The cached version again updates fetched_at; other bytes under it conflict."""
    async with store.read() as conn:
        assert await latest_directory(conn) is None
    async with store.write() as tx:
        await save_directory(tx, 1, b"v1", 1, 100, 2)
        await save_directory(tx, 1, b"v1", 1, 100, 50)
    with pytest.raises(Conflict):
        async with store.write() as tx:
            await save_directory(tx, 1, b"forged", 1, 100, 60)
    async with store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and latest.fetched_at == 50


async def test_old_directories_are_pruned(store: Store) -> None:
    """Only the newest few versions are kept."""
    async with store.write() as tx:
        for version in range(1, 8):
            await save_directory(tx, version, b"v", 1, 100, version)
    async with store.read() as conn:
        kept = await conn.fetchall("SELECT version FROM directory_cache ORDER BY version")
    assert [r[0] for r in kept] == [5, 6, 7]
