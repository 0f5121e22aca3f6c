"""Status messages sent and received (arrived, accepted, ..., recall), kept byte-exact."""

from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import StoreError


@dataclass(frozen=True)
class StatusEvent:
    id: str  # the status message's ULID
    # The document's id here (documents.id), which the status's `envelope` field names by
    # its wire id: the two differ only for a received document whose wire id was taken.
    envelope_id: str
    from_code: str
    to_code: str
    code: int  # protocol.codes.StatusCode value
    at: int
    raw: bytes  # the signed status message as received or sent
    direction: str  # 'in' | 'out'
    incoming_number: int | None = None
    note: str | None = None


async def record_status(tx: Tx, event: StatusEvent) -> bool:
    """Store a status message once per status id; False (nothing written) if already stored."""
    if event.direction not in ("in", "out"):
        raise StoreError(f"status direction must be 'in' or 'out', not {event.direction!r}")
    cursor = await tx.execute(
        "INSERT INTO status_events (id, envelope_id, from_code, to_code, code, at, raw,"
        " direction, incoming_number, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (
            event.id,
            event.envelope_id,
            event.from_code,
            event.to_code,
            int(event.code),
            event.at,
            event.raw,
            event.direction,
            event.incoming_number,
            event.note,
        ),
    )
    return cursor.rowcount == 1


async def statuses_of(conn: Queryable, envelope_id: str) -> list[StatusEvent]:
    """The timeline of one document (its id here), oldest first."""
    rows = await conn.fetchall(
        "SELECT id, envelope_id, from_code, to_code, code, at, raw, direction,"
        " incoming_number, note FROM status_events WHERE envelope_id = ? ORDER BY at, id",
        (envelope_id,),
    )
    return [StatusEvent(*r[:6], bytes(r[6]), *r[7:]) for r in rows]
