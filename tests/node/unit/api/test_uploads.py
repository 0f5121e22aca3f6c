"""Resumable uploads: a DMS sends a file in pieces, resumes after a broken connection at the
offset the node tells it, and names the upload when it sends the document; the file arrives
byte for byte; a wrong SHA-256, a piece past the length, a wrong offset or another key's
upload are refused naming what was wrong; abandoned uploads expire."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

from lienthong.node.unit.api import uploads
from lienthong.protocol.document import _metadata_v2
from tests.node.unit.api.conftest import A, B, deliver, metadata

# Wait at most this long for the node to finish with a cut connection (never a timing
# assertion: the wait ends as soon as the audit entry of that call is written).
BOUND = 10


def post(client, path: str, body: dict, key: str):
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return client.post(f"/api/v1{path}", data=json.dumps(body).encode(), headers=headers)


def piece(client, upload_id: str, offset: int, data: bytes, content_type=uploads.PIECE_TYPE):
    headers = {"Content-Type": content_type, uploads.OFFSET_HEADER: str(offset)}
    return client.patch(f"/api/v1/uploads/{upload_id}", data=data, headers=headers)


async def create(client, name: str, content: bytes, key: str, **extra) -> dict:
    body = {"name": name, "length": len(content)} | extra
    r = await post(client, "/uploads", body, key)
    assert r.status == 201, await r.text()
    return await r.json()


async def stored(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


async def calls(ctx, subject: str) -> int:
    async with ctx.store.read() as conn:
        row = await conn.fetchone(
            "SELECT count(*) FROM audit_log WHERE action = 'api.call' AND subject = ?",
            (subject,),
        )
    return row[0]


async def cut_piece(client, upload: Path, upload_id: str, offset: int, declared: int, sent: bytes):
    """A PATCH whose connection breaks: `declared` bytes announced, `sent` sent; the
    connection is closed once the node has written them to `upload` (the file itself)."""
    _reader, writer = await asyncio.open_connection(client.host, client.port)
    head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {client._session.headers['Authorization']}\r\n"
        f"Content-Type: {uploads.PIECE_TYPE}\r\n{uploads.OFFSET_HEADER}: {offset}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    async with asyncio.timeout(BOUND):
        while await asyncio.to_thread(os.path.getsize, upload) < offset + len(sent):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()


async def test_a_file_in_pieces_resumes_after_a_broken_connection_and_is_sent(units, dms):
    """Piece one; piece two cut off by a closed connection keeps what arrived; the offset is
    asked, a piece at the wrong offset is 409 telling the right one, the rest completes it
    (SHA-256 checked); the send names the upload; B downloads the same bytes; the upload is
    gone once sent."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    content = os.urandom(300_000)
    digest = hashlib.sha256(content).hexdigest()
    made = await create(client, "Hồ sơ dự án.pdf", content, "u-1", sha256=digest)
    assert (made["offset"], made["complete"]) == (0, False)
    upload_id = made["id"]
    r = await piece(client, upload_id, 0, content[:100_000])
    assert r.status == 200 and r.headers[uploads.OFFSET_HEADER] == "100000"
    subject = f"PATCH /api/v1/uploads/{upload_id}"
    upload = ctx.config.data_dir / uploads.RESUMABLE_FOLDER / upload_id / "file" / made["name"]
    await cut_piece(client, upload, upload_id, 100_000, 200_000, content[100_000:150_000])
    async with asyncio.timeout(BOUND):
        while await calls(ctx, subject) < 2:  # noqa: ASYNC110 - audited once the cut call ends
            await asyncio.sleep(0.01)
    head = await client.head(f"/api/v1/uploads/{upload_id}")
    assert head.headers[uploads.OFFSET_HEADER] == "150000"
    assert head.headers[uploads.LENGTH_HEADER] == "300000"
    wrong = await piece(client, upload_id, 100_000, content[100_000:])
    assert wrong.status == 409 and wrong.headers[uploads.OFFSET_HEADER] == "150000"
    assert [e["field"] for e in (await wrong.json())["errors"]] == [uploads.OFFSET_HEADER]
    done = await piece(client, upload_id, 150_000, content[150_000:])
    assert done.status == 200
    assert (await done.json())["complete"] and (await done.json())["sha256"] == digest
    document = {"metadata": _metadata_v2(metadata()), "recipients": [B], "uploads": [upload_id]}
    sent = await post(client, "/documents", document, "send-1")
    assert sent.status == 201, await sent.text()
    doc_id = (await sent.json())["id"]
    assert (await client.get(f"/api/v1/uploads/{upload_id}")).status == 404
    await deliver(ctx, units.ctx[B], doc_id)
    reader = await dms(units.ctx[B])
    got = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    assert [a["name"] for a in got["attachments"]] == ["Hồ sơ dự án.pdf"]
    assert await (await reader.get(got["attachments"][0]["href"])).read() == content


async def test_a_wrong_sha256_discards_the_upload(units, dms):
    """The last byte arrives and the file's SHA-256 is not the one declared: 400 naming
    sha256, and the upload is gone (nothing of it can be sent)."""
    client = await dms(units.ctx[A], ("send",))
    made = await create(client, "a.pdf", b"abc", "u-2", sha256="0" * 64)
    r = await piece(client, made["id"], 0, b"abc")
    assert r.status == 400
    assert [e["field"] for e in (await r.json())["errors"]] == ["sha256"]
    assert (await client.get(f"/api/v1/uploads/{made['id']}")).status == 404


