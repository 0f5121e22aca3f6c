"""Fixtures for the clerk's page tests: two units with stores, accounts and a test client."""

from __future__ import annotations

import re

import nacl.pwhash.argon2id as argon2id
import pytest
from aiohttp.test_utils import TestClient, TestServer

from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.storage import outbox
from lienthong.storage.documents import get_document, get_envelope_raw
from lienthong.storage.users import add_user
from tests.node.helpers import Clock, make_context, make_directory

A, B = "000.00.02.H53", "000.00.03.H53"
PASSWORD = "mat-khau-rat-dai"
ACCOUNTS = {"vt": "clerk", "ld": "leader", "qt": "admin"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Delays:
    """Records the login delays instead of waiting them out."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


@pytest.fixture
async def units(tmp_path):
    keys = {code: NodeKeys.generate() for code in (A, B)}
    directory = make_directory(NodeKeys.generate(), keys)
    clock = Clock()
    ctxs = {}
    for code, k in keys.items():
        ctx = await make_context(tmp_path, code, k, directory, clock)
        for name, role in ACCOUNTS.items():
            await add_user(
                ctx.store,
                name,
                PASSWORD,
                role=role,
                display_name=f"Người dùng {name}",
                actor="test",
                opslimit=argon2id.OPSLIMIT_MIN,
                memlimit=argon2id.MEMLIMIT_MIN,
            )
        ctxs[code] = ctx
    yield ctxs
    for ctx in ctxs.values():
        await ctx.store.close()


@pytest.fixture
async def make_client():
    clients: list[TestClient] = []

    async def make(ctx, **options) -> TestClient:
        client = TestClient(TestServer(create_web_app(ctx, sleep=Delays(), **options)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD):
    page = await client.get("/login")
    token = csrf_of(await page.text())
    return await client.post(
        "/login",
        data={"csrf": token, "username": username, "password": password, "next": "/"},
        allow_redirects=False,
    )


async def page_csrf(client: TestClient, path: str = "/") -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return csrf_of(await response.text())


async def deliver(sender, recipient, envelope_id: str) -> None:
    """Hand an envelope and its blobs to the recipient and its 01 back, as delivery would."""
    async with sender.store.read() as conn:
        raw = await get_envelope_raw(conn, envelope_id)
        doc = await get_document(conn, envelope_id)
    for attachment in service.stored_body(doc).attachments:
        target = recipient.blobs.path(attachment.blob)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sender.blobs.path(attachment.blob).read_bytes())
    receipt = await service.receive_envelope(recipient, raw, via="direct")
    await service.receive_status(sender, receipt, via="direct")


async def return_statuses(recipient, sender) -> None:
    """Carry every status the recipient queued for the sender back to it."""
    code = sender.config.code
    async with recipient.store.read() as conn:
        due = await outbox.due_for(conn, code, recipient.clock() + 10**9, 100)
    for item in due:
        if item.kind == "status":
            await service.receive_status(sender, item.raw, via="direct")
