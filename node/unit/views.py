"""What the CLI and the clerk's web page both show of a document: times, per-recipient
delivery, the signature check."""

from __future__ import annotations

from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext
from lienthong.node.times import when
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.envelope import verify_envelope
from lienthong.protocol.errors import Expired, Revoked, UnknownSigner
from lienthong.storage import outbox
from lienthong.storage.directory import archived_certificate
from lienthong.storage.statuses import statuses_of


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
            "refused_with": row.refused_with,  # a dead letter: the refusal that stopped it
            "updated": when(row.updated_at),
            "updated_at": row.updated_at,
        }
        for row in await outbox.rows_for(conn, envelope_id)
    ]


async def signature_check(ctx: NodeContext, raw: bytes | None) -> dict[str, Any]:
    """Verify the stored envelope bytes again: against the directory in force, or, for a
    certificate the directory no longer lists, against the node's certificate archive.

    `verified` with sender code, unit name and certificate serial, or the reason it fails.
    """
    if raw is None:
        return {"verified": False, "error": "no envelope stored", "text": "NOT verified"}
    asked: list[tuple[str, int]] = []

    def lookup(code: str, serial: int) -> bytes:
        asked.append((code, serial))
        return ctx.directory.key_lookup(code, serial)

    try:
        try:
            header = verify_envelope(raw, lookup).header
        except UnknownSigner:
            if not asked:
                raise
            header = await _verify_archived(ctx, raw, *asked[-1])
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


async def _verify_archived(ctx: NodeContext, raw: bytes, code: str, serial: int):
    """A letter signed under a certificate that has ended since: it verifies if that
    certificate (root-signed, kept when a directory listed it, never revoked) was valid
    when the letter was made."""
    async with ctx.store.read() as conn:
        kept = await archived_certificate(conn, serial)
    if kept is None:
        raise UnknownSigner(f"no certificate {serial} of unit {code} known to this node")
    cert_raw, revoked = kept
    cert = verify_certificate(cert_raw, ctx.directory.root_public)
    if cert.code != code:
        raise UnknownSigner(f"certificate {serial} belongs to {cert.code}, not {code}")
    if revoked:
        raise Revoked(f"certificate {serial} of unit {code} is revoked")
    header = verify_envelope(raw, lambda _code, _serial: cert.sign_key).header
    if not cert.valid_at(header.created):
        raise Expired(f"envelope {header.id} was made outside the validity of certificate {serial}")
    return header
