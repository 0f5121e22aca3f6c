"""The outbox: delivery of each outgoing envelope to each recipient, and what is due now.

A row's `state` belongs to the delivery engine (node/); the store only keeps it.
`next_attempt_at` says when the next attempt is due, NULL when none is.
"""

from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import NotFound, StoreError

# Most rows handed to the delivery worker at once.
MAX_DUE_BATCH = 1000


@dataclass(frozen=True)
class OutboxRow:
    envelope_id: str
    recipient: str
    state: str
    attempts: int
    next_attempt_at: int | None
    last_error: str | None
    updated_at: int


async def due_outbox(conn: Queryable, now: int, limit: int = 100) -> list[OutboxRow]:
    """Rows whose next attempt is due at `now`, the longest-waiting first."""
    if not 1 <= limit <= MAX_DUE_BATCH:
        raise StoreError(f"limit must be between 1 and {MAX_DUE_BATCH}, not {limit}")
    rows = await conn.fetchall(
        "SELECT envelope_id, recipient, state, attempts, next_attempt_at, last_error,"
        " updated_at FROM outbox WHERE next_attempt_at IS NOT NULL"
        " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        (now, limit),
    )
    return [OutboxRow(*r) for r in rows]


async def outbox_for(conn: Queryable, envelope_id: str) -> list[OutboxRow]:
    """Every recipient's delivery row of one envelope."""
    rows = await conn.fetchall(
        "SELECT envelope_id, recipient, state, attempts, next_attempt_at, last_error,"
        " updated_at FROM outbox WHERE envelope_id = ? ORDER BY recipient",
        (envelope_id,),
    )
    return [OutboxRow(*r) for r in rows]


async def update_outbox(
    tx: Tx,
    envelope_id: str,
    recipient: str,
    *,
    state: str,
    attempts: int,
    next_attempt_at: int | None,
    last_error: str | None,
    at: int,
) -> None:
    """Record the outcome of a delivery attempt (NotFound if there is no such row)."""
    cursor = await tx.execute(
        "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
        " updated_at = ? WHERE envelope_id = ? AND recipient = ?",
        (state, attempts, next_attempt_at, last_error, at, envelope_id, recipient),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"no outbox row for envelope {envelope_id} to {recipient}")
