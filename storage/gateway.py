"""The gateway's record of the files it took in: one row per file's bytes, written in the
transaction that sends the file's document or status on."""

from lienthong.storage.db import Queryable, Tx


async def taken(conn: Queryable, digest: str) -> str | None:
    """What became of the file whose bytes have this SHA-256 (hex), or None if never taken."""
    row = await conn.fetchone("SELECT outcome FROM gateway_taken WHERE digest = ?", (digest,))
    return None if row is None else row[0]


async def mark_taken(tx: Tx, digest: str, outcome: str, *, at: int) -> None:
    """Record a file as taken (the first record stands)."""
    await tx.execute(
        "INSERT INTO gateway_taken (digest, outcome, taken_at) VALUES (?, ?, ?)"
        " ON CONFLICT (digest) DO NOTHING",
        (digest, outcome, at),
    )
