"""The outbox: each outgoing envelope per recipient and each outgoing status per
destination, what is due for delivery now, and every change of a delivery's state.

A row of `outbox` (one envelope to one recipient) carries its delivery state, a
`protocol.delivery.Delivery`. The row is created QUEUED (`queue_envelope`); after
that the state changes only through `apply_delivery_event` or `apply_status`,
which check protocol.delivery's table and write the audit entry in the caller's
transaction, so a change that is not allowed changes nothing. A row of
`status_outbox` (one status to its destination) has no state column: it is due
(`next_attempt_at`), delivered (`delivered_at`) or a dead letter (`dead_at`), and its
two changes of the delivery table (refused → dead, requeued → queued) are checked
against protocol.delivery too. In both tables `next_attempt_at` is NULL once nothing
more is due. A refusal by the destination goes through `refused`, which makes the item
a dead letter when protocol.delivery.dead_letter says so; `retry_dead` puts dead
letters back in the queue by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import (
    Delivery,
    Event,
    after_event,
    after_status,
    dead_letter,
)
from lienthong.protocol.states import TransitionError
from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import NotFound

MAX_BATCH = 1000  # most items handed to one delivery attempt


@dataclass(frozen=True)
class OutboxRow:
    envelope_id: str
    recipient: str
    state: str
    attempts: int
    next_attempt_at: int | None
    last_error: str | None
    updated_at: int
    refused_with: str | None = None  # the last refusal's error name (docs/PROTOCOL.md 16.4)
    refusals: int = 0  # that refusal, so many times in a row


@dataclass(frozen=True)
class DueItem:
    kind: str  # "envelope" | "status"
    id: str  # envelope id or status id
    destination: str
    raw: bytes
    attempts: int
    # An envelope the relay holds already (RELAYED) whose 01 has not come: due for a
    # direct attempt only (docs/PROTOCOL.md 20.3).
    relayed: bool = False


_QUEUE = (
    "INSERT INTO outbox (envelope_id, recipient, state, attempts, next_attempt_at, updated_at)"
    " VALUES (?, ?, ?, 0, ?, ?)"
)
_QUEUED = Delivery.QUEUED.value


async def queue_envelope(tx: Tx, envelope_id: str, recipients: Sequence[str], *, at: int) -> None:
    """One row per recipient for a stored envelope being sent: QUEUED and due at once."""
    if len(recipients) == 1:  # the commonest send: one statement, no list of rows
        await tx.execute(_QUEUE, (envelope_id, recipients[0], _QUEUED, at, at))
        return
    await tx.executemany(_QUEUE, [(envelope_id, r, _QUEUED, at, at) for r in recipients])


async def rows_for(conn: Queryable, envelope_id: str) -> list[OutboxRow]:
    """Every recipient's outbox row of one envelope."""
    rows = await conn.fetchall(
        "SELECT envelope_id, recipient, state, attempts, next_attempt_at, last_error,"
        " updated_at, refused_with, refusals FROM outbox WHERE envelope_id = ?"
        " ORDER BY recipient",
        (envelope_id,),
    )
    return [OutboxRow(*r) for r in rows]


async def due_destinations(conn: Queryable, now: int) -> list[str]:
    """Units that have at least one envelope or status due for delivery at `now`."""
    rows = await conn.fetchall(
        "SELECT DISTINCT recipient FROM outbox WHERE next_attempt_at <= ?"
        " UNION SELECT DISTINCT destination FROM status_outbox WHERE next_attempt_at <= ?",
        (now, now),
    )
    return [r[0] for r in rows]


async def next_due_at(conn: Queryable) -> int | None:
    row = await conn.fetchone(
        "SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM outbox"
        " UNION ALL SELECT min(next_attempt_at) FROM status_outbox)"
    )
    return None if row is None or row[0] is None else int(row[0])


