"""Dead letters as the clerk's page and the command line show and retry them: an outgoing
envelope or status its destination kept refusing (storage.outbox, docs/STATES.md)."""

from __future__ import annotations

from typing import Any

from lienthong.node.context import NodeContext
from lienthong.node.times import iso_time, when
from lienthong.storage import outbox
from lienthong.storage.errors import NotFound


def view(letter: outbox.DeadLetter) -> dict[str, Any]:
    """One dead letter for a page or --json: what, to whom, the refusal, since when."""
    return {
        "kind": letter.kind,
        "id": letter.id,
        "document_id": letter.document_id,
        "destination": letter.destination,
        "code": None if letter.code is None else f"{letter.code:02d}",
        "refused_with": letter.refused_with,
        "refusals": letter.refusals,
        "attempts": letter.attempts,
        "last_error": letter.last_error,
        "since": when(letter.since),
        "since_at": iso_time(letter.since),
    }


async def every(ctx: NodeContext) -> list[dict[str, Any]]:
    """Every dead letter of this node, newest first (at most outbox.MAX_DEAD_LETTERS)."""
    async with ctx.store.read() as conn:
        return [view(d) for d in await outbox.dead_letters(conn)]


async def of_document(ctx: NodeContext, document_id: str) -> list[dict[str, Any]]:
    """The dead letters of one document (its envelope to a recipient, its statuses)."""
    async with ctx.store.read() as conn:
        return [view(d) for d in await outbox.dead_letters(conn, document_id=document_id)]


async def retry(
    ctx: NodeContext, document_id: str, *, actor: str, destination: str | None = None
) -> int:
    """Put one document's dead letters (only those to `destination`, if given) back in the
    queue, due at once, audited as `actor`'s; NotFound when it has none."""
    async with ctx.store.write() as tx:
        count = await outbox.retry_dead(
            tx, document_id, actor=actor, at=ctx.clock(), destination=destination
        )
    if not count:
        to = f" to {destination}" if destination else ""
        raise NotFound(f"document {document_id} has no dead letter{to} to send again")
    ctx.wake_delivery()
    return count
