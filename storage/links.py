"""Links between documents: an update or a replacement and the documents it changes, a reply
and the document it answers, a copy and its original; written with the newer document, read
both ways."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import StoreError

UPDATES, REPLACES, REPLIES_TO = "updates", "replaces", "replies_to"
# A copy (sao y, trích sao, sao lục) names its original; this unit's own link, not on the wire.
COPY_OF = "copy_of"
KINDS = (UPDATES, REPLACES, REPLIES_TO, COPY_OF)
# The link kind an envelope's business makes to each of its targets.
KIND_OF_BUSINESS = {"update": UPDATES, "replace": REPLACES}


@dataclass(frozen=True)
class Target:
    """A document an envelope names: by its sender and its wire id, and its id here (None
    when this node holds no such document)."""

    wire_id: str
    sender: str | None
    id: str | None


@dataclass(frozen=True)
class Link:
    """`document_id` (the newer document: the update, the replacement, the reply) `kind`
    the target; `target_id` is None for a target this node never held."""

    document_id: str
    kind: str
    target_wire_id: str
    target_sender: str | None
    target_id: str | None
    created_at: int


_COLUMNS = "document_id, kind, target_wire_id, target_sender, target_id, created_at"


def _link(row: Any) -> Link:
    return Link(*row)


async def add_links(
    tx: Tx, document_id: str, kind: str, targets: Sequence[Target], *, at: int
) -> None:
    """Link `document_id` to each target (the same target twice is written once)."""
    if kind not in KINDS:
        raise StoreError(f"a link is one of {', '.join(KINDS)}, not {kind!r}")
    await tx.executemany(
        f"INSERT INTO document_links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608 - fixed names
        " ON CONFLICT DO NOTHING",
        [(document_id, kind, t.wire_id, t.sender, t.id, at) for t in targets],
    )


async def resolve_arrival(tx: Tx, sender: str, wire_id: str, document_id: str) -> list[Link]:
    """A document has just arrived from `sender` under `wire_id` as `document_id`: links
    that named it before it was here now lead to it. Returns those links."""
    rows = await tx.fetchall(
        f"SELECT {_COLUMNS} FROM document_links"  # noqa: S608 - fixed names
        " WHERE target_id IS NULL AND target_sender = ? AND target_wire_id = ?",
        (sender, wire_id),
    )
    await tx.execute(
        "UPDATE document_links SET target_id = ?"
        " WHERE target_id IS NULL AND target_sender = ? AND target_wire_id = ?",
        (document_id, sender, wire_id),
    )
    return [_link(r) for r in rows]


async def links_of(conn: Queryable, document_id: str) -> list[Link]:
    """Every link that touches a document, both ways, oldest first: those it makes
    (`link.document_id` is it: what it updates, replaces or answers) and those made to it
    (`link.target_id` is it: what updates, replaces or answers it)."""
    rows = await conn.fetchall(
        f"SELECT {_COLUMNS} FROM document_links WHERE document_id = ?"  # noqa: S608 - fixed names
        f" UNION ALL SELECT {_COLUMNS} FROM document_links WHERE target_id = ?"
        " ORDER BY created_at, document_id, kind, target_wire_id",
        (document_id, document_id),
    )
    return [_link(r) for r in rows]


async def business_of(conn: Queryable, document_id: str) -> str:
    """The business of a document's envelope as its links keep it: "update", "replace"
    or "new" (every target of an update or replacement is linked, known or not)."""
    row = await conn.fetchone(
        "SELECT kind FROM document_links WHERE document_id = ? AND kind IN (?, ?) LIMIT 1",
        (document_id, UPDATES, REPLACES),
    )
    if row is None:
        return "new"
    return {UPDATES: "update", REPLACES: "replace"}[row[0]]
