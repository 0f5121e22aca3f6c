"""What the CLI and the clerk's web page both show of a document: times, per-recipient
delivery, the signature check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crypto.errors import LienthongError
from node.context import NodeContext
from protocol.codes import StatusCode
from protocol.envelope import verify_envelope
from storage.outbox import outbox_for
from storage.statuses import statuses_of


def when(ms: int | None) -> str:
    """A Unix-ms time as the clerk reads it, in the node's local time."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


async def recipients_view(conn, envelope_id: str) -> list[dict[str, Any]]:
    """Per recipient of an outgoing document: delivery state, incoming number, last change."""
    numbers = {
        s.from_code: s.incoming_number
        for s in await statuses_of(conn, envelope_id)
        if s.code == StatusCode.ACCEPTED and s.direction == "in"
    }
    return [
        {
            "recipient": row.recipient,
            "state": row.state,
            "incoming_number": numbers.get(row.recipient),
            "attempts": row.attempts,
            "last_error": row.last_error,
            "updated": when(row.updated_at),
            "updated_at": row.updated_at,
        }
        for row in await outbox_for(conn, envelope_id)
    ]


def signature_check(ctx: NodeContext, raw: bytes | None) -> dict[str, Any]:
    """Verify the stored envelope bytes again against the directory in force.

    `verified` with sender code, unit name and certificate serial, or the reason it fails.
    """
    if raw is None:
        return {"verified": False, "error": "no envelope stored", "text": "NOT verified"}
    try:
        header = verify_envelope(raw, ctx.directory.key_lookup).header
    except LienthongError as exc:
        return {"verified": False, "error": str(exc), "text": f"NOT verified: {exc}"}
    directory = ctx.directory.current
    name = ""
    if directory is not None:
        cert = directory.current(header.sender)
        name = cert.name if cert else ""
    return {
        "verified": True,
        "sender": header.sender,
        "name": name,
        "serial": header.serial,
        "text": f"verified: sent by {name} ({header.sender}), certificate {header.serial}",
    }