async def test_bad_uploads_are_refused_naming_what_was_wrong(units, dms):
    """A folder in the name, a negative length, a bad SHA-256; a piece past the length (the
    offset stays), of the wrong type, without Upload-Offset; another key's upload; a send
    naming an unfinished upload: each refused naming its field, nothing stored."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    bad = [
        ({"name": "../a.pdf", "length": 3}, 400, "name"),
        ({"name": "a.pdf", "length": -1}, 400, "length"),
        ({"name": "a.pdf", "length": uploads.MAX_UPLOAD_LENGTH + 1}, 413, "length"),
        ({"name": "a.pdf", "length": 3, "sha256": "XYZ"}, 400, "sha256"),
        ({"name": "a.pdf", "length": 3, "colour": "red"}, 400, "colour"),
    ]
    for n, (body, status, field) in enumerate(bad):
        r = await post(client, "/uploads", body, f"bad-{n}")
        assert r.status == status, (body, await r.text())
        assert [e["field"] for e in (await r.json())["errors"]] == [field]
    made = await create(client, "a.pdf", b"abcdef", "u-3")
    upload_id = made["id"]
    assert (await piece(client, upload_id, 0, b"abc")).status == 200
    over = await piece(client, upload_id, 3, b"defg")
    assert over.status == 413
    assert [e["field"] for e in (await over.json())["errors"]] == ["body"]
    typed = await piece(client, upload_id, 3, b"def", content_type="application/json")
    assert typed.status == 415
    no_offset = await client.patch(
        f"/api/v1/uploads/{upload_id}",
        data=b"def",
        headers={"Content-Type": uploads.PIECE_TYPE},
    )
    assert [e["field"] for e in (await no_offset.json())["errors"]] == [uploads.OFFSET_HEADER]
    status = await (await client.get(f"/api/v1/uploads/{upload_id}")).json()
    assert (status["offset"], status["complete"]) == (3, False)
    other = await dms(ctx, ("send",))
    assert (await other.get(f"/api/v1/uploads/{upload_id}")).status == 404
    assert (await piece(other, upload_id, 3, b"def")).status == 404
    document = {"metadata": _metadata_v2(metadata()), "recipients": [B], "uploads": [upload_id]}
    r = await post(client, "/documents", document, "send-unfinished")
    assert r.status == 400
    assert [e["field"] for e in (await r.json())["errors"]] == ["uploads[0]"]
    assert await stored(ctx) == 0
    # The upload is still there to finish and send.
    assert (await piece(client, upload_id, 3, b"def")).status == 200
    assert (await post(client, "/documents", document, "send-finished")).status == 201


async def test_a_refused_send_leaves_its_uploads_to_send_again(units, dms):
    """A send refused for its metadata (an unknown recipient) keeps the upload; the corrected
    send takes it."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    made = await create(client, "a.pdf", b"", "u-4")
    assert made["complete"]
    document = {"metadata": _metadata_v2(metadata()), "recipients": ["000.00.99.H53"]}
    document["uploads"] = [made["id"]]
    assert (await post(client, "/documents", document, "s-1")).status == 409
    assert (await client.get(f"/api/v1/uploads/{made['id']}")).status == 200
    document["recipients"] = [B]
    assert (await post(client, "/documents", document, "s-2")).status == 201
    assert await stored(ctx) == 1


async def test_a_key_holds_at_most_its_quota_of_uploads(units, dms, monkeypatch):
    """Past MAX_OPEN_UPLOADS_PER_KEY (made small to reach) a new upload is 409; deleting one
    makes room; another key has its own room."""
    monkeypatch.setattr(uploads, "MAX_OPEN_UPLOADS_PER_KEY", 2)
    client = await dms(units.ctx[A], ("send",))
    first = await create(client, "a.pdf", b"x", "q-1")
    await create(client, "b.pdf", b"x", "q-2")
    assert (await post(client, "/uploads", {"name": "c.pdf", "length": 1}, "q-3")).status == 409
    assert (await client.delete(f"/api/v1/uploads/{first['id']}")).status == 204
    await create(client, "c.pdf", b"x", "q-4")
    other = await dms(units.ctx[A], ("send",))
    await create(other, "d.pdf", b"x", "q-5")


async def test_abandoned_uploads_expire(units, dms):
    """An upload untouched for UPLOAD_EXPIRY_SECONDS is removed by the sweep with its bytes and
    audited; one asked about since stays."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    old = await create(client, "old.pdf", b"abc", "e-1")
    kept = await create(client, "kept.pdf", b"abc", "e-2")
    units.clock.advance(uploads.UPLOAD_EXPIRY_SECONDS * 1000 - 1)
    assert (await client.head(f"/api/v1/uploads/{kept['id']}")).status == 200
    units.clock.advance(2)
    assert await uploads.sweep_uploads(ctx, set()) == 1
    assert (await client.get(f"/api/v1/uploads/{old['id']}")).status == 404
    assert (await client.get(f"/api/v1/uploads/{kept['id']}")).status == 200
    assert not (ctx.config.data_dir / uploads.RESUMABLE_FOLDER / old["id"]).exists()
    async with ctx.store.read() as conn:
        row = await conn.fetchone(
            "SELECT subject FROM audit_log WHERE action = 'api.upload_expired'"
        )
    assert row[0] == old["id"]


async def test_a_read_key_may_not_upload(units, dms):
    """Uploading is sending: a key without the send scope is 403."""
    client = await dms(units.ctx[A], ("read",))
    assert (await post(client, "/uploads", {"name": "a.pdf", "length": 1}, "r-1")).status == 403
