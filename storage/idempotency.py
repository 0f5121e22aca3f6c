"""The answers of the integration API kept for retries: the first response to a POST with an
Idempotency-Key, replayed to the same request, refused to a different one, expired after
RETENTION_MS."""

import hmac
from dataclasses import dataclass

from lienthong.storage.api_keys import MAX_TOKEN_CHARS, ApiKey, token_hash
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


async def key_and_kept_answer(
    conn: Queryable, token: str, idempotency_key: str, *, now: int
) -> tuple[ApiKey | None, KeptAnswer | None]:
    """The live key of `token` and the answer kept for it under `idempotency_key`, in one
    query (one trip to the reader's thread instead of two, bench/api.py)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None, None
    digest = token_hash(token)
    row = await conn.fetchone(
        "SELECT k.name, k.scopes, k.created_at, k.revoked_at, k.token_hash,"
        " a.request_sha256, a.status, a.content_type, a.body, a.created_at"
        " FROM api_keys k LEFT JOIN api_idempotency a ON a.key_name = k.name"
        " AND a.idempotency_key = ? AND a.created_at > ? WHERE k.token_hash = ?",
        (idempotency_key, now - RETENTION_MS, digest),
    )
    # As key_for_token: looked up by the token's hash, compared in constant time.
    if row is None or not hmac.compare_digest(bytes(row[4]), digest) or row[3] is not None:
        return None, None
    key = ApiKey(row[0], tuple(row[1].split()), row[2], row[3])
    if row[5] is None:
        return key, None
    return key, KeptAnswer(bytes(row[5]), row[6], row[7], bytes(row[8]), row[9])
