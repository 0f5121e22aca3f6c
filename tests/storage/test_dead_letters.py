"""Dead letters in the store: a refusal is counted per item, the same one MAX_SAME_REFUSALS
times in a row (or one that can never pass) stops the item, by protocol.delivery's table and
audited; a clerk puts it back by hand; lists and counts for the page, the CLI and metrics."""

from collections.abc import Callable

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import MAX_SAME_REFUSALS, Delivery
from lienthong.storage import audit, outbox
from lienthong.storage.db import Store
from lienthong.storage.documents import DocumentRecord, record_outgoing
from lienthong.storage.statuses import StatusEvent, record_status

A, B = "000.00.02.H53", "000.00.03.H53"


async def _sent(store: Store, doc: DocumentRecord, recipients: list[str]) -> None:
    async with store.write() as tx:
        await record_outgoing(tx, doc, b"envelope:" + doc.id.encode(), recipients, actor="vt", at=1)


async def _item(store: Store, destination: str, now: int = 10**12) -> outbox.DueItem:
    async with store.read() as conn:
        (item,) = await outbox.due_for(conn, destination, now, limit=10)
    return item


async def _refuse(store: Store, item: outbox.DueItem, error: str, at: int) -> bool:
    async with store.write() as tx:
        return await outbox.refused(
            tx, item, error=error, message=f"{error}: no", next_attempt_at=at + 5, at=at
        )


async def _actions(store: Store) -> list[tuple[str, str, dict]]:
    async with store.read() as conn:
        return [(e.actor, e.action, e.details) for e in await audit.entries(conn)]


async def test_the_same_refusal_max_times_in_a_row_makes_a_dead_letter(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """A transient refusal is retried (due again, state kept) and counted; another refusal
    in between starts the count again; the MAX_SAME_REFUSALS-th same one in a row makes the
    envelope dead: no longer due, not in the queue depth, audited with the reason."""
    doc = make_doc(1, direction="out")
    await _sent(store, doc, [A])
    for n in range(MAX_SAME_REFUSALS - 1):
        assert not await _refuse(store, await _item(store, A), "UnknownSigner", at=100 + n)
    assert not await _refuse(store, await _item(store, A), "ClockSkew", at=200)
    for n in range(MAX_SAME_REFUSALS - 1):
        assert not await _refuse(store, await _item(store, A), "UnknownSigner", at=300 + n)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
        assert row.state == Delivery.QUEUED and row.next_attempt_at == 300 + n + 5
    assert await _refuse(store, await _item(store, A), "UnknownSigner", at=400)
    async with store.read() as conn:
        (row,) = await outbox.rows_for(conn, doc.id)
        assert row.state == Delivery.DEAD and row.next_attempt_at is None
        assert await outbox.due_for(conn, A, 10**12, limit=10) == []
        assert await outbox.queue_depths(conn) == {}
        assert await outbox.dead_letter_counts(conn) == {A: 1}
        (dead,) = await outbox.dead_letters(conn)
    assert (dead.kind, dead.document_id, dead.destination, dead.refused_with) == (
        "envelope",
        doc.id,
        A,
        "UnknownSigner",
    )
    assert dead.refusals == MAX_SAME_REFUSALS and dead.since == 400
    actor, action, details = (await _actions(store))[-1]
    assert (actor, action) == ("delivery", "delivery.state")
    assert (details["from"], details["to"]) == ("queued", "dead")
    assert "UnknownSigner" in details["why"]


async def test_a_refusal_that_can_never_pass_is_a_dead_letter_at_once_and_a_clerk_retries_it(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """NotARecipient stops the envelope to A at the first refusal (B's stays queued);
    retry_dead puts it back due at once with its count cleared, audited with the clerk's
    name; a 01 that comes after a dead letter is believed."""
    doc = make_doc(2, direction="out")
    await _sent(store, doc, [A, B])
    assert await _refuse(store, await _item(store, A), "NotARecipient", at=100)
    async with store.write() as tx:
        assert await outbox.retry_dead(tx, doc.id, actor="vt", at=200, destination=B) == 0
        assert await outbox.retry_dead(tx, doc.id, actor="vt", at=200) == 1
        assert await outbox.retry_dead(tx, doc.id, actor="vt", at=201) == 0
    item = await _item(store, A, now=200)
    assert (item.id, item.attempts) == (doc.id, 1)
    async with store.read() as conn:
        assert await outbox.dead_letters(conn) == []
        row = await conn.fetchone(
            "SELECT refusals, refused_with FROM outbox WHERE recipient = ?", (A,)
        )
    assert tuple(row) == (0, None)
    assert ("vt", "envelope.retried", {"document": doc.id, "destination": A}) in await _actions(
        store
    )
    assert await _refuse(store, item, "InvalidField", at=300)
    async with store.write() as tx:
        state = await outbox.apply_status(tx, doc.id, A, StatusCode.ARRIVED, at=400)
    assert state is Delivery.ARRIVED


async def test_a_status_refused_for_good_is_a_dead_letter_listed_with_its_document(
    store: Store, make_doc: Callable[..., DocumentRecord]
) -> None:
    """An outgoing 03 refused with InvalidField stops (dead_at, not due, audited
    status.dead), is listed with its document and code and counted; retry_dead makes it due."""
    doc = make_doc(3)
    status = StatusEvent("01S" + "0" * 23, doc.id, A, B, 3, 10, b"raw 03", "out")
    async with store.write() as tx:
        await record_status(tx, status)
        await outbox.queue_status(tx, status.id, B, at=100)
    assert await _refuse(store, await _item(store, B), "InvalidField", at=150)
    async with store.read() as conn:
        assert await outbox.due_for(conn, B, 10**12, limit=10) == []
        (dead,) = await outbox.dead_letters(conn, document_id=doc.id)
        assert await outbox.dead_letter_counts(conn) == {B: 1}
    assert (dead.kind, dead.id, dead.document_id, dead.code, dead.since) == (
        "status",
        status.id,
        doc.id,
        3,
        150,
    )
    assert ("delivery", "status.dead") in [(a, b) for a, b, _ in await _actions(store)]
    async with store.write() as tx:
        assert await outbox.retry_dead(tx, doc.id, actor="qt", at=300) == 1
    assert (await _item(store, B, now=300)).id == status.id