async def due_for(conn: Queryable, destination: str, now: int, limit: int) -> list[DueItem]:
    """Envelopes then statuses due for one destination, oldest first, at most `limit`."""
    limit = max(1, min(limit, MAX_BATCH))
    envelopes = await conn.fetchall(
        "SELECT o.envelope_id, d.envelope, o.attempts, o.state FROM outbox o JOIN documents d"
        " ON d.id = o.envelope_id WHERE o.recipient = ? AND o.next_attempt_at <= ?"
        " ORDER BY o.next_attempt_at LIMIT ?",
        (destination, now, limit),
    )
    statuses = await conn.fetchall(
        "SELECT s.status_id, e.raw, s.attempts FROM status_outbox s JOIN status_events e"
        " ON e.id = s.status_id WHERE s.destination = ? AND s.next_attempt_at <= ?"
        " ORDER BY s.next_attempt_at LIMIT ?",
        (destination, now, limit),
    )
    relayed = Delivery.RELAYED.value
    return [
        DueItem("envelope", r[0], destination, bytes(r[1]), r[2], r[3] == relayed)
        for r in envelopes
    ] + [DueItem("status", r[0], destination, bytes(r[1]), r[2]) for r in statuses]


async def delivery_state(conn: Queryable, envelope_id: str, recipient: str) -> Delivery:
    row = await conn.fetchone(
        "SELECT state FROM outbox WHERE envelope_id = ? AND recipient = ?",
        (envelope_id, recipient),
    )
    if row is None:
        raise NotFound(f"envelope {envelope_id} was not sent to {recipient}")
    return Delivery(row[0])


async def _set_state(
    tx: Tx,
    envelope_id: str,
    recipient: str,
    old: Delivery,
    new: Delivery,
    *,
    at: int,
    next_attempt_at: int | None,
    why: str,
) -> None:
    await tx.execute(
        "UPDATE outbox SET state = ?, next_attempt_at = ?, updated_at = ?"
        " WHERE envelope_id = ? AND recipient = ?",
        (new.value, next_attempt_at, at, envelope_id, recipient),
    )
    if new is not old:
        await audit.append(
            tx,
            at=at,
            actor="delivery",
            action="delivery.state",
            subject=envelope_id,
            details={"recipient": recipient, "from": old.value, "to": new.value, "why": why},
        )


async def apply_delivery_event(
    tx: Tx,
    envelope_id: str,
    recipient: str,
    event: Event,
    *,
    at: int,
    next_attempt_at: int | None = None,
) -> Delivery:
    """Apply an engine event (deposited, expired, ...); TransitionError if not allowed."""
    old = await delivery_state(tx, envelope_id, recipient)
    new = after_event(old, event)
    if event is Event.REQUEUED:
        next_attempt_at = at
    await _set_state(
        tx,
        envelope_id,
        recipient,
        old,
        new,
        at=at,
        next_attempt_at=next_attempt_at,
        why=event.value,
    )
    return new


async def apply_status(
    tx: Tx, envelope_id: str, recipient: str, code: StatusCode, *, at: int
) -> Delivery:
    """Move a delivery forward for a recipient's status; any status stops further attempts."""
    old = await delivery_state(tx, envelope_id, recipient)
    new = after_status(old, code)
    await _set_state(
        tx,
        envelope_id,
        recipient,
        old,
        new,
        at=at,
        next_attempt_at=None,
        why=f"status {int(code):02d}",
    )
    return new


async def retry_later(
    tx: Tx, item: DueItem, *, next_attempt_at: int | None, error: str, at: int
) -> None:
    """Record a failed attempt; the item is due again at `next_attempt_at` (None: not
    unless something makes it due; its state stays)."""
    table, key, dest = (
        ("outbox", "envelope_id", "recipient")
        if item.kind == "envelope"
        else ("status_outbox", "status_id", "destination")
    )
    await tx.execute(
        f"UPDATE {table} SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,"  # noqa: S608
        f" updated_at = ? WHERE {key} = ? AND {dest} = ?",
        (next_attempt_at, error[:500], at, item.id, item.destination),
    )


async def queue_status(tx: Tx, status_id: str, destination: str, *, at: int) -> None:
    """Put a recorded outgoing status in the outbox to its destination (idempotent)."""
    await tx.execute(
        "INSERT INTO status_outbox (status_id, destination, next_attempt_at, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (status_id) DO NOTHING",
        (status_id, destination, at, at),
    )


async def queue_arrival(tx: Tx, document_id: str, destination: str, *, at: int) -> None:
    """Queue the 01 this node gave for a received document (its id here) to `destination`,
    unless it is queued or delivered already: for a 01 first given in the answer to a
    direct delivery."""
    await tx.execute(
        "INSERT INTO status_outbox (status_id, destination, next_attempt_at, updated_at)"
        " SELECT id, ?, ?, ? FROM status_events"
        " WHERE envelope_id = ? AND code = 1 AND direction = 'out'"
        " ON CONFLICT (status_id) DO NOTHING",
        (destination, at, at, document_id),
    )


