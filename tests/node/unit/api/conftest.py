"""Two units A and B with real stores, and a DMS stand-in: an aiohttp client calling A's or
B's web port (a real server on 127.0.0.1) with an API key of the scopes it asks for."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from lienthong.crypto.keys import NodeKeys
from lienthong.node.context import NodeContext
from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.storage.api_keys import add_key
from lienthong.storage.documents import get_document, get_envelope_raw
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.tls_federation import letter

A, B = "000.00.02.H53", "000.00.03.H53"


@dataclasses.dataclass
class Units:
    ctx: dict[str, NodeContext]
    clock: Clock


@pytest.fixture
async def units(tmp_path):
    keys = {code: NodeKeys.generate() for code in (A, B)}
    clock = Clock()
    directory = make_directory(NodeKeys.generate(), keys)
    ctxs = {c: await make_context(tmp_path, c, k, directory, clock) for c, k in keys.items()}
    yield Units(ctxs, clock)
    for ctx in ctxs.values():
        await ctx.store.close()


async def new_key(ctx: NodeContext, name: str, scopes: Iterable[str]) -> str:
    async with ctx.store.write() as tx:
        _key, token = await add_key(tx, name, tuple(scopes), actor="test", at=ctx.clock())
    return token


@pytest.fixture
async def dms():
    """make(ctx, scopes) -> a client of the unit's web port sending `Authorization: Bearer`."""
    clients: list[TestClient] = []
    made = 0

    async def make(ctx: NodeContext, scopes=("read",), name: str | None = None) -> TestClient:
        nonlocal made
        made += 1
        token = await new_key(ctx, name or f"dms-{made}", scopes)
        client = TestClient(
            TestServer(create_web_app(ctx), host="127.0.0.1"),
            headers={"Authorization": f"Bearer {token}"},
        )
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def deliver(sender: NodeContext, recipient: NodeContext, envelope_id: str) -> str:
    """Hand an envelope and its files to the recipient and its 01 back, as delivery would;
    return the document's id at the recipient."""
    async with sender.store.read() as conn:
        raw = await get_envelope_raw(conn, envelope_id)
        doc = await get_document(conn, envelope_id)
    for attachment in service.stored_body(doc).attachments:
        target = recipient.blobs.path(attachment.blob)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sender.blobs.path(attachment.blob).read_bytes())
    receipt = await service.receive_envelope(recipient, raw, via="direct")
    await service.receive_status(sender, receipt, via="direct")
    return envelope_id


def metadata(number: str = "05", subject: str = "V/v họp giao ban"):
    return dataclasses.replace(letter(), number=number, subject=subject)


async def sent_and_delivered(units: Units, files=(), **kw) -> str:
    """A letter from A to B, delivered: its id (the same at both)."""
    doc_id = await service.send_document(
        units.ctx[A], metadata(**kw), [B], files=list(files), actor="vt"
    )
    return await deliver(units.ctx[A], units.ctx[B], doc_id)
