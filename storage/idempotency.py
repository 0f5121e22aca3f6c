"""The answers of the integration API kept for retries: the first response to a POST with an
Idempotency-Key, replayed to the same request, refused to a different one, expired after
RETENTION_MS."""

from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx

# How long an answer is kept for a retry: a DMS retries within minutes or hours; a day
# covers a night's outage of either side.
RETENTION_MS = 24 * 3600 * 1000
# What an Idempotency-Key may be (draft-ietf-httpapi-idempotency-key-header: a string,
# commonly a UUID); bounded so a key cannot grow the store.
MAX_IDEMPOTENCY_KEY_CHARS = 255


@dataclass(frozen=True)
class KeptAnswer:
    request_sha256: bytes
    status: int
    content_type: str
    body: bytes
    created_at: int


async def kept_answer(
    conn: Queryable, key_name: str, idempotency_key: str, *, now: int
) -> KeptAnswer | None:
    """The answer kept for this (API key, Idempotency-Key), unless it has expired."""
    row = await conn.fetchone(
        "SELECT request_sha256, status, content_type, body, created_at FROM api_idempotency"
        " WHERE key_name = ? AND idempotency_key = ? AND created_at > ?",
        (key_name, idempotency_key, now - RETENTION_MS),
    )
    if row is None:
        return None
    return KeptAnswer(bytes(row[0]), row[1], row[2], bytes(row[3]), row[4])


async def keep_answer(
    tx: Tx,
    key_name: str,
    idempotency_key: str,
    request_sha256: bytes,
    *,
    status: int,
    content_type: str,
    body: bytes,
    at: int,
) -> None:
    """Keep the first answer (an expired one under the same key is replaced); drop the
    answers past their retention."""
    await tx.execute("DELETE FROM api_idempotency WHERE created_at <= ?", (at - RETENTION_MS,))
    await tx.execute(
        "INSERT OR REPLACE INTO api_idempotency (key_name, idempotency_key, request_sha256,"
        " status, content_type, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key_name, idempotency_key, request_sha256, status, content_type, body, at),
    )
