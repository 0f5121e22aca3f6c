"""Trust anchors for documents' digital signatures, the verdict on each PDF attachment, and
the queue of documents whose PDFs wait to be checked (migration 0017)."""

from dataclasses import dataclass

from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound

# Anchors a node keeps: the national roots and the licensed CAs are a few dozen; a list this
# long is a mistake (each anchor is tried for every signature's chain).
MAX_ANCHORS = 200
# Documents taken from the queue at once by the verifier (each may hold several PDFs).
QUEUE_BATCH = 20


@dataclass(frozen=True)
class StoredAnchor:
    fingerprint: str
    subject: str
    der: bytes
    added_at: int


@dataclass(frozen=True)
class StoredVerdict:
    """The check of one PDF attachment: its place in the manifest, name, status, JSON."""

    attachment: int
    name: str
    status: str
    verdict: str
    verified_at: int


async def add_anchor(
    tx: Tx, fingerprint: str, subject: str, der: bytes, *, actor: str, at: int
) -> StoredAnchor:
    """Trust one CA certificate (already checked by crypto.pdf_signatures.load_anchor)."""
    if await tx.fetchone("SELECT 1 FROM trust_anchors WHERE fingerprint = ?", (fingerprint,)):
        raise Conflict(f"the certificate {fingerprint} is trusted already")
    (count,) = await tx.fetchone("SELECT count(*) FROM trust_anchors")
    if count >= MAX_ANCHORS:
        raise Conflict(f"at most {MAX_ANCHORS} trust anchors; remove one first")
    await tx.execute(
        "INSERT INTO trust_anchors (fingerprint, subject, der, added_at) VALUES (?, ?, ?, ?)",
        (fingerprint, subject, der, at),
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="trust.add_ca",
        subject=fingerprint,
        details={"subject": subject},
    )
    return StoredAnchor(fingerprint, subject, der, at)


async def remove_anchor(tx: Tx, fingerprint: str, *, actor: str, at: int) -> StoredAnchor:
    """Stop trusting a CA certificate, named by its fingerprint (SHA-256 hex, any case)."""
    fingerprint = fingerprint.strip().lower().replace(":", "")
    row = await tx.fetchone(
        "SELECT fingerprint, subject, der, added_at FROM trust_anchors WHERE fingerprint = ?",
        (fingerprint,),
    )
    if row is None:
        raise NotFound(f"no trust anchor has the fingerprint {fingerprint!r}")
    await tx.execute("DELETE FROM trust_anchors WHERE fingerprint = ?", (fingerprint,))
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="trust.remove_ca",
        subject=fingerprint,
        details={"subject": row[1]},
    )
    return StoredAnchor(*row)


async def anchors(conn: Queryable) -> list[StoredAnchor]:
    """Every trust anchor, oldest first."""
    rows = await conn.fetchall(
        "SELECT fingerprint, subject, der, added_at FROM trust_anchors"
        " ORDER BY added_at, fingerprint"
    )
    return [StoredAnchor(*r) for r in rows]


async def queue_document(tx: Tx, document_id: str, *, at: int) -> None:
    """Mark a document's PDFs as waiting to be checked (in the transaction that stores it)."""
    await tx.execute(
        "INSERT OR IGNORE INTO pdf_verify_queue (document_id, queued_at) VALUES (?, ?)",
        (document_id, at),
    )


async def queued(conn: Queryable, limit: int = QUEUE_BATCH) -> list[str]:
    """Documents waiting, oldest first."""
    rows = await conn.fetchall(
        "SELECT document_id FROM pdf_verify_queue ORDER BY queued_at, document_id LIMIT ?",
        (limit,),
    )
    return [r[0] for r in rows]


async def store_verdicts(
    tx: Tx, document_id: str, verdicts: list[tuple[int, str, str, str]], *, at: int
) -> None:
    """The checks of a document's PDFs, (attachment, name, status, verdict JSON) each;
    the document leaves the queue."""
    await tx.executemany(
        "INSERT OR REPLACE INTO pdf_signatures"
        " (document_id, attachment, name, status, verdict, verified_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(document_id, i, name, status, verdict, at) for i, name, status, verdict in verdicts],
    )
    await tx.execute("DELETE FROM pdf_verify_queue WHERE document_id = ?", (document_id,))


async def verdicts(conn: Queryable, document_id: str) -> list[StoredVerdict]:
    """The checks stored for one document, in manifest order."""
    rows = await conn.fetchall(
        "SELECT attachment, name, status, verdict, verified_at FROM pdf_signatures"
        " WHERE document_id = ? ORDER BY attachment",
        (document_id,),
    )
    return [StoredVerdict(*r) for r in rows]


async def is_queued(conn: Queryable, document_id: str) -> bool:
    row = await conn.fetchone(
        "SELECT 1 FROM pdf_verify_queue WHERE document_id = ?", (document_id,)
    )
    return row is not None


async def marks(conn: Queryable, document_ids: list[str]) -> dict[str, str]:
    """The inbox mark per document that has checked PDFs: "valid" when every PDF is valid,
    "warning" when one is not (untrusted, invalid, unsigned, unreadable)."""
    if not document_ids:
        return {}
    places = ", ".join("?" * len(document_ids))
    rows = await conn.fetchall(
        # Built from the count of ids only, never from input.
        "SELECT document_id, min(status = 'valid') FROM pdf_signatures"  # noqa: S608
        f" WHERE document_id IN ({places}) GROUP BY document_id",
        document_ids,
    )
    return {r[0]: "valid" if r[1] else "warning" for r in rows}