async def requeue_status(tx: Tx, status_id: str, *, at: int) -> None:
    """A status the relay dropped unread (retention ended): due again now."""
    await tx.execute(
        "UPDATE status_outbox SET next_attempt_at = ?, delivered_at = NULL, updated_at = ?"
        " WHERE status_id = ?",
        (at, at, status_id),
    )


async def status_delivered(tx: Tx, status_id: str, *, at: int) -> None:
    await tx.execute(
        "UPDATE status_outbox SET next_attempt_at = NULL, delivered_at = ?, updated_at = ?"
        " WHERE status_id = ?",
        (at, at, status_id),
    )


async def queue_depths(conn: Queryable) -> dict[str, int]:
    """Items waiting per destination (envelopes and statuses), for health and metrics."""
    rows = await conn.fetchall(
        "SELECT d, count(*) FROM (SELECT recipient AS d FROM outbox WHERE next_attempt_at"
        " IS NOT NULL UNION ALL SELECT destination FROM status_outbox WHERE next_attempt_at"
        " IS NOT NULL) GROUP BY d"
    )
    return {r[0]: r[1] for r in rows}


async def make_due_now(tx: Tx, destination: str, now: int, *, relayed: bool = True) -> None:
    """A unit came back: everything waiting for it is due at once (its backoff is over).
    With `relayed` False, envelopes the relay holds keep their time for a direct attempt
    (the unit was reached through the relay, not seen)."""
    await tx.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE recipient = ? AND next_attempt_at > ?"
        " AND (? OR state != ?)",
        (now, destination, now, relayed, Delivery.RELAYED.value),
    )
    await tx.execute(
        "UPDATE status_outbox SET next_attempt_at = ? WHERE destination = ?"
        " AND next_attempt_at > ?",
        (now, destination, now),
    )


# -- dead letters ---------------------------------------------------------------------------

# Dead letters listed at once (`lienthong outbox --json`, a document's page): an office
# has a handful; the metric counts them all.
MAX_DEAD_LETTERS = 1000


@dataclass(frozen=True)
class DeadLetter:
    """An outgoing item its destination kept refusing, no longer retried."""

    kind: str  # "envelope" | "status"
    id: str  # the envelope's id (its document's here), or the status's id
    document_id: str  # the document it belongs to
    destination: str
    code: int | None  # a status's code; None for an envelope
    refused_with: str | None  # the error name of the last refusal (docs/PROTOCOL.md 16.4)
    refusals: int  # that refusal, so many times in a row
    attempts: int
    last_error: str | None
    since: int  # unix ms it became a dead letter


def _keys(kind: str) -> tuple[str, str, str]:
    if kind == "envelope":
        return "outbox", "envelope_id", "recipient"
    return "status_outbox", "status_id", "destination"


async def refused(
    tx: Tx, item: DueItem, *, error: str, message: str, next_attempt_at: int, at: int
) -> bool:
    """Record that the destination refused `item` with the error named `error` (`message`
    kept as its last error). True when this refusal makes it a dead letter (the same
    refusal protocol.delivery.MAX_SAME_REFUSALS times in a row, or one it can never pass):
    it is then no longer due, and the change is audited. Else it is due at
    `next_attempt_at`, as after any failed attempt."""
    table, key, dest = _keys(item.kind)
    where = f" WHERE {key} = ? AND {dest} = ?"
    row = await tx.fetchone(
        f"SELECT refused_with, refusals FROM {table}" + where,  # noqa: S608 - fixed names
        (item.id, item.destination),
    )
    if row is None:
        raise NotFound(f"no outgoing {item.kind} {item.id} to {item.destination}")
    same = row[1] + 1 if row[0] == error else 1
    await tx.execute(
        f"UPDATE {table} SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,"  # noqa: S608
        " refused_with = ?, refusals = ?, updated_at = ?" + where,
        (next_attempt_at, message[:500], error, same, at, item.id, item.destination),
    )
    if not dead_letter(error, same):
        return False
    why = f"refused: {error}, {same} time(s) in a row"
    if item.kind == "envelope":
        old = await delivery_state(tx, item.id, item.destination)
        try:
            new = after_event(old, Event.REFUSED)
        except TransitionError:
            return False  # it moved on meanwhile (a 01 came through the relay)
        await _set_state(
            tx, item.id, item.destination, old, new, at=at, next_attempt_at=None, why=why
        )
        return True
    after_event(Delivery.QUEUED, Event.REFUSED)  # the table's word for queued → dead
    await tx.execute(
        "UPDATE status_outbox SET dead_at = ?, next_attempt_at = NULL WHERE status_id = ?"
        " AND delivered_at IS NULL",
        (at, item.id),
    )
    await audit.append(
        tx,
        at=at,
        actor="delivery",
        action="status.dead",
        subject=item.id,
        details={"destination": item.destination, "why": why, "reason": message[:500]},
    )
    return True


