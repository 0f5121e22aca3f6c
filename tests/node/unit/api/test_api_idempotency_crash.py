"""The answer to an Idempotency-Key is kept in the transaction of the action it answers: a
node that fails right after the action commits (before its answer leaves) gives a retry the
first answer, never a second action; an answer that cannot be kept undoes the action.

The failure is injected where a crash would fall: node/unit/documents.py wakes the delivery
engine just after the action's transaction commits."""

from __future__ import annotations

import json

from lienthong.node.unit import documents as service
from lienthong.node.unit.api import writes
from lienthong.protocol.document import _metadata_v2
from tests.node.unit.api.conftest import A, B, metadata, sent_and_delivered


class Crash(Exception):
    """The node failing between the commit and the answer."""


def crash_once(monkeypatch) -> None:
    """The next action fails after its transaction commits; later ones go through."""
    wake = service._wake

    def failing(ctx) -> None:
        monkeypatch.setattr(service, "_wake", wake)
        raise Crash("the node fell over after the commit")

    monkeypatch.setattr(service, "_wake", failing)


def post(client, path: str, body: dict, key: str):
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return client.post(path, data=json.dumps(body).encode(), headers=headers)


async def count(ctx, table: str) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone(f"SELECT count(*) FROM {table}"))[0]  # noqa: S608 - test's own names


async def test_a_send_that_fell_over_after_its_commit_is_answered_not_sent_again(
    units, dms, monkeypatch
):
    """The first POST fails after the document is stored (500); its retry is the 201 with
    that document's id, replayed; one document only."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    crash_once(monkeypatch)
    first = await post(client, "/api/v1/documents", body, "crash-1")
    assert first.status == 500
    assert await count(ctx, "documents") == 1
    retry = await post(client, "/api/v1/documents", body, "crash-1")
    assert retry.status == 201 and retry.headers["Idempotent-Replayed"] == "true"
    async with ctx.store.read() as conn:
        stored = (await conn.fetchone("SELECT id FROM documents"))[0]
    assert (await retry.json())["id"] == stored
    assert await count(ctx, "documents") == 1


async def test_an_accept_that_fell_over_after_its_commit_is_answered_with_its_number(
    units, dms, monkeypatch
):
    """Registering a received document fails after the commit; the retry is the 200 with
    the incoming number given the first time, and the register has one line."""
    doc_id = await sent_and_delivered(units)
    ctx = units.ctx[B]
    client = await dms(ctx, ("process",))
    path = f"/api/v1/documents/{doc_id}/status"
    crash_once(monkeypatch)
    assert (await post(client, path, {"status": "accepted"}, "acc-1")).status == 500
    retry = await post(client, path, {"status": "accepted"}, "acc-1")
    assert retry.status == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert (await retry.json())["incoming_number"] == 1
    assert await count(ctx, "incoming_register") == 1


async def test_an_answer_that_cannot_be_kept_undoes_the_send(units, dms, monkeypatch):
    """Keeping the answer fails inside the send's transaction: 500 and no document stored,
    so a retry sends it once."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    body = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    keep = writes.keep_answer

    async def failing(*args, **kwargs) -> None:
        monkeypatch.setattr(writes, "keep_answer", keep)
        raise Crash("the store refused the answer")

    monkeypatch.setattr(writes, "keep_answer", failing)
    assert (await post(client, "/api/v1/documents", body, "undo-1")).status == 500
    assert await count(ctx, "documents") == 0
    retry = await post(client, "/api/v1/documents", body, "undo-1")
    assert retry.status == 201 and "Idempotent-Replayed" not in retry.headers
    assert await count(ctx, "documents") == 1
