"""The clerk's page and the gateway, between real nodes over mutual TLS: A's compose page
offers the Government Office (outside the directory) apart from the units; a document
composed to it goes to the gateway C, leaves C's outgoing folder as edXML, and A's document
page shows C's answer naming the Office "qua cổng kết nối"; the integration API addresses
it the same way (docs/GATEWAY.md)."""

from __future__ import annotations

import json

import nacl.pwhash.argon2id as argon2id
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.config import Config, validate
from lienthong.node.unit import documents as service
from lienthong.node.unit import external
from lienthong.node.unit.gateway import Gateway, Spool
from lienthong.node.web import create_web_app
from lienthong.protocol.document import _metadata_v2
from lienthong.storage import outbox
from lienthong.storage.api_keys import add_key
from lienthong.storage.documents import get_document, list_documents
from lienthong.storage.users import add_user
from tests.node.tls_federation import A, B, C, federation, letter
from tests.node.unit.test_gateway import UNLISTED, VPCP, package_to, with_gateway
from tests.node.web.test_compose_official import ISSUER, official_form
from tests.node.web.test_web_support import PASSWORD, Delays, login, page_csrf


async def test_a_clerk_sends_to_an_outside_organisation_through_the_gateway(tmp_path):
    """The Office is offered under "Cơ quan ngoài tỉnh (qua cổng kết nối)"; the document
    composed to it is sealed to C alone, C's gateway writes its package, and A's page shows
    C's 01 with the Office's code, "qua cổng kết nối"."""
    async with federation(tmp_path, serve_units=True) as fed:
        with_gateway(fed)
        a = fed.units[A]
        unit = {"code": A, "name": "Văn phòng", **ISSUER}
        a.ctx.config = Config(a.ctx.config.data_dir, validate({"unit": unit}))
        await add_user(
            a.ctx.store, "vt", PASSWORD, role="clerk", display_name="Nguyễn Thị Trang",
            actor="test", opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip
        client = TestClient(TestServer(create_web_app(a.ctx, sleep=Delays())))
        await client.start_server()
        try:
            await login(client, "vt")
            page = await (await client.get("/compose")).text()
            assert "Cơ quan ngoài tỉnh (qua cổng kết nối)" in page
            assert f'value="{VPCP.code}"' in page and VPCP.name in page

            token = await page_csrf(client, "/compose")
            response = await client.post(
                "/compose", data=official_form(token, to=(VPCP.code,)), allow_redirects=False
            )
            assert response.status == 303, await response.text()
            confirm = await (await client.get(response.headers["Location"])).text()
            assert VPCP.name in confirm
            response = await client.post(
                response.headers["Location"], data={"csrf": token}, allow_redirects=False
            )
            assert response.status == 303, await response.text()
            doc_id = response.headers["Location"].split("/documents/")[1].split("?")[0]
            assert await a.engine.deliver(C) is True

            gateway = Gateway(
                fed.units[C].ctx, spool=Spool(tmp_path / "out", tmp_path / "in", None, 1)
            )
            await gateway.pass_on()
            assert [p.name for p in (tmp_path / "out").iterdir()] == [
                f"{A}_{doc_id}_{VPCP.code}.edxml"
            ]
            assert await fed.units[C].engine.deliver(A) is True
            page = await (await client.get(f"/documents/{doc_id}")).text()
            assert f'<span class="code">{VPCP.code}</span> (qua cổng kết nối)' in page
        finally:
            await client.close()


async def test_a_dms_sends_to_an_outside_organisation_through_the_api(tmp_path):
    """POST /api/v1/documents with the Office's code: 201, the envelope queued to C alone
    with gateway.to naming the Office; a code no gateway carries is a 4xx problem naming
    it, with nothing stored."""
    async with federation(tmp_path, serve_units=True) as fed:
        with_gateway(fed)
        a = fed.units[A]
        async with a.ctx.store.write() as tx:
            _key, token = await add_key(tx, "dms", ("send",), actor="test", at=a.ctx.clock())
        client = TestClient(
            TestServer(create_web_app(a.ctx), host="127.0.0.1"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        await client.start_server()
        try:
            body = {"metadata": _metadata_v2(letter()), "recipients": [VPCP.code]}
            r = await client.post(
                "/api/v1/documents", data=json.dumps(body), headers={"Idempotency-Key": "g-1"}
            )
            assert r.status == 201, await r.text()
            doc_id = (await r.json())["id"]
            async with a.ctx.store.read() as conn:
                assert [row.recipient for row in await outbox.rows_for(conn, doc_id)] == [C]
                doc = await get_document(conn, doc_id)
            metadata = service.stored_body(doc).metadata
            assert external.addressed_to(metadata) == (VPCP.code,)

            body["recipients"] = [UNLISTED]
            r = await client.post(
                "/api/v1/documents", data=json.dumps(body), headers={"Idempotency-Key": "g-2"}
            )
            assert 400 <= r.status < 500 and UNLISTED in await r.text()
            async with a.ctx.store.read() as conn:
                assert len(await list_documents(conn, direction="out")) == 1
        finally:
            await client.close()


async def test_a_document_from_outside_shows_where_it_came_from(tmp_path):
    """A package from the Office dropped into C's incoming folder reaches B; B's page
    names the Office as its author and C as the gateway it came through."""
    async with federation(tmp_path, serve_units=True) as fed:
        with_gateway(fed)
        b = fed.units[B]
        await add_user(
            b.ctx.store, "vt", PASSWORD, role="clerk", display_name="Lê Văn Tâm",
            actor="test", opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN,
        )  # fmt: skip
        gateway = Gateway(fed.units[C].ctx, spool=Spool(tmp_path / "out", tmp_path / "in", None, 1))
        (tmp_path / "in" / "vpcp.edxml").write_bytes(package_to([B]))
        assert await gateway.take_in() == 1
        assert await fed.units[C].engine.deliver(B) is True
        async with b.ctx.store.read() as conn:
            (doc,) = await list_documents(conn, direction="in")
        client = TestClient(TestServer(create_web_app(b.ctx, sleep=Delays())))
        await client.start_server()
        try:
            await login(client, "vt")
            page = await (await client.get(f"/documents/{doc.id}")).text()
            assert f"Văn bản của {VPCP.name} ({VPCP.code}), nhận qua cổng kết nối {C}" in page
        finally:
            await client.close()
