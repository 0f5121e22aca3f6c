"""Sending with files: multipart/form-data with a `document` part (the JSON) and a `file` part
per attachment, streamed to disk; the files arrive byte for byte; a retry is replayed;
a bad file name, an unknown part or files over the limit are refused, nothing stored and
no spooled file left behind."""

from __future__ import annotations

import json

import aiohttp

from lienthong.node.unit.api import writes
from lienthong.protocol.document import _metadata_v2
from tests.node.unit.api.conftest import A, B, deliver, metadata


def form(document: dict | None, files: list[tuple[str, bytes]], extra=()) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False)  # names in UTF-8, as browsers and curl send them
    if document is not None:
        data.add_field("document", json.dumps(document), content_type="application/json")
    for name, content in files:
        data.add_field("file", content, filename=name, content_type="application/octet-stream")
    for name, value in extra:
        data.add_field(name, value)
    return data


def post(client, data: aiohttp.FormData, key: str):
    return client.post("/api/v1/documents", data=data, headers={"Idempotency-Key": key})


async def stored(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


def spooled(ctx) -> list:
    folder = ctx.config.data_dir / writes.UPLOAD_FOLDER
    return list(folder.rglob("*")) if folder.exists() else []


async def test_files_travel_with_the_document(units, dms):
    """Two files (one named in Vietnamese) arrive at B and download byte for byte; the same
    request again is replayed, not sent twice; the spool is empty afterwards."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    document = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    files = [("Công văn 05.pdf", b"%PDF" + bytes(range(256)) * 1000), ("phu-luc.txt", b"x" * 10)]
    r = await post(client, form(document, files), "f-1")
    assert r.status == 201, await r.text()
    doc_id = (await r.json())["id"]
    again = await post(client, form(document, files), "f-1")
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == doc_id
    other = await post(client, form(document, files[:1]), "f-1")
    assert other.status == 422
    assert await stored(ctx) == 1 and spooled(ctx) == []
    await deliver(ctx, units.ctx[B], doc_id)
    reader = await dms(units.ctx[B])
    got = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    assert [a["name"] for a in got["attachments"]] == [name for name, _ in files]
    for attachment, (_, content) in zip(got["attachments"], files, strict=True):
        assert await (await reader.get(attachment["href"])).read() == content


async def test_bad_parts_are_refused_naming_them(units, dms, monkeypatch):
    """A folder in a file name, an unknown part, no document part, files over the limit:
    4xx naming the part; nothing stored, nothing left in the spool."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",))
    document = {"metadata": _metadata_v2(metadata()), "recipients": [B]}
    cases = [
        (form(document, [("../x.pdf", b"x")]), 400, "file[0]"),
        (form(document, [], extra=[("colour", "red")]), 400, "colour"),
        (form(None, [("a.pdf", b"x")]), 400, "document"),
        (form(document | {"recipients": "B"}, []), 400, "recipients"),
    ]
    monkeypatch.setattr(writes, "MAX_UPLOAD_BYTES", 1000)  # the limit, made small to reach
    cases.append((form(document, [("a.pdf", b"x" * 600), ("b.pdf", b"y" * 600)]), 413, "file[1]"))
    for n, (data, status, field) in enumerate(cases):
        r = await post(client, data, f"bad-{n}")
        assert r.status == status, (field, await r.text())
        assert [e["field"] for e in (await r.json())["errors"]] == [field]
    assert await stored(ctx) == 0 and spooled(ctx) == []