async def retry_dead(
    tx: Tx, document_id: str, *, actor: str, at: int, destination: str | None = None
) -> int:
    """Put the dead letters of one document (its envelope to a recipient, its statuses)
    back in the queue, due at once, the count of refusals cleared; only those to
    `destination` when given. Audited as done by `actor`. How many were put back."""
    envelopes = await tx.fetchall(
        "SELECT recipient FROM outbox WHERE envelope_id = ? AND state = ?"
        " AND (? IS NULL OR recipient = ?)",
        (document_id, Delivery.DEAD.value, destination, destination),
    )
    for (recipient,) in envelopes:
        await apply_delivery_event(tx, document_id, recipient, Event.REQUEUED, at=at)
        await tx.execute(
            "UPDATE outbox SET refusals = 0, refused_with = NULL WHERE envelope_id = ?"
            " AND recipient = ?",
            (document_id, recipient),
        )
    statuses = await tx.fetchall(
        "SELECT s.status_id, s.destination FROM status_outbox s JOIN status_events e"
        " ON e.id = s.status_id WHERE e.envelope_id = ? AND s.dead_at IS NOT NULL"
        " AND (? IS NULL OR s.destination = ?)",
        (document_id, destination, destination),
    )
    for status_id, _ in statuses:
        after_event(Delivery.DEAD, Event.REQUEUED)
        await tx.execute(
            "UPDATE status_outbox SET dead_at = NULL, next_attempt_at = ?, refusals = 0,"
            " refused_with = NULL, updated_at = ? WHERE status_id = ?",
            (at, at, status_id),
        )
    retried = [("envelope", document_id, r) for (r,) in envelopes] + [
        ("status", s, d) for s, d in statuses
    ]
    for kind, item_id, to in retried:
        await audit.append(
            tx,
            at=at,
            actor=actor,
            action=f"{kind}.retried",
            subject=item_id,
            details={"document": document_id, "destination": to},
        )
    return len(retried)


async def dead_letters(
    conn: Queryable, *, document_id: str | None = None, limit: int = MAX_DEAD_LETTERS
) -> list[DeadLetter]:
    """The dead letters of this node (or of one document), newest first."""
    limit = max(1, min(limit, MAX_DEAD_LETTERS))
    envelopes = await conn.fetchall(
        "SELECT envelope_id, recipient, refused_with, refusals, attempts, last_error,"
        " updated_at FROM outbox WHERE state = ? AND (? IS NULL OR envelope_id = ?)"
        " ORDER BY updated_at DESC LIMIT ?",
        (Delivery.DEAD.value, document_id, document_id, limit),
    )
    statuses = await conn.fetchall(
        "SELECT s.status_id, e.envelope_id, s.destination, e.code, s.refused_with,"
        " s.refusals, s.attempts, s.last_error, s.dead_at FROM status_outbox s"
        " JOIN status_events e ON e.id = s.status_id WHERE s.dead_at IS NOT NULL"
        " AND (? IS NULL OR e.envelope_id = ?) ORDER BY s.dead_at DESC LIMIT ?",
        (document_id, document_id, limit),
    )
    found = [DeadLetter("envelope", r[0], r[0], r[1], None, *r[2:]) for r in envelopes] + [
        DeadLetter("status", *r) for r in statuses
    ]
    return sorted(found, key=lambda d: d.since, reverse=True)[:limit]


async def dead_letter_counts(conn: Queryable) -> dict[str, int]:
    """Dead letters per destination (envelopes and statuses), for the metrics."""
    rows = await conn.fetchall(
        "SELECT d, count(*) FROM (SELECT recipient AS d FROM outbox WHERE state = ?"
        " UNION ALL SELECT destination FROM status_outbox WHERE dead_at IS NOT NULL)"
        " GROUP BY d",
        (Delivery.DEAD.value,),
    )
    return {r[0]: r[1] for r in rows}
