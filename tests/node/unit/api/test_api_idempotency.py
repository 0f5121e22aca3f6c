"""Idempotency-Key on every POST: the first answer is kept and replayed to a retry; the same
key with another body is 422 naming Idempotency-Key; a kept answer expires after
RETENTION_MS; a POST without the header is refused."""

from __future__ import annotations

import asyncio
import json

from lienthong.protocol.document import _metadata_v2
from lienthong.storage.idempotency import RETENTION_MS
from tests.node.unit.api.conftest import A, B, metadata

PATH = "/api/v1/documents"


def post(client, body: dict, key: str | None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(PATH, data=json.dumps(body).encode(), headers=headers)


async def sent_count(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


async def test_a_retry_gets_the_first_answer_and_sends_nothing_more(units, dms):
    """Two identical POSTs with one key: one document, the same answer twice, the second
    marked Idempotent-Replayed."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    first = await post(client, body, "retry-1")
    assert first.status == 201, await first.text()
    again = await post(client, body, "retry-1")
    assert again.status == 201
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await sent_count(ctx) == 1
    # Another key is another request: a second document (under its own number).
    body["metadata"]["number"] = "06"
    assert (await post(client, body, "retry-2")).status == 201
    assert await sent_count(ctx) == 2


async def test_the_same_key_with_another_body_is_refused(units, dms):
    """422 problem naming Idempotency-Key; nothing sent for it."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    assert (await post(client, body, "same")).status == 201
    other = {"metadata": _metadata_v2(metadata(subject="V/v khác")), "recipients": [B]}
    r = await post(client, other, "same")
    assert r.status == 422 and r.content_type == "application/problem+json"
    assert [e["field"] for e in (await r.json())["errors"]] == ["Idempotency-Key"]
    assert await sent_count(ctx) == 1


async def test_keys_are_per_api_key_and_expire(units, dms):
    """Another API key may use the same Idempotency-Key; after RETENTION_MS the key is free
    again (the kept answer is gone)."""
    ctx = units.ctx[A]
    one = await dms(ctx, ("send",))
    two = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    assert (await post(one, body, "shared")).status == 201
    body["metadata"]["number"] = "06"
    r = await post(two, body, "shared")
    assert r.status == 201 and r.headers.get("Idempotent-Replayed") is None
    assert await sent_count(ctx) == 2
    units.clock.advance(RETENTION_MS + 1)
    body["metadata"]["number"] = "07"
    r = await post(one, body, "shared")
    assert r.status == 201 and r.headers.get("Idempotent-Replayed") is None
    assert await sent_count(ctx) == 3
    async with ctx.store.read() as conn:
        kept = await conn.fetchall("SELECT created_at FROM api_idempotency")
    assert [row[0] for row in kept] == [units.clock.now]  # the expired two were dropped


async def test_a_post_needs_an_idempotency_key(units, dms):
    """Without the header, or with one too long: 400 naming Idempotency-Key, nothing sent."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    for key in (None, "x" * 256, "không-ascii"):
        r = await post(client, body, key)
        assert r.status == 400
        assert [e["field"] for e in (await r.json())["errors"]] == ["Idempotency-Key"]
    assert await sent_count(ctx) == 0


async def test_retries_at_once_under_one_key_send_one_document(units, dms):
    """Five identical POSTs under one key sent together (the key and its kept answer read in
    one query, the key claimed before): one document; each answer the first one's (201,
    replayed) or 409 idempotency-in-progress, never a second send."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    answers = await asyncio.gather(*(post(client, body, "together") for _ in range(5)))
    statuses = sorted(r.status for r in answers)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1
    assert await sent_count(ctx) == 1
    created = [await r.json() for r in answers if r.status == 201]
    assert all(c == created[0] for c in created)
    for r in answers:
        if r.status == 409:
            assert (await r.json())["type"].endswith("idempotency-in-progress")
    again = await post(client, body, "together")
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
