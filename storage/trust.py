"""Trust anchors and configured CRLs for documents' digital signatures, the verdict on each PDF
attachment, and the queue of documents whose PDFs wait to be checked (migration 0017)."""

import os
from dataclasses import dataclass
from pathlib import Path

from lienthong.protocol.text import pattern
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


# Certificate revocation lists the technician configured (`lienthong trust add-crl`) are kept
# as files beside the store, not rows: a national CA's CRL runs to MiB and is replaced whole
# when the CA publishes the next one. The folder, relative to the data directory:
CRL_DIR = "crls"
# CRLs a node keeps: one per CA it trusts, so no more than its anchors.
MAX_CRLS = MAX_ANCHORS


@dataclass(frozen=True)
class StoredCrl:
    fingerprint: str
    der: bytes
    added_at: int


def add_crl(data_dir: Path, fingerprint: str, der: bytes, *, at: int) -> StoredCrl:
    """Keep one CRL (already checked by crypto.pdf_signatures.load_crl), named by the SHA-256
    of its DER; written to a temp file and renamed, so a reader sees all of it or nothing."""
    folder = data_dir / CRL_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{fingerprint}.crl"
    if path.exists():
        raise Conflict(f"the CRL {fingerprint} is configured already")
    if len(list(folder.glob("*.crl"))) >= MAX_CRLS:
        raise Conflict(f"at most {MAX_CRLS} CRLs; remove one first")
    tmp = folder / f".{fingerprint}.tmp"
    tmp.write_bytes(der)
    os.replace(tmp, path)
    os.utime(path, (at, at))
    return StoredCrl(fingerprint, der, at)


def crls(data_dir: Path) -> list[StoredCrl]:
    """Every configured CRL, oldest first."""
    folder = data_dir / CRL_DIR
    if not folder.is_dir():
        return []
    found = [
        StoredCrl(p.stem, p.read_bytes(), int(p.stat().st_mtime)) for p in folder.glob("*.crl")
    ]
    return sorted(found, key=lambda c: (c.added_at, c.fingerprint))


# A configured CRL's file name: the SHA-256 of its bytes in lower-case hex.
CRL_FINGERPRINT = pattern("CRL fingerprint", "[0-9a-f]{64}", "0" * 64)


def remove_crl(data_dir: Path, fingerprint: str) -> StoredCrl | None:
    """Remove a configured CRL by its fingerprint (any case, colons allowed); None when no
    CRL has it."""
    fingerprint = fingerprint.strip().lower().replace(":", "")
    if not CRL_FINGERPRINT.matches(fingerprint):
        return None
    path = data_dir / CRL_DIR / f"{fingerprint}.crl"
    if not path.is_file():
        return None
    stored = StoredCrl(fingerprint, path.read_bytes(), int(path.stat().st_mtime))
    path.unlink()
    return stored
